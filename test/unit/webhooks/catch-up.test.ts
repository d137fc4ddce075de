import assert from 'node:assert/strict';
import { CATCH_UP_SLACK_MS, advanceBookmark, catchUpCursor, catchUpQuery, versionKey } from '../../../src/core/webhooks/catch-up';
import { MAX_SEEN, dedupeKey } from '../../../src/core/changes/filter-engine';

describe('core/webhooks/catch-up', () => {
  it('catchUpQuery: Outlook collections get a lastModifiedDateTime $filter; drive and other resources none', () => {
    assert.deepEqual(catchUpQuery('users/u1/messages'), {
      objectType: 'messages',
      url: "/users/u1/messages?$filter=lastModifiedDateTime ge ${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}",
    });
    assert.equal(catchUpQuery("me/mailFolders('Inbox')/messages")?.objectType, 'messages');
    assert.equal(catchUpQuery('/users/u1/events')?.objectType, 'events');
    assert.equal(catchUpQuery('me/contactFolders/f1/contacts')?.objectType, 'contacts');
    for (const other of ['me/drive/root', 'teams/t/channels/c/messages', 'users', 'me/messages/m1']) {
      assert.equal(catchUpQuery(other), undefined, other);
    }
  });

  it('catchUpQuery: every resource form maps to its catch-up query (issue 15 item 5): a query, a folder by name, a user', () => {
    const window = "lastModifiedDateTime ge ${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}";
    assert.deepEqual(catchUpQuery('me/messages?$select=subject,from'), {
      objectType: 'messages',
      url: `/me/messages?$filter=${window}&$select=subject,from,id,lastModifiedDateTime,createdDateTime`,
    });
    assert.deepEqual(catchUpQuery('me/messages?$filter=isRead eq false'), { objectType: 'messages', url: `/me/messages?$filter=(isRead eq false) and ${window}` });
    assert.deepEqual(catchUpQuery("me/mailFolders('Inbox')/messages"), { objectType: 'messages', url: `/me/mailFolders('Inbox')/messages?$filter=${window}` });
    assert.deepEqual(catchUpQuery('users/8ee44408-0679-472c-bc2a-692812af3437/events'), {
      objectType: 'events',
      url: `/users/8ee44408-0679-472c-bc2a-692812af3437/events?$filter=${window}`,
    });
    assert.equal(catchUpQuery("users/u1/mailFolders('Inbox')/messages?$select=subject")?.objectType, 'messages');
  });

  it('catchUpCursor: the window opens a minute before the last-heard instant, at it for a first bookmark', () => {
    assert.deepEqual(catchUpCursor(100_000), { mode: 'filter', watermark: 100_000 - CATCH_UP_SLACK_MS, seen: [], startedAt: 100_000 - CATCH_UP_SLACK_MS });
    assert.deepEqual(catchUpCursor(100_000, true), { mode: 'filter', watermark: 100_000, seen: [], startedAt: 100_000 });
  });

  it('advanceBookmark: moves forward only, remembers delivered versions inside the window, drops older ones', () => {
    const first = advanceBookmark(undefined, 1_000_000);
    assert.equal(first.startedAt, 1_000_000, 'a first bookmark opens at its instant');
    const later = advanceBookmark(first, 1_100_000, { objectId: 'm1', updatedMs: 1_099_000 });
    assert.equal(later.watermark, 1_100_000 - CATCH_UP_SLACK_MS);
    assert.deepEqual(later.seen, [[dedupeKey('m1', 1_099_000), 1_099_000]]);
    const back = advanceBookmark(later, 900_000);
    assert.equal(back.watermark, later.watermark, 'an earlier instant does not move the window back');
    const far = advanceBookmark(later, 1_200_000);
    assert.deepEqual(far.seen, [], 'versions older than the new window are forgotten');
  });

  it('advanceBookmark keeps at most MAX_SEEN versions', () => {
    let bookmark = advanceBookmark(undefined, 0);
    for (let i = 0; i < MAX_SEEN + 10; i += 1) bookmark = advanceBookmark(bookmark, 0, { objectId: `m${i}`, updatedMs: 1 });
    assert.equal(bookmark.seen.length, MAX_SEEN);
  });

  it('versionKey: id + etag, undefined without an etag', () => {
    assert.equal(versionKey('m1', 'W/"x"'), 'm1\nW/"x"');
    assert.equal(versionKey('m1', undefined), undefined);
    assert.equal(versionKey('m1', ''), undefined);
  });
});
