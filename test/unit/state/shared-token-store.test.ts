/**
 * A connector's tokens shared through Redis (real redis-server): sealed (no token in clear in Redis), read by the
 * other instances, and of three instances that refreshed at once exactly one record wins; the others get its tokens.
 */
import assert from 'node:assert/strict';
import { SharedTokenStore, StaleFenceError, TokenRecordConflictError, leaseNames } from '../../../src/core/state';
import { useRedisServer, useRedisStates } from '../../support/redis';

describe('state: SharedTokenStore', function () {
  const redis = useRedisServer();
  const { open } = useRedisStates(redis, 's');

  it('seals the tokens: another instance with the same secret reads them; Redis holds no token; another secret reads nothing', async () => {
    const a = await open('a');
    const b = await open('b');
    const tokens = { refreshToken: 'rt-SECRET-1', accessToken: 'at-SECRET-1', expiresAt: 1_000, account: 'adele@contoso.com', savedAt: 1 };
    await new SharedTokenStore({ records: a.tokens, connectorId: 'c1', secret: 'credential-secret' }).save(tokens);
    const reader = new SharedTokenStore({ records: b.tokens, connectorId: 'c1', secret: 'credential-secret' });
    assert.deepEqual(await reader.load(), tokens);
    assert.equal(reader.currentVersion, 1);
    const raw = JSON.stringify(await a.client.hgetall(a.keys.token('c1')));
    assert.ok(!raw.includes('SECRET') && !raw.includes('adele'), raw);
    assert.equal(await new SharedTokenStore({ records: b.tokens, connectorId: 'c1', secret: 'another-secret' }).load(), undefined);
  });

  it('three instances refresh at once: one record wins, the two others get a conflict carrying the winner\'s tokens', async () => {
    const states = await Promise.all(['a', 'b', 'c'].map(open));
    await new SharedTokenStore({ records: states[0].tokens, connectorId: 'c2', secret: 's' }).save({ refreshToken: 'rt-0', savedAt: 1 });
    const stores = states.map((s) => new SharedTokenStore({ records: s.tokens, connectorId: 'c2', secret: 's' }));
    await Promise.all(stores.map((s) => s.load()));
    const results = await Promise.allSettled(stores.map((s, i) => s.save({ refreshToken: `rt-1-${i}`, savedAt: 2 })));
    const won = results.findIndex((r) => r.status === 'fulfilled');
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    for (const [i, r] of results.entries()) {
      if (i === won) continue;
      assert.equal(r.status, 'rejected');
      const err = (r as PromiseRejectedResult).reason as TokenRecordConflictError;
      assert.ok(err instanceof TokenRecordConflictError && err.code === 'token_record_conflict');
      assert.deepEqual(err.current, { refreshToken: `rt-1-${won}`, savedAt: 2 });
      assert.equal(err.version, 2);
      assert.ok(!err.message.includes('rt-1'));
    }
    // A loser now knows version 2: its next save (the next rotation) lands.
    const loser = stores[(won + 1) % 3];
    await loser.save({ refreshToken: 'rt-2', savedAt: 3 });
    assert.deepEqual(await stores[won].load(), { refreshToken: 'rt-2', savedAt: 3 });
    assert.equal(stores[won].currentVersion, 3);
  });

  it('a save under the token lease is refused once the lease is lost; clear removes the record', async () => {
    const a = await open('a');
    const b = await open('b');
    const lease = await a.leases.acquire(leaseNames.token('c3'), 100);
    assert.ok(lease);
    const store = new SharedTokenStore({ records: a.tokens, connectorId: 'c3', secret: 's', lease: () => lease });
    await store.save({ refreshToken: 'r1', savedAt: 1 });
    for (let i = 0; i < 250 && !(await b.leases.acquire(leaseNames.token('c3'), 10_000)); i++) await new Promise((r) => setTimeout(r, 20));
    await assert.rejects(store.save({ refreshToken: 'r2', savedAt: 2 }), StaleFenceError);
    await store.clear();
    assert.equal(await new SharedTokenStore({ records: b.tokens, connectorId: 'c3', secret: 's' }).load(), undefined);
  });
});
