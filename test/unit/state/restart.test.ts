/**
 * Redis restarted (issue 17 "Redis restarted: nothing lost"), with the append-only file docs/cluster.md asks for:
 * the token record, cursors, subscription records, leases and fencing counters survive, and the clients reconnect.
 */
import assert from 'node:assert/strict';
import { openRedisState, StaleFenceError, leaseNames, type RedisSharedState } from '../../../src/core/state';
import { useRedisServer } from '../../support/redis';

describe('state: Redis restarted with appendonly', function () {
  const redis = useRedisServer({ appendonly: true });
  let a: RedisSharedState;
  let b: RedisSharedState;

  afterEach(async () => {
    await a?.close();
    await b?.close();
  });

  async function retry<T>(what: string, fn: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await fn();
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`${what}: ${(err as Error).message}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  for (const how of ['stopped', 'killed'] as const) {
    it(`keeps every record when Redis is ${how} and started again`, async () => {
      a = await openRedisState({ url: redis().url, prefix: `r-${how}`, owner: 'a' });
      b = await openRedisState({ url: redis().url, prefix: `r-${how}`, owner: 'b' });
      const poller = await a.leases.acquire(leaseNames.poller('n1', 'messages'), 60_000);
      const subs = await a.leases.acquire(leaseNames.subscriptions('w1'), 60_000);
      assert.ok(poller && subs);
      await a.cursors.save(poller, { cursor: { mode: 'start', startedAt: 42 }, pending: [] });
      const record = { id: 's1', resource: 'me/events', changeType: 'created,updated,deleted', expirationDateTime: '2026-12-05T08:00:00Z', minutes: 4230 };
      await a.subscriptions.save(subs, [record]);
      assert.deepEqual(await a.tokens.compareAndSet('conn', 0, 'sealed'), { ok: true, version: 1 });
      assert.equal(await a.dedupe.claim('n-1', 3_600), true);

      if (how === 'stopped') await redis().restart();
      else {
        await redis().kill();
        await redis().start();
      }

      // Both clients reconnect by themselves.
      assert.deepEqual(await retry('token after restart', () => b.tokens.read('conn')), { value: 'sealed', version: 1 });
      assert.deepEqual(await b.cursors.read(poller.name), { value: { cursor: { mode: 'start', startedAt: 42 }, pending: [] }, fence: poller.fence });
      assert.deepEqual((await b.subscriptions.read(subs.name))?.value, [record]);
      assert.equal(await b.dedupe.claim('n-1', 3_600), false);
      // The leases are still a's (with their TTL), a may still write; b may not.
      assert.equal((await b.leases.holder(poller.name))?.owner, 'a');
      assert.equal(await b.leases.acquire(poller.name, 1_000), undefined);
      await retry('a writes after restart', () => a.cursors.save(poller, { cursor: { mode: 'start', startedAt: 43 }, pending: [] }));
      await assert.rejects(b.cursors.save({ ...poller, owner: 'b' }, { pending: [] }), StaleFenceError);
      // The fencing counter survived: the next acquisition is numbered above the old one.
      assert.equal(await a.leases.release(poller), true);
      const next = await b.leases.acquire(poller.name, 1_000);
      assert.ok(next && next.fence > poller.fence);
    });
  }
});
