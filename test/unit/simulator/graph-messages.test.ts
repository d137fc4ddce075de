import assert from 'node:assert/strict';
import { useSimulator } from '../../support/simulator';
import { delegatedToken, get, type Json } from './graph-helpers';

describe('simulated Graph: messages, folders and query options', () => {
  const sim = useSimulator();
  let token: string;
  const user = () => sim().state.defaultUser.id;
  const store = () => sim().state.graph.store;

  beforeEach(() => {
    sim().state.graph.reset();
    sim().state.clock.reset();
    token = delegatedToken(sim());
  });

  it('GET /me/messages/{id} → 200 the message in Graph shape with W/"changeKey" etag', async () => {
    const created = store().createMessage(user(), { subject: 'Holiday hours', from: 'Dana Swope <danas@contoso.example>', body: 'Hello' });
    const res = await get(sim(), token, `/me/messages/${created.id}`);
    assert.equal(res.status, 200);
    const m = res.data as Json;
    assert.match(String(m.id), /^AAMkA[\w-]{100,}AAA=$/);
    assert.equal(m['@odata.etag'], `W/"${m.changeKey}"`);
    assert.equal(m.subject, 'Holiday hours');
    assert.deepEqual(m.from, { emailAddress: { name: 'Dana Swope', address: 'danas@contoso.example' } });
    assert.deepEqual(m.body, { contentType: 'text', content: 'Hello' });
    assert.equal(m.isRead, false);
    assert.equal(m.receivedDateTime, m.createdDateTime);
    assert.equal(m.parentFolderId, store().folder(user(), 'inbox')!.id);
    assert.match(String(m['@odata.context']), /\/\$metadata#users\('.+'\)\/messages\/\$entity$/);
  });

  it('an update changes changeKey, etag and lastModifiedDateTime', async () => {
    const created = store().createMessage(user(), { subject: 'a' });
    sim().state.clock.advance(60_000);
    const updated = store().updateMessage(user(), created.id!, { isRead: true });
    assert.notEqual(updated.changeKey, created.changeKey);
    assert.notEqual(updated['@odata.etag'], created['@odata.etag']);
    assert.ok(updated.lastModifiedDateTime! > created.lastModifiedDateTime!);
    const res = await get(sim(), token, `/me/messages/${created.id}`);
    assert.equal(res.data.isRead, true);
  });

  it("GET /me/mailFolders('Inbox'), /me/mailFolders/inbox and /me/mailFolders/{id} → the same folder with counts", async () => {
    store().createMessage(user(), {});
    store().createMessage(user(), { isRead: true });
    const id = store().folder(user(), 'inbox')!.id;
    for (const path of ["/me/mailFolders('Inbox')", '/me/mailFolders/INBOX', `/me/mailFolders/${id}`, "/me/mailFolders(%27inbox%27)"]) {
      const res = await get(sim(), token, path);
      assert.equal(res.status, 200, path);
      assert.equal(res.data.id, id);
      assert.equal(res.data.displayName, 'Inbox');
      assert.equal(res.data.totalItemCount, 2);
      assert.equal(res.data.unreadItemCount, 1);
    }
    const list = await get(sim(), token, '/me/mailFolders');
    assert.deepEqual((list.data.value as Json[]).map((f) => f.displayName), ['Inbox', 'Drafts', 'Sent Items', 'Deleted Items']);
    assert.equal((await get(sim(), token, '/me/mailFolders/nope')).data.error.code, 'ErrorItemNotFound');
  });

  it('GET /me/mailFolders/{id}/messages lists only that folder', async () => {
    store().createMessage(user(), { subject: 'in' });
    store().createMessage(user(), { subject: 'sent', folder: 'sentitems' });
    const inbox = await get(sim(), token, "/me/mailFolders('inbox')/messages");
    assert.deepEqual((inbox.data.value as Json[]).map((m) => m.subject), ['in']);
    const all = await get(sim(), token, '/me/messages');
    assert.equal((all.data.value as Json[]).length, 2);
  });

  it('GET /me/messages pages 10 by default, newest first, through absolute $skip nextLinks on the simulator host', async () => {
    const base = Date.parse('2026-01-01T00:00:00Z');
    for (let i = 0; i < 25; i++) store().createMessage(user(), { subject: `m${i}`, receivedDateTime: new Date(base + i * 1000).toISOString() });
    const subjects: string[] = [];
    let url: string | undefined = '/me/messages';
    let pages = 0;
    while (url) {
      const res = await get(sim(), token, url);
      assert.equal(res.status, 200);
      subjects.push(...(res.data.value as Json[]).map((m) => String(m.subject)));
      url = res.data['@odata.nextLink'];
      if (url) assert.ok(url.startsWith(`${sim().graphBaseUrl}/me/messages?`) && url.includes('%24skip='), url);
      pages += 1;
    }
    assert.equal(pages, 3);
    assert.deepEqual(subjects, Array.from({ length: 25 }, (_, i) => `m${24 - i}`));
  });

  it('$top=7 with $filter and $orderby keeps the query in nextLinks and pages through every match', async () => {
    const base = Date.parse('2026-01-01T00:00:00Z');
    for (let i = 0; i < 20; i++) store().createMessage(user(), { subject: `m${i}`, receivedDateTime: new Date(base + i * 60_000).toISOString() });
    let url: string | undefined = '/me/messages?$filter=receivedDateTime ge 2026-01-01T00:05:00Z&$orderby=receivedDateTime asc&$top=7';
    const got: string[] = [];
    while (url) {
      const res = await get(sim(), token, url);
      assert.equal(res.status, 200, JSON.stringify(res.data));
      assert.ok((res.data.value as Json[]).length <= 7);
      got.push(...(res.data.value as Json[]).map((m) => String(m.subject)));
      url = res.data['@odata.nextLink'];
    }
    assert.deepEqual(got, Array.from({ length: 15 }, (_, i) => `m${i + 5}`));
  });

  it('$filter on dates: ge/gt/le/lt/eq with and, and booleans (isRead eq false)', async () => {
    store().createMessage(user(), { subject: 'old', receivedDateTime: '2026-01-01T00:00:00Z' });
    store().createMessage(user(), { subject: 'mid', receivedDateTime: '2026-01-02T00:00:00Z', isRead: true });
    store().createMessage(user(), { subject: 'new', receivedDateTime: '2026-01-03T00:00:00Z' });
    const subjects = async (filter: string): Promise<string[]> => {
      const res = await get(sim(), token, `/me/messages?$filter=${encodeURIComponent(filter)}`);
      assert.equal(res.status, 200, JSON.stringify(res.data));
      return (res.data.value as Json[]).map((m) => String(m.subject)).sort();
    };
    assert.deepEqual(await subjects('receivedDateTime ge 2026-01-02T00:00:00Z'), ['mid', 'new']);
    assert.deepEqual(await subjects('receivedDateTime gt 2026-01-02T00:00:00Z'), ['new']);
    assert.deepEqual(await subjects('receivedDateTime le 2026-01-02T00:00:00.000z'), ['mid', 'old']);
    assert.deepEqual(await subjects('receivedDateTime lt 2026-01-02T01:00:00+01:00'), ['old']);
    assert.deepEqual(await subjects('receivedDateTime eq 2026-01-03T00:00:00Z'), ['new']);
    assert.deepEqual(await subjects('receivedDateTime ge 2026-01-01T12:00:00Z and receivedDateTime lt 2026-01-02T12:00:00Z'), ['mid']);
    assert.deepEqual(await subjects('isRead eq false'), ['new', 'old']);
    assert.deepEqual(await subjects('isRead eq false and subject eq \'new\''), ['new']);
  });

  it("$filter with a quoted date → 400 incompatible types; with '+' sent raw → 400 syntax error; malformed date → 400", async () => {
    const quoted = await get(sim(), token, "/me/messages?$filter=receivedDateTime ge '2026-01-01T00:00:00Z'");
    assert.equal(quoted.status, 400);
    assert.equal(quoted.data.error.code, 'BadRequest');
    assert.equal(quoted.data.error.message, "A binary operator with incompatible types was detected. Found operand types 'Edm.DateTimeOffset' and 'Edm.String' for operator kind 'GreaterThanOrEqual'.");
    assert.ok(quoted.data.error.innerError['request-id']);
    const plus = await get(sim(), token, '/me/messages?$filter=receivedDateTime ge 2026-01-01T00:00:00+02:00');
    assert.equal(plus.status, 400);
    assert.match(plus.data.error.message, /^Syntax error at position \d+ in 'receivedDateTime ge 2026-01-01T00:00:00 02:00'\.$/);
    const encoded = await get(sim(), token, '/me/messages?$filter=receivedDateTime ge 2026-01-01T00:00:00%2B02:00');
    assert.equal(encoded.status, 200);
    const malformed = await get(sim(), token, '/me/messages?$filter=receivedDateTime ge 2026-13-45T00:00:00Z');
    assert.equal(malformed.status, 400);
    assert.match(malformed.data.error.message, /^The DateTimeOffset text '2026-13-45T00:00:00Z' should be in format/);
    const garbage = await get(sim(), token, '/me/messages?$filter=receivedDateTime ge');
    assert.equal(garbage.status, 400);
  });

  it('$orderby not leading $filter → 400 InefficientFilter; leading → 200', async () => {
    const bad = await get(sim(), token, '/me/messages?$filter=isRead eq false and receivedDateTime ge 2026-01-01T00:00:00Z&$orderby=receivedDateTime desc');
    assert.equal(bad.status, 400);
    assert.equal(bad.data.error.code, 'InefficientFilter');
    assert.equal(bad.data.error.message, 'The restriction or sort order is too complex for this operation.');
    const good = await get(sim(), token, '/me/messages?$filter=receivedDateTime ge 2026-01-01T00:00:00Z and isRead eq false&$orderby=receivedDateTime desc');
    assert.equal(good.status, 200);
  });

  it('$top outside 1–1000 → 400; $select keeps id, @odata.etag and the selected fields', async () => {
    store().createMessage(user(), { subject: 's' });
    assert.equal((await get(sim(), token, '/me/messages?$top=0')).status, 400);
    assert.equal((await get(sim(), token, '/me/messages?$top=1001')).status, 400);
    assert.equal((await get(sim(), token, '/me/messages?$top=abc')).status, 400);
    const res = await get(sim(), token, '/me/messages?$select=subject,isRead&$top=1000');
    assert.equal(res.status, 200);
    assert.deepEqual(Object.keys((res.data.value as Json[])[0]).sort(), ['@odata.etag', 'id', 'isRead', 'subject']);
  });

  it('Prefer: odata.maxpagesize=N sets the page size and answers Preference-Applied', async () => {
    for (let i = 0; i < 5; i++) store().createMessage(user(), {});
    const res = await get(sim(), token, '/me/messages', { Prefer: 'odata.maxpagesize=2' });
    assert.equal((res.data.value as Json[]).length, 2);
    assert.equal(res.headers['preference-applied'], 'odata.maxpagesize=2');
    assert.ok(res.data['@odata.nextLink']);
  });

  it('a late-visible message is absent from $filter listings for N simulated seconds, then appears with its original time', async () => {
    const late = store().createMessage(user(), { subject: 'late' }, { lateVisibleSeconds: 120 });
    const filter = `/me/messages?$filter=receivedDateTime ge ${new Date(Date.parse(late.receivedDateTime!) - 1000).toISOString()}`;
    assert.deepEqual((await get(sim(), token, filter)).data.value, []);
    assert.equal((await get(sim(), token, `/me/messages/${late.id}`)).status, 200);
    sim().state.clock.advance(121_000);
    const after = await get(sim(), token, filter);
    assert.deepEqual((after.data.value as Json[]).map((m) => [m.subject, m.receivedDateTime]), [['late', late.receivedDateTime]]);
  });

  it('GET an unknown or deleted message → 404 ErrorItemNotFound', async () => {
    const m = store().createMessage(user(), {});
    store().deleteMessage(user(), m.id!);
    const res = await get(sim(), token, `/me/messages/${m.id}`);
    assert.equal(res.status, 404);
    assert.equal(res.data.error.code, 'ErrorItemNotFound');
  });
});
