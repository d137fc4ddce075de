/**
 * Every date the simulated Graph writes has the precision and form Microsoft documents for its resource (issue 14 item
 * 1; `graph/timestamps.ts`): "Get message", "Get contact", "Get driveItem" in whole seconds; "Create event" with up to
 * 7 fraction digits and `start`/`end` as `dateTimeTimeZone`. Read over HTTP, created and updated with the clock pinned
 * half a second into a second, so a millisecond would show.
 */
import assert from 'node:assert/strict';
import { useSimulator } from '../../support/simulator';
import { delegatedToken, get, type Json } from './graph-helpers';

const WHOLE_SECOND = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
const TICKS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{1,7}Z$/;
const DATE_TIME_TIME_ZONE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}$/;

describe('simulated Graph: dates at Microsoft precision per resource', () => {
  const sim = useSimulator();
  let token: string;
  const user = () => sim().state.defaultUser.id;
  const store = () => sim().state.graph.store;
  const second = '2027-05-06T07:08:09Z';

  beforeEach(() => {
    sim().state.graph.reset();
    sim().state.clock.freeze(Date.parse('2027-05-06T07:08:09.500Z'));
    token = delegatedToken(sim());
  });
  afterEach(() => sim().state.clock.reset());

  it('messages: created, lastModified, received and sent in whole seconds (given dates too), also after an update and a move', async () => {
    const m = store().createMessage(user(), { subject: 'a' });
    const given = store().createMessage(user(), { subject: 'b', receivedDateTime: '2027-05-01T10:00:00.987Z', sentDateTime: '2027-05-01T09:59:58.123Z' });
    const message = (await get(sim(), token, `/me/messages/${m.id}`)).data as Json;
    for (const field of ['createdDateTime', 'lastModifiedDateTime', 'receivedDateTime', 'sentDateTime']) assert.equal(message[field], second, field);
    const old = (await get(sim(), token, `/me/messages/${given.id}`)).data as Json;
    assert.deepEqual([old.receivedDateTime, old.sentDateTime], ['2027-05-01T10:00:00Z', '2027-05-01T09:59:58Z']);
    sim().state.clock.advance(1250);
    store().updateMessage(user(), String(m.id), { isRead: true });
    assert.equal(((await get(sim(), token, `/me/messages/${m.id}`)).data as Json).lastModifiedDateTime, '2027-05-06T07:08:10Z');
    const moved = store().moveMessage(user(), String(m.id), 'drafts');
    assert.match(String(moved.lastModifiedDateTime), WHOLE_SECOND);
  });

  it('contacts: created and lastModified in whole seconds', async () => {
    const c = store().createContact(user(), { displayName: 'Ada Lovelace' });
    const contact = (await get(sim(), token, `/me/contacts/${c.id}`)).data as Json;
    assert.deepEqual([contact.createdDateTime, contact.lastModifiedDateTime], [second, second]);
    sim().state.clock.advance(700);
    assert.equal(store().updateContact(user(), String(c.id), { jobTitle: 'x' }).lastModifiedDateTime, '2027-05-06T07:08:10Z');
  });

  it('drive items: created, lastModified and fileSystemInfo in whole seconds, the root and touched folders too', async () => {
    const folder = store().createDriveItem(user(), { name: 'f', folder: true });
    const file = store().createDriveItem(user(), { name: 'a.txt', parentId: String(folder.id), content: 'x' });
    for (const id of [String(file.id), String(folder.id)]) {
      const item = (await get(sim(), token, `/me/drive/items/${id}`)).data as Json;
      const fsInfo = item.fileSystemInfo as Json;
      assert.deepEqual([item.createdDateTime, item.lastModifiedDateTime, fsInfo.createdDateTime, fsInfo.lastModifiedDateTime], [second, second, second, second]);
    }
    const root = (await get(sim(), token, '/me/drive/root')).data as Json;
    assert.match(String(root.lastModifiedDateTime), WHOLE_SECOND);
    sim().state.clock.advance(600);
    const edited = store().updateDriveItem(user(), String(file.id), { content: 'y' });
    assert.deepEqual([edited.lastModifiedDateTime, edited.fileSystemInfo?.lastModifiedDateTime], ['2027-05-06T07:08:10Z', '2027-05-06T07:08:10Z']);
  });

  it('events: created and lastModified with up to 7 fraction digits (the instant to the millisecond); start and end as dateTimeTimeZone', async () => {
    const e = store().createEvent(user(), { subject: 'Planning', start: '2027-05-07T10:00:00Z', end: '2027-05-07T10:30:00Z' });
    const event = (await get(sim(), token, `/me/events/${e.id}`)).data as Json;
    for (const field of ['createdDateTime', 'lastModifiedDateTime']) {
      assert.match(String(event[field]), TICKS, field);
      assert.equal(Date.parse(String(event[field])), Date.parse('2027-05-06T07:08:09.500Z'), field);
    }
    assert.deepEqual(event.start, { dateTime: '2027-05-07T10:00:00.0000000', timeZone: 'UTC' });
    assert.match(String((event.end as Json).dateTime), DATE_TIME_TIME_ZONE);
    sim().state.clock.advance(1);
    const patched = store().updateEvent(user(), String(e.id), { start: '2027-05-07T11:00:00Z', end: '2027-05-07T11:30:00Z' });
    assert.match(String(patched.lastModifiedDateTime), TICKS);
    assert.equal(Date.parse(String(patched.lastModifiedDateTime)), Date.parse('2027-05-06T07:08:09.501Z'));
    assert.deepEqual(patched.start, { dateTime: '2027-05-07T11:00:00.0000000', timeZone: 'UTC' });
  });
});
