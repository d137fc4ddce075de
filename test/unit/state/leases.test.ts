/**
 * Leases with fencing on a real redis-server (issue 17 item 2): one owner per name, takeover after expiry with a
 * higher fencing number, renew and release only by the holder, and a paused ex-owner's late writes refused.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { openRedisState, StaleFenceError, leaseNames, type RedisSharedState } from '../../../src/core/state';
import type { PollerCursor } from '../../../src/core/changes';
import type { Ms365Event } from '../../../src/core/events';
import { useRedisServer } from '../../support/redis';

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('state: Redis leases with fencing', function () {
  const redis = useRedisServer();
  let a: RedisSharedState;
  let b: RedisSharedState;

  beforeEach(async () => {
    const prefix = `t${randomBytes(4).toString('hex')}`;
    a = await openRedisState({ url: redis().url, prefix, owner: 'instance-a' });
    b = await openRedisState({ url: redis().url, prefix, owner: 'instance-b' });
  });
  afterEach(async () => {
    await a?.close();
    await b?.close();
  });

  it('gives a lease to one owner at a time; the other gets nothing while it is held', async () => {
    const name = leaseNames.poller('n1', 'messages');
    const results = await Promise.all([a.leases.acquire(name, 10_000), b.leases.acquire(name, 10_000)]);
    const winners = results.filter(Boolean);
    assert.equal(winners.length, 1);
    const holder = await a.leases.holder(name);
    assert.equal(holder?.owner, winners[0]?.owner);
    assert.equal(holder?.fence, winners[0]?.fence);
    assert.ok(holder && holder.remainingMs > 9_000 && holder.remainingMs <= 10_000);
  });

  it('lets the holder re-acquire (extend) with the same fencing number', async () => {
    const first = await a.leases.acquire('x', 5_000);
    const again = await a.leases.acquire('x', 5_000);
    assert.ok(first && again);
    assert.equal(again.fence, first.fence);
    assert.equal(await b.leases.acquire('x', 5_000), undefined);
  });

  it('hands the lease over after it expires, with a higher fencing number', async () => {
    const name = leaseNames.subscriptions('w1');
    const first = await a.leases.acquire(name, 150);
    assert.ok(first);
    assert.equal(await b.leases.acquire(name, 150), undefined);
    const second = await until('the takeover', () => b.leases.acquire(name, 10_000));
    assert.equal(second.owner, 'instance-b');
    assert.ok(second.fence > first.fence, `fence ${second.fence} > ${first.fence}`);
    // The ex-owner can neither renew nor release what it lost.
    assert.equal(await a.leases.renew(first), false);
    assert.equal(await a.leases.release(first), false);
    assert.equal((await a.leases.holder(name))?.owner, 'instance-b');
  });

  it('renews only a lease still held, and releases it for the next owner', async () => {
    const lease = await a.leases.acquire('y', 300);
    assert.ok(lease);
    assert.equal(await a.leases.renew({ ...lease, ttlMs: 10_000 }), true);
    assert.ok(((await a.leases.holder('y'))?.remainingMs ?? 0) > 5_000);
    // Another owner with the same fencing number holds nothing.
    assert.equal(await b.leases.release({ ...lease, owner: 'instance-b' }), false);
    assert.equal(await a.leases.release(lease), true);
    assert.equal(await a.leases.holder('y'), undefined);
    const next = await b.leases.acquire('y', 1_000);
    assert.ok(next && next.fence === lease.fence + 1);
  });

  it('refuses a paused ex-owner\'s late write once another instance took over (cursor and subscription records)', async () => {
    const name = leaseNames.poller('n1', 'events');
    const old = await a.leases.acquire(name, 150);
    assert.ok(old);
    await a.cursors.save(old, { cursor: { mode: 'start', startedAt: 1_000 }, pending: [] });
    // a is "paused" past its TTL: it keeps its old fencing number; b takes over and writes.
    const fresh = await until('the takeover', () => b.leases.acquire(name, 10_000));
    await b.cursors.save(fresh, { cursor: { mode: 'start', startedAt: 2_000 }, pending: [] });
    await assert.rejects(
      a.cursors.save(old, { cursor: { mode: 'start', startedAt: 1_500 }, pending: [] }),
      (err: unknown) => err instanceof StaleFenceError && err.code === 'stale_fence' && err.reason === 'superseded' && err.currentFence === fresh.fence,
    );
    const stored = await a.cursors.read(name);
    assert.deepEqual(stored, { value: { cursor: { mode: 'start', startedAt: 2_000 }, pending: [] }, fence: fresh.fence });
    // The subscription records of a webhook node, the same way.
    const subsName = leaseNames.subscriptions('w1');
    const subsOld = await a.leases.acquire(subsName, 150);
    assert.ok(subsOld);
    const subsFresh = await until('the takeover', () => b.leases.acquire(subsName, 10_000));
    const record = { id: 's1', resource: 'me/messages', changeType: 'created', expirationDateTime: '2026-12-03T10:00:00Z', minutes: 4230 };
    await b.subscriptions.save(subsFresh, [record]);
    await assert.rejects(a.subscriptions.save(subsOld, []), StaleFenceError);
    await assert.rejects(a.subscriptions.remove(subsOld), StaleFenceError);
    assert.deepEqual((await b.subscriptions.read(subsName))?.value, [record]);
  });

  it('refuses a late write after the lease expired even when nobody took over', async () => {
    const old = await a.leases.acquire('z', 100);
    assert.ok(old);
    await until('the expiry', async () => (await a.leases.holder('z')) === undefined);
    await assert.rejects(a.cursors.save(old, { pending: [] }), (err: unknown) => err instanceof StaleFenceError && err.reason === 'expired');
    assert.equal(await a.cursors.read('z'), undefined);
  });

  it('keeps a round\'s pending events with the cursor, and removes the record under the lease', async () => {
    const lease = await a.leases.acquire(leaseNames.poller('n2', 'messages'), 10_000);
    assert.ok(lease);
    const event: Ms365Event = {
      eventId: 'e1',
      eventType: 'CREATED',
      objectType: 'messages',
      objectId: 'AAMk1',
      elementKey: 'outlookemail',
      instanceName: 'Mail',
      date: '2026-12-03T08:00:00.000Z',
      pollDate: '2026-12-03T08:00:01.000Z',
      source: 'polling',
      raw: { id: 'AAMk1' },
    };
    const cursor: PollerCursor = { mode: 'delta', deltaLink: 'https://graph.microsoft.com/v1.0/me/messages/delta?$deltatoken=abc', syncedAt: 1_000 };
    await a.cursors.save(lease, { cursor, pending: [event] });
    const read = await b.cursors.read(lease.name);
    assert.equal(read?.fence, lease.fence);
    assert.deepEqual(read?.value, { cursor, pending: [event] });
    await a.cursors.remove(lease);
    assert.equal(await b.cursors.read(lease.name), undefined);
  });
});
