import assert from 'node:assert/strict';
import axios from 'axios';
import { useSimulator } from '../../support/simulator';
import { deltaRound, delegatedToken, get, type Json } from './graph-helpers';

describe('simulated Graph: faults', () => {
  const sim = useSimulator();
  let token: string;
  const user = () => sim().state.defaultUser.id;
  const store = () => sim().state.graph.store;
  const faults = () => sim().state.graph.faults;

  beforeEach(() => {
    sim().state.graph.reset();
    token = delegatedToken(sim());
  });

  it('throttle fault → 429 with Retry-After and the exact §7 body, then the next request succeeds', async () => {
    faults().add({ kind: 'throttle', retryAfterSeconds: 10 });
    const res = await get(sim(), token, '/me/messages');
    assert.equal(res.status, 429);
    assert.equal(res.headers['retry-after'], '10');
    assert.equal(res.data.error.code, 'TooManyRequests');
    assert.equal(res.data.error.message, 'Please retry again later.');
    assert.deepEqual(Object.keys(res.data.error.innerError).sort(), ['code', 'date', 'message', 'request-id', 'status']);
    assert.equal(res.data.error.innerError.code, '429');
    assert.equal(res.data.error.innerError.status, '429');
    assert.equal(res.data.error.innerError.message, 'Please retry after');
    assert.equal((await get(sim(), token, '/me/messages')).status, 200);
  });

  it('faults match method and path regex, and count down', async () => {
    faults().add({ kind: 'unavailable', count: 2, path: '/drive/' });
    assert.equal((await get(sim(), token, '/me/messages')).status, 200);
    const first = await get(sim(), token, '/me/drive/root');
    assert.equal(first.status, 503);
    assert.equal(first.headers['retry-after'], undefined);
    assert.equal((await get(sim(), token, '/me/drive/root')).status, 503);
    assert.equal((await get(sim(), token, '/me/drive/root')).status, 200);
    faults().add({ kind: 'unavailable', retryAfterSeconds: 3, method: 'POST' });
    assert.equal((await get(sim(), token, '/me')).status, 200);
    assert.equal(faults().list().length, 1);
  });

  it('503 with Retry-After and 504 faults', async () => {
    faults().add({ kind: 'unavailable', retryAfterSeconds: 2 });
    faults().add({ kind: 'gatewayTimeout' });
    const unavailable = await get(sim(), token, '/me');
    assert.equal(unavailable.status, 503);
    assert.equal(unavailable.headers['retry-after'], '2');
    assert.equal((await get(sim(), token, '/me')).status, 504);
  });

  it('bad fault specs are refused with a clear TypeError', () => {
    assert.throws(() => faults().add({ kind: 'explode' as 'delay' }), /fault kind must be one of/);
    assert.throws(() => faults().add({ kind: 'delay' }), /delayMs/);
    assert.throws(() => faults().add({ kind: 'throttle', path: '(' }), /valid regular expression/);
    assert.throws(() => faults().add({ kind: 'throttle', count: 0 }), /positive integer/);
  });

  it('a 5th concurrent request to one mailbox → 429 ApplicationThrottled with Retry-After; another mailbox is unaffected', async () => {
    faults().add({ kind: 'delay', delayMs: 400, count: 4, path: '/me/' });
    const slow = Array.from({ length: 4 }, () => get(sim(), token, '/me/messages'));
    await waitFor(() => (sim().state.graph.inFlight.get(user()) ?? 0) === 4);
    const fifth = await get(sim(), token, '/me/messages');
    assert.equal(fifth.status, 429);
    assert.equal(fifth.headers['retry-after'], '1');
    assert.equal(fifth.data.error.code, 'ApplicationThrottled');
    const otherUser = delegatedToken(sim(), sim().state.users[1].id);
    assert.equal((await get(sim(), otherUser, '/me/messages')).status, 200);
    assert.deepEqual((await Promise.all(slow)).map((r) => r.status), [200, 200, 200, 200]);
    assert.equal(sim().state.graph.inFlight.get(user()), undefined);
  });

  it('concurrencyLimit 0 turns the limit off', async () => {
    faults().concurrencyLimit = 0;
    faults().add({ kind: 'delay', delayMs: 200, count: 6 });
    const all = await Promise.all(Array.from({ length: 6 }, () => get(sim(), token, '/me')));
    assert.deepEqual(all.map((r) => r.status), [200, 200, 200, 200, 200, 200]);
  });

  it('deltaGone on messages delta → 410 SyncStateNotFound', async () => {
    const { deltaLink } = await deltaRound(sim(), token, '/me/mailFolders/inbox/messages/delta');
    faults().add({ kind: 'deltaGone' });
    assert.equal((await get(sim(), token, '/me/messages')).status, 200, 'non-delta calls do not consume it');
    const res = await get(sim(), token, deltaLink);
    assert.equal(res.status, 410);
    assert.equal(res.data.error.code, 'SyncStateNotFound');
    assert.match(res.data.error.message, /^The sync state generation is not found; generation=\d+;\[highest=\d+\]/);
    assert.equal((await get(sim(), token, deltaLink)).status, 200);
  });

  it('deltaGone on drive delta → 410 resyncChangesApplyDifferences with a Location to a fresh enumeration', async () => {
    store().createDriveItem(user(), { name: 'a.txt' });
    const { deltaLink } = await deltaRound(sim(), token, '/me/drive/root/delta');
    faults().add({ kind: 'deltaGone', path: '/drive/' });
    const res = await get(sim(), token, deltaLink);
    assert.equal(res.status, 410);
    assert.equal(res.data.error.code, 'resyncChangesApplyDifferences');
    const location = String(res.headers.location);
    assert.ok(location.startsWith(`${sim().graphBaseUrl}/drives/`), location);
    const fresh = await deltaRound(sim(), token, location);
    assert.deepEqual(fresh.items.map((i) => i.name).sort(), ['a.txt', 'root']);
  });

  it('delta tokens from before a reset → 410 (SyncStateNotFound for mail, resyncChangesApplyDifferences for drive)', async () => {
    store().createMessage(user(), {});
    const mail = await deltaRound(sim(), token, '/me/mailFolders/inbox/messages/delta');
    const drive = await deltaRound(sim(), token, '/me/drive/root/delta');
    sim().state.graph.reset();
    const mailRes = await get(sim(), token, mail.deltaLink);
    assert.equal(mailRes.status, 410);
    assert.equal(mailRes.data.error.code, 'SyncStateNotFound');
    const driveRes = await get(sim(), token, drive.deltaLink);
    assert.equal(driveRes.status, 410);
    assert.equal(driveRes.data.error.code, 'resyncChangesApplyDifferences');
    assert.ok(String(driveRes.headers.location).includes(store().user(user()).driveId));
  });

  it('deltaReplay repeats an item; deltaEmptyPage inserts an empty nextLink page; the round still completes', async () => {
    for (let i = 0; i < 3; i++) store().createMessage(user(), { subject: `m${i}` });
    faults().add({ kind: 'deltaEmptyPage' });
    faults().add({ kind: 'deltaReplay' });
    const empty = await get(sim(), token, '/me/mailFolders/inbox/messages/delta');
    assert.deepEqual(empty.data.value, []);
    assert.ok(empty.data['@odata.nextLink']);
    const round = await deltaRound(sim(), token, empty.data['@odata.nextLink']);
    assert.equal(round.items.length, 4);
    assert.equal(new Set(round.items.map((m: Json) => m.id)).size, 3);
  });

  it('POST /_sim/tokens/revoke makes every issued token answer 401', async () => {
    const res = await axios.post(`${sim().controlUrl}/tokens/revoke`);
    assert.equal(res.status, 204);
    const after = await get(sim(), token, '/me');
    assert.equal(after.status, 401);
    assert.equal(after.data.error.code, 'InvalidAuthenticationToken');
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
