/**
 * Cluster mode of the webhook-in catch-up bookmarks and lifecycle notifications (issue 17 items 3 and 5,
 * `core/webhooks/shared-bookmarks`, `subscription-owner` `handOver`/`drain`): receivers stand for the same webhook-in
 * node on two instances, each with its own Redis client on one real redis-server (test/support/redis.ts), the
 * simulated Graph behind both. The bookmark lives in Redis (advanced by whichever instance hears, never backwards);
 * a lifecycle notification that reaches the standby is handed to the owner at once, which reauthorizes, recreates or
 * catches up (the catch-up round its alone, fenced), without repeating what the standby delivered.
 */
import assert from 'node:assert/strict';
import axios from 'axios';
import { collectingReceiver } from '../../support/webhook-receiver';
import { useClusterReceivers, waitLong as waitFor } from '../../support/cluster-receivers';
import { dedupeKey } from '../../../src/core/changes/filter-engine';
import type { RedisSharedState } from '../../../src/core/state';
import { leaseNames } from '../../../src/core/state/types';
import type { NotificationItem } from '../../../src/core/webhooks/notifications';

const TTL_MS = 1500;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('core/webhooks/receiver: catch-up bookmarks and lifecycle notifications shared by instances (Redis)', function () {
  this.timeout(60_000);
  const { sim, redis, states, endpoint, receivers, user } = useClusterReceivers('wc');
  const store = () => sim().state.graph.store;

  const resource = () => `users/${user()}/messages`;
  const bookmarkName = () => leaseNames.webhookCursor('wc1', `catchup:${resource()}`);

  /** One instance's receiver of node `wc1`, as the node wires it with a cluster (same clientState on both here). */
  function instance(state: RedisSharedState) {
    const side: Array<{ topic: string; payload: Record<string, unknown> }> = [];
    const { r, events, errors } = collectingReceiver(sim(), {
      clientState: 'shared-state',
      fetchResource: true,
      notificationUrl: endpoint.url(),
      specs: [{ resource: resource(), changeType: 'created,updated' }],
      sharedSubscriptions: { open: async () => state, nodeId: 'wc1', ttlMs: TTL_MS },
      sharedDriveCursors: { open: async () => state, nodeId: 'wc1', ttlMs: TTL_MS },
      sendSide: (topic, payload) => void side.push({ topic, payload: payload as Record<string, unknown> }),
    });
    receivers.push(r);
    return { r, events, errors, side, state };
  }

  /** a owns node wc1 (subscription stored, first bookmark in Redis), b stands by. */
  async function ownerAndStandby() {
    const a = instance(await states.open('instance-a'));
    await a.r.start();
    await waitFor('a owns with its subscription and first bookmark', async () => a.r.owner && a.r.subscriptions.length === 1 && (await a.state.bookmarks.read(bookmarkName())) !== undefined);
    const b = instance(await states.open('instance-b'));
    await b.r.start();
    await waitFor('b stands by with the records', () => !b.r.owner && b.r.subscriptions.length === 1);
    return { a, b, subscriptionId: a.r.subscriptions[0]!.id };
  }

  const item = (subscriptionId: string, id: string, etag = 'W/"1"'): NotificationItem =>
    ({
      subscriptionId, clientState: 'shared-state', tenantId: sim().state.tenantId, changeType: 'created',
      resource: `Users/${user()}/Messages/${id}`, resourceData: { '@odata.type': '#Microsoft.Graph.Message', id, '@odata.etag': etag },
    }) as NotificationItem;
  const lifecycle = (subscriptionId: string, lifecycleEvent: string) =>
    ({ subscriptionId, clientState: 'shared-state', tenantId: sim().state.tenantId, lifecycleEvent }) as unknown as NotificationItem;

  async function requests(method: string, pathPart: string) {
    const { data } = await axios.get<{ value: Array<{ method: string; path: string }> }>(`${sim().controlUrl}/requests`, { params: { path: '/subscriptions' } });
    return data.value.filter((e) => e.method === method && e.path.includes(pathPart));
  }

  it('the bookmark is in Redis: any instance advances it and records what it delivered; it never moves back (Lua max)', async () => {
    const { a, b, subscriptionId } = await ownerAndStandby();
    const first = (await a.state.bookmarks.read(bookmarkName()))!;
    const m1 = store().createMessage(user(), { subject: 'to the standby' });
    await b.r.accept({ items: [item(subscriptionId, String(m1.id))], validationTokens: [] });
    assert.deepEqual(b.events.map((e) => e.objectId), [String(m1.id)]);
    const updated = Date.parse(String(m1.lastModifiedDateTime));
    await waitFor('the standby\'s delivery recorded in Redis', async () => (await a.state.bookmarks.read(bookmarkName()))!.seen.some(([key]) => key === dedupeKey(String(m1.id), updated)));
    const heard = (await a.state.bookmarks.read(bookmarkName()))!;
    assert.equal(heard.watermark, first.watermark, 'a notification less than the slack after the first bookmark does not move it');
    await a.state.bookmarks.advance(bookmarkName(), first.watermark + 120_000, []);
    await b.state.bookmarks.advance(bookmarkName(), first.watermark - 120_000, []);
    assert.equal((await a.state.bookmarks.read(bookmarkName()))!.watermark, first.watermark + 120_000, 'an older watermark does not move it back');
    assert.deepEqual([...a.errors, ...b.errors], []);
  });

  it('missed reaches the standby: handed to the owner, which catches up at once; the standby\'s delivery is not repeated', async () => {
    const { a, b, subscriptionId } = await ownerAndStandby();
    const notified = store().createMessage(user(), { subject: 'notified to the standby' });
    await b.r.accept({ items: [item(subscriptionId, String(notified.id))], validationTokens: [] });
    const inGap = store().createMessage(user(), { subject: 'in the gap' });
    await sleep(100); // the standby's bookmark write (off the notification's path) lands
    const sent = Date.now();
    await b.r.accept({ items: [lifecycle(subscriptionId, 'missed')], validationTokens: [] });
    assert.ok(b.side.some((s) => s.topic === 'lifecycle/missed'), 'reported on the receiving instance\'s output 2');
    await waitFor('the owner\'s catch-up report', () => a.side.some((s) => s.topic === 'lifecycle/catchup'), 5_000);
    const took = Date.now() - sent;
    assert.ok(took < 1_000, `the owner caught up ${took} ms after the standby received missed`);
    const all = [...a.events, ...b.events];
    assert.equal(all.filter((e) => e.objectId === String(inGap.id)).length, 1, 'the gap\'s mail once');
    assert.equal(all.filter((e) => e.objectId === String(notified.id)).length, 1, 'the standby\'s delivery not repeated by the owner\'s catch-up');
    assert.ok(a.events.some((e) => e.objectId === String(inGap.id)), 'by the owner');
    assert.ok(!b.side.some((s) => s.topic === 'lifecycle/catchup'), 'the standby runs no catch-up round');
    const record = (await a.state.cursors.read(bookmarkName()))!;
    assert.deepEqual(record.value.pending, [], 'the round is cleared after its send');
    assert.equal(record.value.cursor?.mode, 'filter', 'the round\'s cursor is stored (fenced)');
    assert.equal(await a.state.leases.holder(bookmarkName()), undefined, 'the round\'s lease is given back');
    console.log(`      missed at the standby → owner's catch-up: ${took} ms`);
    assert.deepEqual([...a.errors, ...b.errors], []);
  });

  it('reauthorizationRequired and subscriptionRemoved reach the standby: the owner reauthorizes and recreates within a second', async () => {
    const { a, b, subscriptionId } = await ownerAndStandby();
    let sent = Date.now();
    await b.r.accept({ items: [lifecycle(subscriptionId, 'reauthorizationRequired')], validationTokens: [] });
    await waitFor('the owner\'s reauthorize request', async () => (await requests('POST', `${subscriptionId}/reauthorize`)).length === 1, 5_000);
    const reauthorizedIn = Date.now() - sent;
    assert.ok(reauthorizedIn < 1_000, `reauthorized after ${reauthorizedIn} ms`);
    await axios.delete(`${sim().controlUrl}/requests`);
    sent = Date.now();
    await b.r.accept({ items: [lifecycle(subscriptionId, 'subscriptionRemoved')], validationTokens: [] });
    await waitFor('the owner recreated', () => a.side.some((s) => s.topic === 'subscription/recreated'), 5_000);
    const recreatedIn = Date.now() - sent;
    assert.ok(recreatedIn < 1_000, `recreated after ${recreatedIn} ms`);
    assert.equal((await requests('POST', '/subscriptions')).filter((e) => /\/subscriptions$/.test(e.path.split('?')[0]!)).length, 1, 'one create, by the owner');
    assert.notEqual(a.r.subscriptions[0]!.id, subscriptionId);
    await waitFor('the standby reads the new record', async () => (await b.r['ownership']!.records(a.r.subscriptions[0]!.id)).some((r) => r.id === a.r.subscriptions[0]!.id));
    console.log(`      standby → owner: reauthorized in ${reauthorizedIn} ms, recreated in ${recreatedIn} ms`);
    assert.deepEqual([...a.errors, ...b.errors], []);
  });

  it('handed over while the owner is dead: kept in Redis, the next owner acts on it when it takes over', async () => {
    const { a, b, subscriptionId } = await ownerAndStandby();
    await a.state.close(); // "killed": nothing released
    await b.r.accept({ items: [lifecycle(subscriptionId, 'reauthorizationRequired')], validationTokens: [] });
    await waitFor('b took over and reauthorized', async () => b.r.owner && (await requests('POST', `${subscriptionId}/reauthorize`)).length === 1, 4 * TTL_MS + 2_000);
    assert.equal(await b.state.client.llen(b.state.keys.lifecycle('wc1')), 0, 'drained');
    assert.equal(a.r.owner, false);
  });
});
