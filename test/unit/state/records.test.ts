/**
 * Shared records on a real redis-server (issue 17 item 3): the token record's version CAS (single-flight refresh
 * across instances), the notification dedupe set across clients, the record-side fence check, and the key prefix.
 */
import assert from 'node:assert/strict';
import { openRedisState, StaleFenceError, leaseNames } from '../../../src/core/state';
import { useRedisServer, useRedisStates } from '../../support/redis';

describe('state: Redis shared records', function () {
  const redis = useRedisServer();
  const { open, prefix: currentPrefix } = useRedisStates(redis, 't');

  it('token record: of three instances refreshing at once, exactly one wins; the others re-read the winner\'s record', async () => {
    const instances = await Promise.all(['a', 'b', 'c'].map(open));
    const first = await instances[0].tokens.compareAndSet('conn1', 0, 'sealed-v1');
    assert.deepEqual(first, { ok: true, version: 1 });
    // Each reads version 1, "refreshes" and writes its own rotation.
    const reads = await Promise.all(instances.map((s) => s.tokens.read('conn1')));
    assert.ok(reads.every((r) => r?.version === 1 && r.value === 'sealed-v1'));
    const results = await Promise.all(instances.map((s, i) => s.tokens.compareAndSet('conn1', 1, `sealed-v2-by-${i}`)));
    const winners = results.filter((r) => r.ok);
    assert.equal(winners.length, 1);
    const winner = results.findIndex((r) => r.ok);
    for (const [i, result] of results.entries()) {
      if (i === winner) continue;
      assert.deepEqual(result, { ok: false, current: { value: `sealed-v2-by-${winner}`, version: 2 } });
    }
    for (const s of instances) assert.deepEqual(await s.tokens.read('conn1'), { value: `sealed-v2-by-${winner}`, version: 2 });
  });

  it('token record: a write under the token lease is fenced; removal forgets the record', async () => {
    const a = await open('a');
    const b = await open('b');
    const lease = await a.leases.acquire(leaseNames.token('conn2'), 100);
    assert.ok(lease);
    assert.deepEqual(await a.tokens.compareAndSet('conn2', 0, 'v1', lease), { ok: true, version: 1 });
    const taken = await (async () => {
      for (let i = 0; i < 250; i++) {
        const l = await b.leases.acquire(leaseNames.token('conn2'), 10_000);
        if (l) return l;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      throw new Error('no takeover');
    })();
    await assert.rejects(a.tokens.compareAndSet('conn2', 1, 'late', lease), (err: unknown) => err instanceof StaleFenceError && err.reason === 'superseded');
    assert.deepEqual(await b.tokens.compareAndSet('conn2', 1, 'v2', taken), { ok: true, version: 2 });
    await assert.rejects(b.tokens.compareAndSet('other', 0, 'x', taken), RangeError);
    await b.tokens.remove('conn2');
    assert.equal(await a.tokens.read('conn2'), undefined);
    assert.deepEqual(await a.tokens.compareAndSet('conn2', 5, 'v'), { ok: false, current: undefined });
  });

  it('dedupe: a notification reaching two instances comes out once; the claim carries its TTL', async () => {
    const a = await open('a');
    const b = await open('b');
    const keys = Array.from({ length: 50 }, (_, i) => `sub-1/created/Users/u/Messages/m${i}`);
    const claims = await Promise.all(keys.flatMap((k) => [a.dedupe.claim(k, 60), b.dedupe.claim(k, 60)]));
    for (let i = 0; i < keys.length; i++) assert.equal(Number(claims[2 * i]) + Number(claims[2 * i + 1]), 1, `key ${keys[i]} claimed once`);
    assert.equal(await a.dedupe.claim('short', 1), true);
    assert.equal(await b.dedupe.claim('short', 1), false);
    const ttl = await a.client.ttl(a.keys.dedupe('short'));
    assert.ok(ttl === 1 || ttl === 0, `ttl ${ttl}`);
    await assert.rejects(a.dedupe.claim('x', 0), RangeError);
  });

  it('refuses a write whose fencing number is below the record\'s (a fence counter lost with Redis data)', async () => {
    const a = await open('a');
    const first = await a.leases.acquire('r', 10_000);
    assert.ok(first);
    assert.equal(await a.leases.release(first), true);
    const second = await a.leases.acquire('r', 10_000);
    assert.ok(second && second.fence === first.fence + 1);
    await a.cursors.save(second, { pending: [] });
    await a.leases.release(second);
    await a.client.del(a.keys.fence('r'));
    const reset = await a.leases.acquire('r', 10_000);
    assert.ok(reset && reset.fence === 1);
    await assert.rejects(a.cursors.save(reset, { pending: [] }), (err: unknown) => err instanceof StaleFenceError && err.reason === 'older' && err.currentFence === second.fence);
  });

  it('keeps every key under the prefix, with the lease name as hash tag', async () => {
    const prefix = currentPrefix();
    const a = await open('a');
    const lease = await a.leases.acquire(leaseNames.poller('n{1}', 'mail box'), 10_000);
    assert.ok(lease);
    await a.cursors.save(lease, { pending: [] });
    await a.tokens.compareAndSet('c', 0, 'v');
    await a.dedupe.claim('k', 60);
    const keys = (await a.client.keys('*')).filter((k) => k.startsWith(`${prefix}:`)).sort();
    assert.deepEqual(keys.filter((k) => !k.startsWith(`${prefix}:dedupe:`)), [
      `${prefix}:cursor:{poller:n%7B1%7D:mail%20box}`,
      `${prefix}:fence:{poller:n%7B1%7D:mail%20box}`,
      `${prefix}:lease:{poller:n%7B1%7D:mail%20box}`,
      `${prefix}:token:{token:c}`,
    ]);
    assert.equal(keys.filter((k) => k.startsWith(`${prefix}:dedupe:`)).length, 1);
    const other = await openRedisState({ url: redis().url, prefix: `${prefix}x`, owner: 'b' });
    try {
      assert.equal(await other.tokens.read('c'), undefined);
      assert.ok(await other.leases.acquire(lease.name, 1_000), 'another prefix is another cluster');
    } finally {
      await other.close();
    }
  });
});
