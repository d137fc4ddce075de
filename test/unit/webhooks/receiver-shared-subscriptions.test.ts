/**
 * Cluster mode of the webhook-in subscriptions (issue 17, `core/webhooks/subscription-owner`): receivers stand for the
 * same webhook-in node on several instances, each with its own Redis client on one real redis-server
 * (test/support/redis.ts), the simulated Graph recording every subscription request. One owner creates and renews;
 * a new owner adopts the stored subscription (no second create) and renews it; a stale owner's write is refused.
 */
import assert from 'node:assert/strict';
import axios from 'axios';
import { collectingReceiver } from '../../support/webhook-receiver';
import { useClusterReceivers, waitLong as waitFor } from '../../support/cluster-receivers';
import type { Ms365Event } from '../../../src/core/events';
import { StaleFenceError, type RedisSharedState } from '../../../src/core/state';
import { leaseNames } from '../../../src/core/state/types';
import { clientStateHash } from '../../../src/core/webhooks/subscription-manager';
import type { NotificationItem } from '../../../src/core/webhooks/notifications';

const TTL_MS = 1500;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('core/webhooks/receiver: one subscription owner per node across instances (Redis)', function () {
  this.timeout(60_000);
  const { sim, redis, states, endpoint, receivers, user } = useClusterReceivers('ws');

  const resource = () => `users/${user()}/messages`;

  /** One instance's receiver of node `wh1` (its own clientState: default clientStates differ per installation). */
  function instance(state: RedisSharedState, clientState: string) {
    const statuses: string[] = [];
    const { r, events, errors } = collectingReceiver(sim(), {
      clientState,
      notificationUrl: endpoint.url(),
      specs: [{ resource: resource(), changeType: 'created,updated' }],
      sharedSubscriptions: { open: async () => state, nodeId: 'wh1', ttlMs: TTL_MS },
      loadSubscriptions: async () => assert.fail('cluster mode reads the records from Redis'),
      saveSubscriptions: async () => assert.fail('cluster mode writes the records to Redis'),
      status: (fill, key, params) => void statuses.push(`${fill} ${key} ${JSON.stringify(params ?? {})}`),
    });
    receivers.push(r);
    return { r, events, statuses, errors, state };
  }

  /** Instance a started on its own: it owns node wh1 once its subscription is stored. */
  async function ownerA(what: string) {
    const stateA = await states.open('instance-a');
    const a = instance(stateA, 'state-a');
    await a.r.start();
    await waitFor(what, async () => a.r.owner && (await stored(stateA)).length === 1);
    return { stateA, a };
  }

  /** Instance b started after a. */
  async function startB() {
    const b = instance(await states.open('instance-b'), 'state-b');
    await b.r.start();
    return b;
  }

  async function subscriptionRequests() {
    const { data } = await axios.get<{ value: Array<{ method: string; path: string; status: number }> }>(`${sim().controlUrl}/requests`, { params: { path: '/subscriptions' } });
    return {
      creates: data.value.filter((e) => e.method === 'POST' && /\/subscriptions$/.test(e.path.split('?')[0]!)),
      renews: data.value.filter((e) => e.method === 'PATCH'),
      deletes: data.value.filter((e) => e.method === 'DELETE'),
    };
  }
  async function stored(state: RedisSharedState) {
    return (await state.subscriptions.read(leaseNames.subscriptions('wh1')))?.value ?? [];
  }
  const item = (subscriptionId: string, clientState: string, id: string): NotificationItem =>
    ({
      subscriptionId, clientState, tenantId: sim().state.tenantId, changeType: 'created',
      resource: `Users/${user()}/Messages/${id}`, resourceData: { '@odata.type': '#Microsoft.Graph.Message', id, '@odata.etag': 'W/"1"' },
    }) as NotificationItem;

  it('two instances: exactly one subscription at Graph; the other stands by naming the owner and accepts the owner\'s clientState', async () => {
    const a = instance(await states.open('instance-a'), 'state-a');
    const b = instance(await states.open('instance-b'), 'state-b');
    await Promise.all([a.r.start(), b.r.start()]);
    await waitFor('one owner with its subscription stored', async () => (a.r.owner || b.r.owner) && (await stored(a.state)).length === 1);
    const [owner, standby] = a.r.owner ? [a, b] : [b, a];
    await waitFor('the standby status', () => standby.statuses.some((s) => s.includes('standby ') && s.includes(owner.state.leases.owner)));
    assert.equal(standby.r.owner, false);
    assert.equal((await subscriptionRequests()).creates.length, 1, 'one create across the instances');
    const [record] = await stored(a.state);
    assert.equal(record!.resource, resource());
    assert.equal(record!.clientStateHash, clientStateHash(owner === a ? 'state-a' : 'state-b'), 'the hash, never the clientState');
    assert.ok(!JSON.stringify(await stored(a.state)).includes('state-a') && !JSON.stringify(await stored(a.state)).includes('state-b'));
    const simSubs = (await axios.get<Array<{ id: string }>>(`${sim().controlUrl}/subscriptions`)).data;
    assert.equal(simSubs.filter((s) => s.id === record!.id).length, 1);
    // The standby instance receives a notification of the owner's subscription with the owner's clientState.
    const ownerState = owner === a ? 'state-a' : 'state-b';
    await standby.r.accept({ items: [item(record!.id, ownerState, 'm1'), item(record!.id, 'forged', 'm2')], validationTokens: [] });
    assert.deepEqual(standby.events.map((e) => e.objectId), ['m1'], 'the owner\'s clientState accepted, a wrong one dropped');
    assert.match(standby.statuses.at(-1)!, /^yellow standbyReceived \{"owner":"instance-[ab]","received":2\}/);
    assert.deepEqual([...a.errors, ...b.errors], []);
  });

  it('the owner dies without releasing: after the lease TTL the other adopts the same subscription (no second create) and renews it', async () => {
    const { stateA, a } = await ownerA('a owns and stored its subscription');
    const b = await startB();
    await waitFor('b stands by', () => b.statuses.some((s) => s.includes('standby ')));
    const [record] = await stored(stateA);
    // "Killed": its Redis connection gone, nothing released; it can no longer confirm its lease and stops acting.
    const killedAt = Date.now();
    await stateA.close();
    await waitFor('b takes over', () => b.r.owner, 4 * TTL_MS);
    const failover = Date.now() - killedAt;
    assert.ok(failover >= TTL_MS - 300, `took over after ${failover} ms, not before the lease expired`);
    await waitFor('b renewed the adopted subscription', async () => (await subscriptionRequests()).renews.some((e) => e.path.includes(record!.id)));
    const requests = await subscriptionRequests();
    assert.equal(requests.creates.length, 1, 'no second create');
    assert.equal(requests.deletes.length, 0);
    assert.deepEqual(b.r.subscriptions.map((r) => r.id), [record!.id]);
    assert.equal(a.r.owner, false, 'the dead owner no longer acts');
    await waitFor('b shows its subscription', () => b.statuses.at(-1)!.startsWith('green subscriptions'));
    console.log(`      subscription owner failover: ${failover} ms (lease TTL ${TTL_MS} ms)`);
  });

  it('an owner paused past its lease (as SIGSTOP) knows it on resume; whoever owns next adopts (no second create)', async () => {
    const { stateA, a } = await ownerA('a owns');
    const b = await startB();
    await waitFor('b stands by', () => b.statuses.some((s) => s.includes('standby ')));
    await axios.delete(`${sim().controlUrl}/requests`);
    // The whole process blocked longer than the lease (both instances here: one process): Redis lets it expire.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, TTL_MS + 500);
    assert.equal(a.r.owner, false, 'on its own clock the lease is no longer sure: it does not act');
    await waitFor('a new owner (new fencing number) renewed the stored subscription', async () => (a.r.owner || b.r.owner) && (await subscriptionRequests()).renews.length > 0, 4 * TTL_MS);
    assert.ok(!(a.r.owner && b.r.owner));
    const requests = await subscriptionRequests();
    assert.equal(requests.creates.length, 0, 'no duplicate subscription');
    assert.equal((await stored(b.state)).length, 1);
  });

  /** a owns and stored its subscription; then its lease is deleted in Redis (a does not notice) and b starts. */
  async function staleOwnerA() {
    const { stateA, a } = await ownerA('a owns');
    const [record] = await stored(stateA);
    const name = leaseNames.subscriptions('wh1');
    await stateA.client.del(stateA.keys.lease(name));
    const b = await startB();
    return { stateA, a, record, name, b };
  }

  it('a stale owner\'s late write is refused by Redis: it stops acting and stands by; the new owner\'s record stays', async () => {
    // The lease expired in Redis without a's clock noticing (a pause its clock did not see, a skewed clock).
    const { stateA, a, record, name, b } = await staleOwnerA();
    await waitFor('b owns', () => b.r.owner);
    // b adopts the stored subscription and renews it: its record is the one under its own fencing number.
    await waitFor('b stored its record', async () => (await stateA.subscriptions.read(name))?.fence === (await stateA.leases.holder(name))?.fence);
    const written = await stateA.subscriptions.read(name);
    // a still thinks it owns: a lifecycle event makes it act and write; the write is refused.
    await a.r.accept({ items: [{ ...item(record!.id, 'state-a', 'x'), lifecycleEvent: 'reauthorizationRequired' } as NotificationItem], validationTokens: [] });
    assert.equal(a.r.owner, false, 'a stopped acting');
    assert.ok(a.errors.some((e) => /refused/.test(e)), a.errors.join('\n'));
    assert.deepEqual(await stateA.subscriptions.read(name), written, 'the record as the new owner wrote it');
    await waitFor('a stands by behind b', () => a.statuses.some((s) => s.includes('standby ') && s.includes(b.state.leases.owner)));
    const requests = await subscriptionRequests();
    assert.equal(requests.creates.length, 1, 'no duplicate subscription');
    await assert.rejects(
      stateA.subscriptions.save({ name, owner: stateA.leases.owner, fence: written!.fence - 1, ttlMs: TTL_MS }, []),
      (err: unknown) => err instanceof StaleFenceError,
    );
  });

  it('a stale owner that recreates a subscription and cannot store it deletes it again (no orphan at Graph)', async () => {
    const { stateA, a, record, name, b } = await staleOwnerA();
    await waitFor('b owns and renewed', async () => b.r.owner && (await subscriptionRequests()).renews.length > 0);
    const atGraph = async () => (await axios.get<Array<{ id: string }>>(`${sim().controlUrl}/subscriptions`)).data.map((s) => s.id).sort();
    const before = await atGraph();
    assert.ok(before.includes(record!.id));
    await a.r.accept({ items: [{ ...item(record!.id, 'state-a', 'x'), lifecycleEvent: 'subscriptionRemoved' } as NotificationItem], validationTokens: [] });
    assert.equal(a.r.owner, false);
    const requests = await subscriptionRequests();
    assert.equal(requests.creates.length, 2, 'the original and the stale owner\'s recreate');
    assert.equal(requests.deletes.length, 1, 'the unstored one deleted again');
    assert.deepEqual(await atGraph(), before, 'the stale owner\'s subscription is gone again at Graph');
    assert.deepEqual((await stored(stateA)).map((r) => r.id), [record!.id]);
  });

  describe('drive cursors shared (webhook-cursor leases)', () => {
    function driveInstance(state: RedisSharedState) {
      const { r, events, errors } = collectingReceiver(sim(), {
        elementKey: 'onedrivev2',
        clientState: 'drive-state',
        notificationUrl: endpoint.url(),
        sharedDriveCursors: { open: async () => state, nodeId: 'wd1', ttlMs: TTL_MS },
      });
      receivers.push(r);
      return { r, events, errors, state };
    }
    const driveItem = (): NotificationItem =>
      ({ subscriptionId: 'sub-d', clientState: 'drive-state', tenantId: sim().state.tenantId, changeType: 'updated', resource: `users/${user()}/drive/root`, resourceData: null }) as unknown as NotificationItem;
    const notify = (x: ReturnType<typeof driveInstance>) => x.r.accept({ items: [driveItem()], validationTokens: [] });

    it('one cursor in Redis for the instances: a change notified to both comes out once; each resumes where the other left', async () => {
      const a = driveInstance(await states.open('instance-a'));
      const b = driveInstance(await states.open('instance-b'));
      await notify(a); // starts the shared cursor
      const name = leaseNames.webhookCursor('wd1', `users/${user()}/drive/root`);
      assert.ok((await a.state.cursors.read(name))?.value.cursor, 'the cursor is in Redis');
      const f1 = sim().state.graph.store.createDriveItem(user(), { name: 'c1.txt', content: 'x' });
      await Promise.all([notify(a), notify(b)]);
      const all = () => [...a.events, ...b.events];
      assert.equal(all().filter((e) => e.objectId === f1.id).length, 1, 'resolved once across the two');
      const f2 = sim().state.graph.store.createDriveItem(user(), { name: 'c2.txt', content: 'x' });
      const resolver = a.events.some((e) => e.objectId === f1.id) ? b : a; // the one that did not resolve f1
      await notify(resolver);
      assert.deepEqual(resolver.events.map((e) => e.objectId), [f2.id], 'from the shared cursor: f1 not replayed');
      assert.deepEqual((await a.state.cursors.read(name))?.value.pending, []);
      assert.equal(await a.state.leases.holder(name), undefined, 'the lease is given back after each round');
      assert.deepEqual([...a.errors, ...b.errors], []);
    });

    it('a round another instance left pending (it died between the write and the send) is sent first, same eventIds', async () => {
      const a = driveInstance(await states.open('instance-a'));
      await notify(a);
      const name = leaseNames.webhookCursor('wd1', `users/${user()}/drive/root`);
      const f = sim().state.graph.store.createDriveItem(user(), { name: 'p1.txt', content: 'x' });
      // "Instance c": its round written before the send, then it died (lease never released: it expires).
      const c = await states.open('instance-c');
      const lease = (await c.leases.acquire(name, TTL_MS))!;
      const stored = (await c.cursors.read(name))!.value;
      const pending: Ms365Event = { eventId: 'pending-1', eventType: 'UPDATED', objectType: 'driveItems', objectId: 'left-behind', elementKey: 'onedrivev2', instanceName: 'unit', date: new Date().toISOString(), source: 'webhook', raw: {} } as Ms365Event;
      await c.cursors.save(lease, { cursor: stored.cursor, pending: [pending] });
      await c.close();
      const b = driveInstance(await states.open('instance-b'));
      await notify(b);
      assert.deepEqual(b.events.map((e) => e.eventId).slice(0, 1), ['pending-1'], 'the pending event first');
      assert.ok(b.events.some((e) => e.objectId === f.id), 'then the round');
      assert.deepEqual((await b.state.cursors.read(name))?.value.pending, []);
    });
  });
});
