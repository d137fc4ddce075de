import assert from 'node:assert/strict';
import axios, { type AxiosResponse } from 'axios';
import type { SimChange } from '../../../src/simulator/state';
import { useSimulator } from '../../support/simulator';
import { delegatedToken, get, type Json } from './graph-helpers';

describe('simulated Graph: control API (/_sim)', () => {
  const sim = useSimulator();
  const upn = 'adele@contoso.example';
  const call = (method: 'get' | 'post' | 'patch' | 'delete', path: string, data?: unknown): Promise<AxiosResponse> =>
    axios.request({ method, url: `${sim().controlUrl}${path}`, data, validateStatus: () => true, timeout: 10_000 });
  let token: string;

  beforeEach(async () => {
    assert.equal((await call('post', '/reset')).status, 204);
    token = delegatedToken(sim());
  });

  it('POST/PATCH/DELETE /_sim/users/{upn}/messages create, update and delete, each emitting one SimChange', async () => {
    const changes: SimChange[] = [];
    const listener = (c: SimChange): void => void changes.push(c);
    sim().state.changes.on('change', listener);
    try {
      const created = await call('post', `/users/${upn}/messages`, { subject: 'Hi', from: 'bob@contoso.example', to: ['adele@contoso.example'] });
      assert.equal(created.status, 201);
      const id = created.data.id as string;
      const patched = await call('patch', `/users/${upn}/messages/${id}`, { isRead: true });
      assert.equal(patched.status, 200);
      assert.equal(patched.data.isRead, true);
      assert.equal((await get(sim(), token, `/me/messages/${id}`)).data.isRead, true);
      assert.equal((await call('delete', `/users/${upn}/messages/${id}`)).status, 204);
      assert.equal((await get(sim(), token, `/me/messages/${id}`)).status, 404);
      assert.deepEqual(changes.map((c) => [c.kind, c.changeType, c.id, c.userId]), [
        ['message', 'created', id, sim().state.defaultUser.id],
        ['message', 'updated', id, sim().state.defaultUser.id],
        ['message', 'deleted', id, sim().state.defaultUser.id],
      ]);
      assert.equal(changes[0].parentId, sim().state.graph.store.folder(upn, 'inbox')!.id);
      assert.equal(changes[1].etag, patched.data['@odata.etag']);
    } finally {
      sim().state.changes.off('change', listener);
    }
  });

  it('bulk create with count adds that many messages', async () => {
    const res = await call('post', `/users/${upn}/messages`, { count: 250, subject: 'bulk' });
    assert.equal(res.status, 201);
    assert.deepEqual(res.data, { created: 250 });
    assert.equal(sim().state.graph.store.user(upn).messages.size, 250);
    assert.deepEqual((await call('post', `/users/${upn}/drive/items`, { count: 30, name: 'f.txt' })).data, { created: 30 });
    assert.deepEqual((await call('post', `/users/${upn}/events`, { count: 3 })).data, { created: 3 });
    assert.equal((await call('post', `/users/${upn}/contacts`, { count: 0 })).status, 400);
    assert.equal(sim().state.graph.store.user(upn).driveItems.size, 31);
  });

  it('events, contacts and drive items through the control API appear in Graph', async () => {
    const event = await call('post', `/users/${upn}/events`, { subject: 'Standup', start: '2026-12-01T09:00:00Z', end: '2026-12-01T09:15:00Z' });
    assert.equal(event.status, 201);
    const events = await get(sim(), token, '/me/calendar/events');
    assert.deepEqual((events.data.value as Json[]).map((e) => e.subject), ['Standup']);
    assert.equal((await get(sim(), token, `/me/events/${event.data.id}`)).data.subject, 'Standup');
    const view = await get(sim(), token, '/me/calendarView?startDateTime=2026-12-01T00:00:00Z&endDateTime=2026-12-02T00:00:00Z');
    assert.equal((view.data.value as Json[]).length, 1);
    assert.equal((await call('patch', `/users/${upn}/events/${event.data.id}`, { subject: 'Daily' })).data.subject, 'Daily');

    const contact = await call('post', `/users/${upn}/contacts`, { displayName: 'Pat Kim', emailAddresses: ['pat@fabrikam.example'] });
    assert.equal(contact.status, 201);
    const got = await get(sim(), token, `/me/contacts/${contact.data.id}`);
    assert.equal(got.data.givenName, 'Pat');
    assert.deepEqual(got.data.emailAddresses, [{ name: 'pat@fabrikam.example', address: 'pat@fabrikam.example' }]);

    const folder = await call('post', `/users/${upn}/drive/items`, { name: 'Docs', folder: true });
    const file = await call('post', `/users/${upn}/drive/items`, { name: 'a.txt', parentId: folder.data.id, content: 'hello' });
    assert.equal(file.status, 201);
    const children = await get(sim(), token, `/me/drive/items/${folder.data.id}/children`);
    assert.deepEqual((children.data.value as Json[]).map((i) => [i.name, i.size]), [['a.txt', 5]]);
    const rootChildren = await get(sim(), token, '/me/drive/root/children');
    assert.deepEqual((rootChildren.data.value as Json[]).map((i) => i.name), ['Docs']);
    const updated = await call('patch', `/users/${upn}/drive/items/${file.data.id}`, { content: 'hello world' });
    assert.notEqual(updated.data.eTag, file.data.eTag);
    assert.notEqual(updated.data.cTag, file.data.cTag);
    assert.deepEqual((await get(sim(), token, '/me/drive/items/root')).data.root, {});
    assert.equal((await get(sim(), token, '/me/drive/root')).data.folder.childCount, 1);
    const drive = await get(sim(), token, '/me/drive');
    assert.equal(drive.data.id, sim().state.graph.store.user(upn).driveId);
    assert.equal((await call('delete', `/users/${upn}/drive/items/${folder.data.id}`)).status, 204);
    assert.equal((await get(sim(), token, `/me/drive/items/${file.data.id}`)).data.error.code, 'itemNotFound');
  });

  it('bad input → 400 with the field named, unknown user or object → 404, malformed JSON → 400; nothing is created', async () => {
    const unknownField = await call('post', `/users/${upn}/messages`, { subjct: 'typo' });
    assert.equal(unknownField.status, 400);
    assert.match(unknownField.data.error.message, /Unknown field 'subjct'/);
    const wrongType = await call('post', `/users/${upn}/messages`, { isRead: 'yes' });
    assert.equal(wrongType.status, 400);
    assert.match(wrongType.data.error.message, /'isRead' must be boolean/);
    assert.equal((await call('post', `/users/${upn}/messages`, { receivedDateTime: 'yesterday' })).status, 400);
    assert.equal((await call('post', '/users/nobody/messages', {})).status, 404);
    assert.equal((await call('patch', `/users/${upn}/messages/AAMkAnope`, { isRead: true })).status, 404);
    const malformed = await axios.post(`${sim().controlUrl}/users/${upn}/messages`, '{"subject":', {
      headers: { 'Content-Type': 'application/json' },
      validateStatus: () => true,
    });
    assert.equal(malformed.status, 400);
    assert.equal(sim().state.graph.store.user(upn).messages.size, 0);
  });

  it('POST /_sim/faults and DELETE /_sim/faults inject and clear faults; bad specs → 400', async () => {
    assert.equal((await call('post', '/faults', { kind: 'throttle', retryAfterSeconds: 5 })).status, 201);
    assert.equal((await call('get', '/faults')).data.value.length, 1);
    assert.equal((await call('delete', '/faults')).status, 204);
    assert.equal((await get(sim(), token, '/me')).status, 200);
    assert.equal((await call('post', '/faults', { kind: 'nope' })).status, 400);
    assert.equal((await call('post', '/faults', { concurrencyLimit: 2 })).status, 201);
    assert.equal(sim().state.graph.faults.concurrencyLimit, 2);
  });

  it('POST /_sim/clock advances or sets the simulated clock', async () => {
    const set = await call('post', '/clock', { set: '2027-01-01T00:00:00Z' });
    assert.equal(set.status, 200);
    assert.ok(set.data.now.startsWith('2027-01-01T00:00:0'));
    const advanced = await call('post', '/clock', { advanceMs: 3_600_000 });
    assert.ok(advanced.data.now.startsWith('2027-01-01T01:00:0'));
    const created = await call('post', `/users/${upn}/messages`, {});
    assert.ok(String(created.data.receivedDateTime).startsWith('2027-01-01T01:00:0'));
    assert.equal((await call('post', '/clock', { set: 'soon' })).status, 400);
  });

  it('POST /_sim/clock pins the clock half a second into a second; objects created then carry that whole second', async () => {
    const pinned = await call('post', '/clock', { set: '2027-03-04T05:06:07.500Z', frozen: true });
    assert.deepEqual(pinned.data, { now: '2027-03-04T05:06:07.500Z', frozen: true });
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual((await call('get', '/clock')).data, { now: '2027-03-04T05:06:07.500Z', frozen: true }, 'a pinned clock does not run');
    assert.equal((await call('post', '/clock', { advanceMs: 200 })).data.now, '2027-03-04T05:06:07.700Z');
    const message = await call('post', `/users/${upn}/messages`, {});
    assert.equal(message.data.createdDateTime, '2027-03-04T05:06:07Z');
    const resumed = await call('post', '/clock', { frozen: false });
    assert.equal(resumed.data.frozen, false);
    assert.equal((await call('post', '/clock', { frozen: 'yes' })).status, 400);
    assert.equal((await call('post', '/clock', {})).status, 400);
    await call('post', '/clock', { set: new Date().toISOString() });
  });

  it('GET /_sim/requests lists Graph requests (filterable by path), DELETE clears them', async () => {
    await call('delete', '/requests');
    await get(sim(), token, '/me/messages');
    await get(sim(), token, '/me/drive/root');
    const all = await call('get', '/requests');
    assert.deepEqual((all.data.value as Json[]).map((e) => e.path), ['/v1.0/me/messages', '/v1.0/me/drive/root']);
    const drive = await call('get', `/requests?path=${encodeURIComponent('/drive/')}`);
    assert.equal(drive.data.value.length, 1);
    assert.equal((await call('delete', '/requests')).status, 204);
    assert.deepEqual((await call('get', '/requests')).data.value, []);
  });

  it('GET /_sim/users/{upn} tells the drive, root, calendar and mail folder ids', async () => {
    const res = await call('get', `/users/${upn}`);
    assert.equal(res.status, 200);
    assert.equal(res.data.id, sim().state.defaultUser.id);
    assert.deepEqual(Object.keys(res.data.mailFolders), ['inbox', 'drafts', 'sentitems', 'deleteditems']);
    assert.match(res.data.driveId, /^b!/);
  });
});
