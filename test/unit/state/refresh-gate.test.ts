/**
 * Single-flight token requests across instances (issue 17, `core/state/refresh-gate`): three `TokenManager`s, each
 * with its own shared-state client (another owner id) on one real redis-server, sharing one connector's sealed token
 * record, against the simulated identity platform. Whenever all three need a token at once, the simulator sees
 * exactly one grant and all three use its token.
 */
import assert from 'node:assert/strict';
import { MicrosoftOAuth } from '../../../src/core/auth/oauth';
import { TokenManager } from '../../../src/core/auth/token-manager';
import { APP_ONLY_SCOPE } from '../../../src/core/elements';
import { LeaseRefreshGate, SharedTokenStore, type RedisSharedState } from '../../../src/core/state';
import { SIM_CLIENT_ID, SIM_CLIENT_SECRET, identityOf } from '../../../src/simulator/identity';
import { useRedisServer, useRedisStates } from '../../support/redis';
import { useSimulator } from '../../support/simulator';

describe('LeaseRefreshGate: one token request per expiry across instances (real redis-server, simulator)', function () {
  this.timeout(20_000);
  const redis = useRedisServer();
  const sim = useSimulator();
  const states = useRedisStates(redis, 'rg');
  const managers: TokenManager[] = [];
  afterEach(() => managers.splice(0).forEach((m) => m.close()));

  const grants = () => identityOf(sim().state).requests('client_credentials').filter((r) => r.status === 200).length;

  function instance(state: RedisSharedState): TokenManager {
    let gate: LeaseRefreshGate | undefined;
    const store = new SharedTokenStore({ records: state.tokens, connectorId: 'conn1', secret: 'shared-credential-secret', lease: () => gate?.lease() });
    gate = new LeaseRefreshGate({ leases: state.leases, connectorId: 'conn1', load: () => store.load(), pollMs: 20 });
    const oauth = new MicrosoftOAuth({ authorityHost: sim().authorityHost, tenant: sim().state.tenantId, clientId: SIM_CLIENT_ID, clientSecret: SIM_CLIENT_SECRET });
    const manager = new TokenManager({ grantType: 'client_credentials', oauth, scope: APP_ONLY_SCOPE, store, gate, binding: 'b1' });
    managers.push(manager);
    return manager;
  }

  it('three instances starting at once: one grant, one token', async () => {
    const three = await Promise.all(['a', 'b', 'c'].map(async (owner) => instance(await states.open(owner))));
    await Promise.all(three.map((m) => m.init()));
    const before = grants();
    const tokens = await Promise.all(three.map((m) => m.getAccessToken()));
    assert.equal(grants() - before, 1, 'one client_credentials grant');
    assert.equal(new Set(tokens).size, 1, 'all three use it');
  });

  it('a sign-in on one instance replaces the record even when another instance wrote it since this one read it', async () => {
    const [a, b] = await Promise.all(['a', 'b'].map(async (owner) => instance(await states.open(owner))));
    await Promise.all([a!.init(), b!.init()]);
    await b!.getAccessToken(); // b writes the record (version 1); a last read version 0
    await a!.signedIn({ accessToken: 'signed-in-at', refreshToken: 'signed-in-rt', expiresAt: Date.now() + 3_600_000, account: 'adele@contoso.com' });
    const reader = new SharedTokenStore({ records: (await states.open('reader')).tokens, connectorId: 'conn1', secret: 'shared-credential-secret' });
    const stored = await reader.load();
    assert.equal(stored?.refreshToken, 'signed-in-rt');
    assert.equal(stored?.account, 'adele@contoso.com');
  });

  it('the token rejected on all three at once (401): one new grant, the others adopt it; the record is versioned and sealed', async () => {
    const observer = await states.open('observer');
    const three = await Promise.all(['a', 'b', 'c'].map(async (owner) => instance(await states.open(owner))));
    await Promise.all(three.map((m) => m.init()));
    const first = await Promise.all(three.map((m) => m.getAccessToken()));
    const version = (await observer.tokens.read('conn1'))!.version;
    for (let expiry = 1; expiry <= 3; expiry++) {
      const before = grants();
      sim().state.accessTokens.revokeAll();
      const current = await Promise.all(three.map((m) => m.getAccessToken()));
      await Promise.all(three.map((m, i) => m.onUnauthorized(current[i]!)));
      const fresh = await Promise.all(three.map((m) => m.getAccessToken()));
      assert.equal(grants() - before, 1, `expiry ${expiry}: exactly one grant`);
      assert.equal(new Set(fresh).size, 1);
      assert.notEqual(fresh[0], first[0]);
    }
    const record = (await observer.tokens.read('conn1'))!;
    assert.equal(record.version, version + 3);
    assert.ok(!record.value.includes('sim-at-'), 'sealed');
    assert.equal(await observer.leases.holder('token:conn1'), undefined, 'the refresh lease is given back');
  });
});
