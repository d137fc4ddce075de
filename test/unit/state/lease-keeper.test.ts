/**
 * LeaseKeeper on a real redis-server: one holder among competing keepers, handover on stop, a paused holder (the
 * event loop blocked past its TTL) steps down and its late write is refused, and no holder while Redis is down.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { LeaseKeeper, StaleFenceError, openRedisState, type Lease, type LeaseLossReason, type RedisSharedState } from '../../../src/core/state';
import { useRedisServer } from '../../support/redis';

async function until<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

interface Recorded {
  keeper: LeaseKeeper;
  acquired: Lease[];
  lost: Array<{ lease: Lease; reason: LeaseLossReason }>;
  errors: Error[];
}

describe('state: LeaseKeeper', function () {
  const redis = useRedisServer({ appendonly: true });
  const states: RedisSharedState[] = [];
  const keepers: LeaseKeeper[] = [];
  let prefix: string;

  const keeper = async (owner: string, name: string, ttlMs: number, retryMs?: number): Promise<Recorded> => {
    const state = await openRedisState({ url: redis().url, prefix, owner });
    states.push(state);
    const rec: Recorded = { acquired: [], lost: [], errors: [] } as unknown as Recorded;
    rec.keeper = new LeaseKeeper({
      leases: state.leases,
      name,
      ttlMs,
      retryMs,
      onAcquired: (lease) => rec.acquired.push(lease),
      onLost: (lease, reason) => rec.lost.push({ lease, reason }),
      onError: (err) => rec.errors.push(err),
    });
    keepers.push(rec.keeper);
    return rec;
  };

  beforeEach(() => {
    prefix = `k${randomBytes(4).toString('hex')}`;
  });
  afterEach(async () => {
    await Promise.all(keepers.splice(0).map((k) => k.stop()));
    await Promise.all(states.splice(0).map((s) => s.close()));
  });

  it('of three keepers one holds the lease, renewed past its TTL; on stop another takes it with a higher fence', async () => {
    // TTL 1 s (renewed every 333 ms): only an event-loop stall over 667 ms on a loaded machine would lose it.
    const all = await Promise.all(['a', 'b', 'c'].map((o) => keeper(o, 'poller:n1:messages', 1_000, 50)));
    all.forEach((r) => r.keeper.start());
    const holder = await until('a holder', () => all.find((r) => r.acquired.length === 1));
    // Past two TTLs it still holds it (renewed), and nobody else got it.
    await new Promise((resolve) => setTimeout(resolve, 2_200));
    assert.deepEqual(all.map((r) => r.acquired.length).sort(), [0, 0, 1]);
    assert.equal(holder.keeper.current()?.fence, holder.acquired[0].fence);
    await holder.keeper.stop();
    assert.deepEqual(holder.lost.map((l) => l.reason), ['stopped']);
    const next = await until('the takeover', () => all.find((r) => r !== holder && r.acquired.length === 1), 2_000);
    assert.ok(next.acquired[0].fence > holder.acquired[0].fence);
    assert.equal(all.filter((r) => r.acquired.length > 0 && r.keeper.current()).length, 1);
  });

  it('a holder paused past its TTL steps down; the instance that took over keeps it; the late write is refused', async () => {
    const a = await keeper('a', 'subscriptions:w1', 200, 50);
    a.keeper.start();
    const lease = (await until('a holds', () => a.acquired[0]))!;
    const b = await openRedisState({ url: redis().url, prefix, owner: 'b' });
    states.push(b);
    // Block the event loop past the TTL: a's renew timer cannot run (a GC pause, SIGSTOP).
    const resumeAt = Date.now() + 300;
    while (Date.now() < resumeAt) {
      // paused
    }
    const bLease = await b.leases.acquire('subscriptions:w1', 10_000);
    assert.ok(bLease, 'b takes over the expired lease');
    assert.equal(a.keeper.current(), undefined, 'a knows on its own clock that the lease is no longer surely its');
    assert.deepEqual(a.lost.map((l) => l.reason), ['unconfirmed']);
    // a's late write, as a would send it after the pause (its old lease, its fencing number):
    await assert.rejects(b.subscriptions.save(lease, []), StaleFenceError);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(a.acquired.length, 1, 'a does not get it back while b holds it');
  });

  it('no holder while Redis is down; the lease is taken again once Redis is back', async function () {
    this.timeout(20_000);
    const a = await keeper('a', 'token:c1', 400, 100);
    a.keeper.start();
    await until('a holds', () => a.acquired[0]);
    await redis().kill();
    await until('a steps down', () => a.lost.length === 1, 5_000);
    assert.equal(a.lost[0].reason, 'unconfirmed');
    assert.equal(a.keeper.current(), undefined);
    assert.ok(a.errors.length > 0);
    await redis().start();
    const again = await until('a holds again', () => a.acquired[1], 10_000);
    assert.ok(again.fence > a.acquired[0].fence, 'the fencing counter survived the restart');
  });
});
