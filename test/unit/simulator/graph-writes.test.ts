import assert from 'node:assert/strict';
import axios, { type AxiosResponse } from 'axios';
import type { SimChange } from '../../../src/simulator/state';
import { useSimulator } from '../../support/simulator';
import { deltaRound, delegatedToken, get } from './graph-helpers';

describe('simulated Graph: client writes (PATCH/DELETE)', () => {
  const sim = useSimulator();
  let token: string;
  const user = () => sim().state.defaultUser.id;
  const store = () => sim().state.graph.store;
  const send = (method: 'patch' | 'delete' | 'post', path: string, data?: unknown, headers: Record<string, string> = {}): Promise<AxiosResponse> =>
    axios.request({ method, url: `${sim().graphBaseUrl}${path}`, data, headers: { Authorization: `Bearer ${token}`, ...headers }, validateStatus: () => true, timeout: 10_000 });

  beforeEach(() => {
    sim().state.graph.reset();
    token = delegatedToken(sim());
  });

  it('PATCH /me/messages/{id} {isRead:true} → 200 the updated message with a new etag; delta reports it', async () => {
    const m = store().createMessage(user(), { subject: 'read me' });
    const { deltaLink } = await deltaRound(sim(), token, '/me/mailFolders/inbox/messages/delta');
    const changes: SimChange[] = [];
    const listener = (c: SimChange): void => void changes.push(c);
    sim().state.changes.on('change', listener);
    try {
      const res = await send('patch', `/me/messages/${m.id}`, { isRead: true, flag: { flagStatus: 'flagged' } });
      assert.equal(res.status, 200);
      assert.equal(res.data.isRead, true);
      assert.deepEqual(res.data.flag, { flagStatus: 'flagged' });
      assert.notEqual(res.data['@odata.etag'], m['@odata.etag']);
      assert.deepEqual(changes.map((c) => c.changeType), ['updated']);
    } finally {
      sim().state.changes.off('change', listener);
    }
    const round = await deltaRound(sim(), token, deltaLink);
    assert.deepEqual(round.items.map((i) => [i.id, i.isRead]), [[m.id, true]]);
  });

  it('PATCH with an unknown property, a wrong type or malformed JSON → 400 and nothing changes', async () => {
    const m = store().createMessage(user(), { subject: 'keep' });
    assert.equal((await send('patch', `/me/messages/${m.id}`, { parentFolderId: 'x' })).data.error.code, 'ErrorInvalidProperty');
    assert.equal((await send('patch', `/me/messages/${m.id}`, { isRead: 'yes' })).status, 400);
    const malformed = await send('patch', `/me/messages/${m.id}`, '{"isRead":', { 'Content-Type': 'application/json' });
    assert.equal(malformed.status, 400);
    assert.equal(malformed.data.error.code, 'BadRequest');
    assert.equal(store().user(user()).messages.get(m.id!)?.obj['@odata.etag'], m['@odata.etag']);
  });

  it('POST /me/messages/{id}/move → 201 with a new id; source folder delta says @removed, destination delta has it', async () => {
    const m = store().createMessage(user(), { subject: 'move me' });
    const inbox = await deltaRound(sim(), token, '/me/mailFolders/inbox/messages/delta');
    const archive = await deltaRound(sim(), token, '/me/mailFolders/deleteditems/messages/delta');
    const res = await send('post', `/me/messages/${m.id}/move`, { destinationId: 'deleteditems' });
    assert.equal(res.status, 201);
    assert.notEqual(res.data.id, m.id);
    assert.equal(res.data.subject, 'move me');
    assert.equal(res.data.parentFolderId, store().folder(user(), 'deleteditems')!.id);
    assert.deepEqual((await deltaRound(sim(), token, inbox.deltaLink)).items, [{ '@odata.type': '#microsoft.graph.message', id: m.id, '@removed': { reason: 'deleted' } }]);
    assert.deepEqual((await deltaRound(sim(), token, archive.deltaLink)).items.map((i) => i.id), [res.data.id]);
    assert.equal((await send('post', `/me/messages/${res.data.id}/move`, {})).status, 400);
    assert.equal((await send('post', `/me/messages/${res.data.id}/move`, { destinationId: 'nowhere' })).status, 404);
  });

  it('DELETE a message, event, contact and drive item → 204, then GET → 404; unsupported writes → 405', async () => {
    const m = store().createMessage(user(), {});
    const e = store().createEvent(user(), {});
    const c = store().createContact(user(), { displayName: 'A B' });
    const d = store().createDriveItem(user(), { name: 'x.txt' });
    for (const path of [`/me/messages/${m.id}`, `/me/events/${e.id}`, `/me/contacts/${c.id}`, `/me/drive/items/${d.id}`]) {
      assert.equal((await send('delete', path)).status, 204, path);
      assert.equal((await get(sim(), token, path)).status, 404, path);
      assert.equal((await send('delete', path)).status, 404, path);
    }
    assert.equal((await send('post', '/me/messages', { subject: 'new' })).status, 405);
  });
});
