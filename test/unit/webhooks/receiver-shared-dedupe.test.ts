/**
 * Cluster mode of `core/webhooks/receiver` (issue 17 item 3): two receivers stand for the same webhook-in node on two
 * instances, each with its own Redis client on one real redis-server (test/support/redis.ts) and the simulated Graph.
 * A notification that reaches both comes out once (also when both get it at the same moment); a new version is a new
 * event; with Redis stopped, notifications still come out (at least once) and each instance reports it once.
 */
import assert from 'node:assert/strict';
import { useSimulator } from '../../support/simulator';
import { useRedisServer, useRedisStates } from '../../support/redis';
import { collectingReceiver } from '../../support/webhook-receiver';
import type { RedisSharedState } from '../../../src/core/state';
import { SHARED_DEDUPE_TTL_S } from '../../../src/core/webhooks/receiver';
import type { NotificationItem } from '../../../src/core/webhooks/notifications';

describe('core/webhooks/receiver: notification dedupe shared by instances (Redis)', function () {
  this.timeout(30_000);
  const sim = useSimulator();
  const redis = useRedisServer();
  const states = useRedisStates(redis, 'wd');
  const user = () => sim().state.defaultUser.id;

  /** One instance's receiver of node `wh1`, its dedupe keys scoped as the adapter scopes them. */
  function instance(state: RedisSharedState) {
    return collectingReceiver(sim(), { sharedDedupe: { claim: (key, ttl) => state.dedupe.claim(`webhook-in:wh1:${key}`, ttl) } });
  }
  const item = (id: string, etag: string): NotificationItem =>
    ({
      subscriptionId: 'sub-1', clientState: 'unit-state', tenantId: sim().state.tenantId, changeType: 'updated',
      resource: `Users/${user()}/Messages/${id}`, resourceData: { '@odata.type': '#Microsoft.Graph.Message', id, '@odata.etag': etag },
    }) as NotificationItem;
  const batch = (...items: NotificationItem[]) => ({ items, validationTokens: [] });

  it('a notification that reaches two instances comes out once; a new version comes out again; the claim lasts past Graph\'s 4 h of retries', async () => {
    const a = instance(await states.open('a'));
    const b = instance(await states.open('b'));
    await a.r.accept(batch(item('m1', 'W/"1"')));
    await b.r.accept(batch(item('m1', 'W/"1"')));
    assert.deepEqual([a.events.length, b.events.length], [1, 0]);
    // Both at the same moment, several items: each comes out once across the two.
    const items = ['m2', 'm3', 'm4', 'm5'].map((id) => item(id, 'W/"1"'));
    await Promise.all([a.r.accept(batch(...items)), b.r.accept(batch(...items))]);
    const ids = [...a.events, ...b.events].map((e) => e.objectId).sort();
    assert.deepEqual(ids, ['m1', 'm2', 'm3', 'm4', 'm5']);
    await b.r.accept(batch(item('m1', 'W/"2"')));
    assert.deepEqual(b.events.map((e) => e.objectId).filter((id) => id === 'm1'), ['m1'], 'a new etag is a new change');
    assert.ok(SHARED_DEDUPE_TTL_S >= 4 * 60 * 60);
    const state = await states.open('probe');
    const ttl = await state.client.ttl(state.keys.dedupe('webhook-in:wh1:sub-1|updated|m1|W/"1"'));
    assert.ok(ttl > 4 * 60 * 60 && ttl <= SHARED_DEDUPE_TTL_S, `claimed for ${ttl} s`);
    assert.deepEqual([...a.errors, ...b.errors], []);
  });

  it('Redis stopped: notifications still come out (at least once), one error per instance until it is back', async () => {
    const a = instance(await states.open('a'));
    const b = instance(await states.open('b'));
    await redis().stop();
    try {
      await a.r.accept(batch(item('x1', 'W/"1"'), item('x2', 'W/"1"')));
      await b.r.accept(batch(item('x1', 'W/"1"')));
    } finally {
      await redis().start();
    }
    assert.deepEqual(a.events.map((e) => e.objectId), ['x1', 'x2']);
    assert.deepEqual(b.events.map((e) => e.objectId), ['x1'], 'without the shared set the repeat comes out (same eventId)');
    assert.equal(a.events[0]!.eventId, b.events[0]!.eventId);
    assert.equal(a.errors.length, 1);
    assert.match(a.errors[0]!, /dedupe set is unavailable .*a repeat is possible, same eventId/);
    assert.equal(b.errors.length, 1);
    // Back: the shared check works again.
    await waitForReady(a, b);
  });

  async function waitForReady(a: ReturnType<typeof instance>, b: ReturnType<typeof instance>): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (let n = 0; ; n++) {
      const id = `y${n}`;
      await a.r.accept(batch(item(id, 'W/"1"')));
      await b.r.accept(batch(item(id, 'W/"1"')));
      const count = [...a.events, ...b.events].filter((e) => e.objectId === id).length;
      if (count === 1) return;
      if (Date.now() > deadline) throw new Error('the shared dedupe did not come back');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
});
