import assert from 'node:assert/strict';
import axios from 'axios';
import { useSimulator } from '../../support/simulator';
import { deltaRound, delegatedToken, get, type Json } from './graph-helpers';

describe('simulated Graph: delta queries', () => {
  const sim = useSimulator();
  let token: string;
  const user = () => sim().state.defaultUser.id;
  const store = () => sim().state.graph.store;

  beforeEach(() => {
    sim().state.graph.reset();
    sim().state.clock.reset();
    token = delegatedToken(sim());
  });

  describe('messages (/me/mailFolders/{id}/messages/delta)', () => {
    const url = "/me/mailFolders('Inbox')/messages/delta";

    it('first round pages through the folder with $skiptoken nextLinks, then a $deltatoken deltaLink', async () => {
      for (let i = 0; i < 23; i++) store().createMessage(user(), { subject: `m${i}` });
      store().createMessage(user(), { subject: 'other folder', folder: 'drafts' });
      const first = await get(sim(), token, url, { Prefer: 'odata.maxpagesize=10' });
      assert.equal(first.status, 200);
      assert.equal((first.data.value as Json[]).length, 10);
      assert.match(first.data['@odata.nextLink'], /\/me\/mailFolders\('Inbox'\)\/messages\/delta\?\$skiptoken=[\w-]+$/);
      const round = await deltaRound(sim(), token, url, { Prefer: 'odata.maxpagesize=10' });
      assert.equal(round.pages, 3);
      assert.equal(round.items.length, 23);
      assert.equal(new Set(round.items.map((m) => m.id)).size, 23);
      assert.ok(round.items.every((m) => m['@odata.type'] === '#microsoft.graph.message'));
      assert.match(round.deltaLink, /\?\$deltatoken=[\w-]+$/);
    });

    it('deltaLink returns exactly the created, updated and deleted messages since, last state only', async () => {
      const keep = store().createMessage(user(), { subject: 'keep' });
      const change = store().createMessage(user(), { subject: 'change' });
      const gone = store().createMessage(user(), { subject: 'gone' });
      const { deltaLink } = await deltaRound(sim(), token, url);
      const created = store().createMessage(user(), { subject: 'new' });
      store().updateMessage(user(), change.id!, { isRead: true });
      store().updateMessage(user(), change.id!, { subject: 'changed twice' });
      store().deleteMessage(user(), gone.id!);
      const round = await deltaRound(sim(), token, deltaLink);
      const byId = new Map(round.items.map((m) => [m.id, m]));
      assert.equal(round.items.length, 3);
      assert.equal(byId.get(created.id)?.subject, 'new');
      assert.equal(byId.get(change.id)?.subject, 'changed twice');
      assert.equal(byId.get(change.id)?.isRead, true);
      assert.deepEqual(byId.get(gone.id), { '@odata.type': '#microsoft.graph.message', id: gone.id, '@removed': { reason: 'deleted' } });
      assert.ok(!byId.has(keep.id));
      const idle = await deltaRound(sim(), token, round.deltaLink);
      assert.deepEqual(idle.items, []);
      assert.equal(idle.pages, 1);
    });

    it('the token remembers $select from the first call', async () => {
      store().createMessage(user(), { subject: 'a' });
      const { items, deltaLink } = await deltaRound(sim(), token, `${url}?$select=subject`);
      assert.deepEqual(Object.keys(items[0]).sort(), ['@odata.etag', '@odata.type', 'id', 'subject']);
      store().createMessage(user(), { subject: 'b' });
      const next = await deltaRound(sim(), token, deltaLink);
      assert.deepEqual(Object.keys(next.items[0]).sort(), ['@odata.etag', '@odata.type', 'id', 'subject']);
    });

    it('$filter=receivedDateTime ge X limits the first round and later rounds; other filters → 400', async () => {
      store().createMessage(user(), { subject: 'old', receivedDateTime: '2026-01-01T00:00:00Z' });
      store().createMessage(user(), { subject: 'new', receivedDateTime: '2026-03-01T00:00:00Z' });
      const first = await deltaRound(sim(), token, `${url}?$filter=receivedDateTime ge 2026-02-01T00:00:00Z`);
      assert.deepEqual(first.items.map((m) => m.subject), ['new']);
      store().createMessage(user(), { subject: 'late old', receivedDateTime: '2026-01-15T00:00:00Z' });
      store().createMessage(user(), { subject: 'newer', receivedDateTime: '2026-04-01T00:00:00Z' });
      const second = await deltaRound(sim(), token, first.deltaLink);
      assert.deepEqual(second.items.map((m) => m.subject), ['newer']);
      assert.equal((await get(sim(), token, `${url}?$filter=isRead eq false`)).status, 400);
    });

    it('refuses what message delta does not support, as Graph does: mailbox-wide delta, other $filter/$orderby, $search', async () => {
      // "message: delta" is per folder; Graph answers /me/messages/delta with this 400 (reference/graph.md §11.3).
      const wide = await get(sim(), token, '/me/messages/delta');
      assert.equal(wide.status, 400);
      assert.equal(wide.data.error.code, 'BadRequest');
      assert.equal(wide.data.error.message, "Unsupported request: Change tracking is not supported against 'microsoft.graph.message'.");
      const refused = async (query: string, option: string) => {
        const res = await get(sim(), token, `${url}?${query}`);
        assert.equal(res.status, 400, query);
        assert.equal(res.data.error.code, 'ErrorInvalidUrlQuery', query);
        assert.match(res.data.error.message, new RegExp(`'\\${option}' parameter`), query);
        assert.ok(res.data.error.innerError['request-id'], query);
      };
      await refused('$filter=isRead eq false', '$filter');
      await refused('$filter=receivedDateTime lt 2026-01-01T00:00:00Z', '$filter');
      await refused('$filter=receivedDateTime ge 2026-01-01T00:00:00Z and isRead eq false', '$filter');
      await refused('$orderby=receivedDateTime', '$orderby');
      await refused('$orderby=subject desc', '$orderby');
      await refused('$orderby=receivedDateTime desc,subject', '$orderby');
      await refused('$search="hello"', '$search');
      const ok = await get(sim(), token, `${url}?$filter=receivedDateTime gt 2026-01-01T00:00:00Z&$orderby=receivedDateTime desc`);
      assert.equal(ok.status, 200);
    });

    it('a malformed or foreign token → 400', async () => {
      assert.equal((await get(sim(), token, `${url}?$deltatoken=garbage`)).status, 400);
      const { deltaLink } = await deltaRound(sim(), token, url);
      const foreign = deltaLink.replace("mailFolders('Inbox')", "mailFolders('drafts')");
      assert.equal((await get(sim(), token, foreign)).status, 400);
    });
  });

  describe('calendarView (/me/calendarView/delta)', () => {
    const window = 'startDateTime=2026-12-01T00:00:00Z&endDateTime=2026-12-31T00:00:00Z';

    it('$select, $filter, $orderby, $search, $expand → 400 ("event: delta": not supported)', async () => {
      for (const option of ['$select=subject', '$filter=isAllDay eq false', '$orderby=start/dateTime', '$search="x"', '$expand=attachments']) {
        const res = await get(sim(), token, `/me/calendarView/delta?${window}&${option}`);
        assert.equal(res.status, 400, option);
        assert.equal(res.data.error.code, 'ErrorInvalidUrlQuery', option);
        assert.ok(res.data.error.message.includes(`'${option.split('=')[0]}'`), option);
      }
    });

    it('first call without startDateTime/endDateTime → 400 ErrorInvalidParameter', async () => {
      const res = await get(sim(), token, '/me/calendarView/delta');
      assert.equal(res.status, 400);
      assert.equal(res.data.error.code, 'ErrorInvalidParameter');
    });

    it('returns events in range; later rounds report changes, and @removed for deletions and out-of-range changes', async () => {
      const inside = store().createEvent(user(), { subject: 'inside', start: '2026-12-10T09:00:00Z', end: '2026-12-10T10:00:00Z' });
      const moved = store().createEvent(user(), { subject: 'moved', start: '2026-12-11T09:00:00Z', end: '2026-12-11T10:00:00Z' });
      store().createEvent(user(), { subject: 'outside', start: '2027-02-01T09:00:00Z', end: '2027-02-01T10:00:00Z' });
      const first = await deltaRound(sim(), token, `/me/calendarView/delta?${window}`);
      assert.deepEqual(first.items.map((e) => e.subject).sort(), ['inside', 'moved']);
      const e = first.items.find((x) => x.id === inside.id)!;
      assert.deepEqual(e.start, { dateTime: '2026-12-10T09:00:00.0000000', timeZone: 'UTC' });
      assert.equal(e['@odata.type'], '#microsoft.graph.event');
      assert.match(String(e['@odata.etag']), /^W\/"CQAAABYAAAD/);
      assert.ok(!first.deltaLink.includes('startDateTime'));

      store().updateEvent(user(), inside.id!, { subject: 'inside renamed' });
      store().updateEvent(user(), moved.id!, { start: '2027-03-01T09:00:00Z', end: '2027-03-01T10:00:00Z' });
      const late = store().createEvent(user(), { subject: 'late outside', start: '2027-04-01T09:00:00Z' });
      const second = await deltaRound(sim(), token, first.deltaLink);
      const byId = new Map(second.items.map((x) => [x.id, x]));
      assert.equal(byId.get(inside.id)?.subject, 'inside renamed');
      assert.deepEqual(byId.get(moved.id)?.['@removed'], { reason: 'deleted' });
      assert.deepEqual(byId.get(late.id)?.['@removed'], { reason: 'deleted' });

      store().deleteEvent(user(), inside.id!);
      const third = await deltaRound(sim(), token, second.deltaLink);
      assert.deepEqual(third.items, [{ '@odata.type': '#microsoft.graph.event', id: inside.id, '@removed': { reason: 'deleted' } }]);
    });
  });

  describe('contacts (/me/contactFolders/{id}/contacts/delta)', () => {
    it('first round lists contacts; later rounds return changes and @removed', async () => {
      const a = store().createContact(user(), { displayName: 'Ann Lee' });
      const b = store().createContact(user(), { displayName: 'Bo Chen' });
      const folderId = store().user(user()).contactFolderId;
      const first = await deltaRound(sim(), token, `/me/contactFolders/${folderId}/contacts/delta`);
      assert.deepEqual(first.items.map((c) => c.displayName).sort(), ['Ann Lee', 'Bo Chen']);
      store().updateContact(user(), a.id!, { jobTitle: 'CTO' });
      store().deleteContact(user(), b.id!);
      const second = await deltaRound(sim(), token, first.deltaLink);
      assert.deepEqual(second.items.map((c) => [c.id, c.jobTitle ?? c['@removed']]), [[a.id, 'CTO'], [b.id, { reason: 'deleted' }]]);
      const again = await deltaRound(sim(), token, `/me/contactFolders('${folderId}')/contacts/delta`);
      assert.deepEqual(again.items.map((c) => c.id), [a.id]);
    });

    it('/me/contacts/delta (not documented: "contact: delta" is per folder) → 400 as Graph refuses an untracked delta', async () => {
      store().createContact(user(), { displayName: 'Ann Lee' });
      const res = await get(sim(), token, '/me/contacts/delta');
      assert.equal(res.status, 400);
      assert.equal(res.data.error.code, 'BadRequest');
      assert.equal(res.data.error.message, "Unsupported request: Change tracking is not supported against 'microsoft.graph.contact'.");
    });
  });

  describe('drive (/me/drive/root/delta)', () => {
    it('first round includes the root and every item; deleted items later carry the deleted facet', async () => {
      const folder = store().createDriveItem(user(), { name: 'Reports', folder: true });
      const file = store().createDriveItem(user(), { name: 'q1.xlsx', parentId: folder.id!, content: 'abc', mimeType: 'application/vnd.ms-excel' });
      const first = await deltaRound(sim(), token, '/me/drive/root/delta');
      const byName = new Map(first.items.map((i) => [i.name, i]));
      assert.ok(byName.get('root')?.root);
      assert.deepEqual(byName.get('Reports')?.folder, { childCount: 1 });
      const f = byName.get('q1.xlsx')!;
      assert.equal(f.size, 3);
      assert.equal((f.file as Json).mimeType, 'application/vnd.ms-excel');
      assert.match(String(f.eTag), /^"\{[0-9A-F-]{36}\},\d+"$/);
      assert.match(String(f.cTag), /^"c:\{[0-9A-F-]{36}\},\d+"$/);
      assert.equal((f.parentReference as Json).id, folder.id);
      assert.equal((f.parentReference as Json).path, undefined);
      assert.ok((f.fileSystemInfo as Json).createdDateTime);
      assert.match(first.deltaLink, /\/me\/drive\/root\/delta\?token=[\w-]+$/);

      store().deleteDriveItem(user(), file.id!);
      const second = await deltaRound(sim(), token, first.deltaLink);
      const deleted = second.items.find((i) => i.id === file.id)!;
      assert.deepEqual(deleted.deleted, {});
      // OneDrive for Business omits name and cTag of deleted items ("driveItem: delta" remarks, §11.5).
      assert.equal(deleted.name, undefined);
      assert.equal(deleted.cTag, undefined);
      assert.ok(second.items.some((i) => i.id === folder.id), 'the parent folder changed (child count)');
      assert.equal(new Set(second.items.map((i) => i.id)).size, second.items.length);
    });

    it('?token=latest → empty value and a deltaLink that returns only later changes', async () => {
      store().createDriveItem(user(), { name: 'before.txt' });
      const latest = await get(sim(), token, '/me/drive/root/delta?token=latest');
      assert.equal(latest.status, 200);
      assert.deepEqual(latest.data.value, []);
      assert.ok(latest.data['@odata.deltaLink']);
      const after = store().createDriveItem(user(), { name: 'after.txt' });
      const round = await deltaRound(sim(), token, latest.data['@odata.deltaLink']);
      assert.deepEqual(round.items.filter((i) => !i.root).map((i) => i.id), [after.id]);
    });

    it("a timestamp token returns items changed since then; delta(token='...') links work like ?token=", async () => {
      sim().state.clock.set(Date.parse('2026-11-01T00:00:00Z'));
      store().createDriveItem(user(), { name: 'old.txt' });
      sim().state.clock.set(Date.parse('2026-11-02T00:00:00Z'));
      const recent = store().createDriveItem(user(), { name: 'recent.txt' });
      const since = await deltaRound(sim(), token, '/me/drive/root/delta?token=2026-11-01T12%3A00%3A00Z');
      assert.deepEqual(since.items.filter((i) => !i.root).map((i) => i.name), ['recent.txt']);
      const tokenText = new URL(since.deltaLink).searchParams.get('token')!;
      store().updateDriveItem(user(), recent.id!, { content: 'more' });
      const fnStyle = await deltaRound(sim(), token, `/me/drive/root/delta(token='${tokenText}')`);
      assert.deepEqual(fnStyle.items.filter((i) => !i.root).map((i) => [i.name, i.size]), [['recent.txt', 4]]);
      assert.match(fnStyle.deltaLink, /\/me\/drive\/root\/delta\?token=[\w-]+$/);
    });

    it("driveDeltaLinkStyle 'function' gives delta(token='...') deltaLinks that work", async () => {
      const put = await axios.put(`${sim().controlUrl}/graph/options`, { driveDeltaLinkStyle: 'function' });
      assert.equal(put.data.driveDeltaLinkStyle, 'function');
      const first = await deltaRound(sim(), token, '/me/drive/root/delta', { Prefer: 'odata.maxpagesize=1' });
      assert.match(first.deltaLink, /\/me\/drive\/root\/delta\(token='[\w-]+'\)$/);
      const item = store().createDriveItem(user(), { name: 'later.txt' });
      const second = await deltaRound(sim(), token, first.deltaLink);
      assert.ok(second.items.some((i) => i.id === item.id));
      assert.match(second.deltaLink, /\/me\/drive\/root\/delta\(token='[\w-]+'\)$/);
    });

    it('/drives/{id}/root/delta is the same feed as /me/drive/root/delta', async () => {
      store().createDriveItem(user(), { name: 'x.txt' });
      const driveId = store().user(user()).driveId;
      const round = await deltaRound(sim(), token, `/drives/${driveId}/root/delta`);
      assert.deepEqual(round.items.map((i) => i.name).sort(), ['root', 'x.txt']);
      assert.ok(round.deltaLink.includes(`/drives/${driveId}/root/delta?token=`));
    });
  });
});
