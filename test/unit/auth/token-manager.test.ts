import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import axios from 'axios';
import { useSimulator } from '../../support/simulator';
import { SIM_CLIENT_ID, SIM_CLIENT_SECRET, identityOf } from '../../../src/simulator/identity';
import { MicrosoftOAuth } from '../../../src/core/auth/oauth';
import { TokenManager } from '../../../src/core/auth/token-manager';
import { EncryptedFileTokenStore, MemoryTokenStore } from '../../../src/core/auth/token-store';
import { createPkce, randomState } from '../../../src/core/auth/pkce';
import { OAuthError } from '../../../src/core/auth/errors';
import { APP_ONLY_SCOPE } from '../../../src/core/elements';

const REDIRECT = 'http://127.0.0.1:1880/ms365-connector/auth/callback';
const SCOPE = 'openid profile offline_access User.Read Mail.Read';

describe('auth: token manager against the simulated identity platform', () => {
  const sim = useSimulator();
  const identity = () => identityOf(sim().state);

  afterEach(() => identity().clearFaults());

  function oauth(tenant = 'common'): MicrosoftOAuth {
    return new MicrosoftOAuth({ authorityHost: sim().authorityHost, tenant, clientId: SIM_CLIENT_ID, clientSecret: SIM_CLIENT_SECRET });
  }

  /** The browser part of a sign-in: authorize (automatic consent) and read the code from the redirect. */
  async function signIn(client: MicrosoftOAuth) {
    const pkce = createPkce();
    const state = randomState();
    const url = client.authorizeUrl({ redirectUri: REDIRECT, scope: SCOPE, state, codeChallenge: pkce.challenge });
    const res = await axios.get(url, { maxRedirects: 0, validateStatus: () => true });
    const location = new URL(res.headers.location as string);
    assert.equal(location.searchParams.get('state'), state);
    return client.redeemCode({ code: location.searchParams.get('code') as string, redirectUri: REDIRECT, codeVerifier: pkce.verifier, scope: SCOPE });
  }

  it('client credentials: ten concurrent getAccessToken calls cause one token request', async () => {
    const before = identity().requests('client_credentials').length;
    const manager = new TokenManager({ grantType: 'client_credentials', oauth: oauth(sim().state.tenantId), scope: APP_ONLY_SCOPE, store: new MemoryTokenStore() });
    const tokens = await Promise.all(Array.from({ length: 10 }, () => manager.getAccessToken()));
    assert.equal(new Set(tokens).size, 1);
    assert.equal(identity().requests('client_credentials').length - before, 1);
    assert.equal(sim().state.accessTokens.check(`Bearer ${tokens[0]}`).ok, true);
    await manager.getAccessToken();
    assert.equal(identity().requests('client_credentials').length - before, 1, 'a valid token is reused');
    manager.close();
  });

  it('authorization code: redeemCode gives the account from the id_token and a refresh token', async () => {
    const tokens = await signIn(oauth());
    assert.equal(tokens.account, 'adele@contoso.example');
    assert.ok(tokens.refreshToken);
    assert.ok(tokens.expiresAt > Date.now() + 3_000_000);
  });

  it('refreshes before expiry, persists every rotated refresh token at once, and never reuses a rotated one', async () => {
    let now = Date.now();
    const store = new MemoryTokenStore();
    const manager = new TokenManager({ grantType: 'authorization_code', oauth: oauth(), scope: SCOPE, store, now: () => now });
    const first = await signIn(oauth());
    await manager.signedIn(first);
    assert.equal((await store.load())?.refreshToken, first.refreshToken);
    assert.equal(await manager.getAccessToken(), first.accessToken, 'no refresh while the token is fresh');

    now += 3_400_000; // 200 s before expiry: inside the 5-minute margin, the token is still valid
    const second = await manager.getAccessToken();
    assert.notEqual(second, first.accessToken);
    const stored1 = await store.load();
    assert.notEqual(stored1?.refreshToken, first.refreshToken, 'the rotated refresh token is persisted');
    assert.equal(stored1?.account, 'adele@contoso.example');

    now += 3_400_000;
    await manager.getAccessToken();
    const stored2 = await store.load();
    assert.notEqual(stored2?.refreshToken, stored1?.refreshToken);
    // The simulator rejects a used refresh token: the manager only succeeded because it used the newest one.
    const stale = await oauth().refresh({ refreshToken: stored1?.refreshToken as string, scope: SCOPE }).catch((e: unknown) => e);
    assert.ok(stale instanceof OAuthError && stale.error === 'invalid_grant');
    assert.equal(manager.status().state, 'signed_in');
    manager.close();
  });

  it('revoked refresh token: state sign_in_needed, and later calls make no token request', async () => {
    let now = Date.now();
    const manager = new TokenManager({ grantType: 'authorization_code', oauth: oauth(), scope: SCOPE, store: new MemoryTokenStore(), now: () => now });
    const states: string[] = [];
    manager.onChange((s) => states.push(s.state));
    await manager.signedIn(await signIn(oauth()));
    identity().revokeRefreshTokens();
    now += 3_600_000;
    const err = await manager.getAccessToken().catch((e: unknown) => e);
    assert.ok(err instanceof OAuthError && err.needsSignIn);
    assert.equal(err.aadsts, 50173);
    assert.equal(manager.status().state, 'sign_in_needed');
    assert.deepEqual(states.slice(-2), ['refreshing', 'sign_in_needed']);
    const count = identity().requests().length;
    await assert.rejects(manager.getAccessToken());
    assert.equal(identity().requests().length, count, 'no token request after sign-in is needed');
    manager.close();
  });

  it('interaction_required from the token endpoint: sign_in_needed without retries', async () => {
    let now = Date.now();
    const manager = new TokenManager({ grantType: 'authorization_code', oauth: oauth(), scope: SCOPE, store: new MemoryTokenStore(), now: () => now });
    await manager.signedIn(await signIn(oauth()));
    identity().injectTokenFault({ error: 'interaction_required', count: 5 });
    const count = identity().requests('refresh_token').length;
    now += 3_600_000;
    await assert.rejects(manager.getAccessToken(), (e: unknown) => e instanceof OAuthError && e.error === 'interaction_required');
    assert.equal(identity().requests('refresh_token').length - count, 1);
    assert.equal(manager.status().state, 'sign_in_needed');
    manager.close();
  });

  it('temporarily_unavailable twice: backs off (growing delays) and then succeeds', async () => {
    const delays: number[] = [];
    const manager = new TokenManager({
      grantType: 'client_credentials',
      oauth: oauth(sim().state.tenantId),
      scope: APP_ONLY_SCOPE,
      store: new MemoryTokenStore(),
      backoffBaseMs: 100,
      sleep: async (ms) => {
        delays.push(ms);
      },
    });
    identity().injectTokenFault({ error: 'temporarily_unavailable', count: 2 });
    const token = await manager.getAccessToken();
    assert.ok(token);
    assert.equal(delays.length, 2);
    assert.ok(delays[0] >= 50 && delays[0] <= 100 && delays[1] >= 100 && delays[1] <= 200, `delays ${delays}`);
    manager.close();
  });

  it('server_error beyond the retry budget: state error, then a later call recovers', async () => {
    const manager = new TokenManager({ grantType: 'client_credentials', oauth: oauth(sim().state.tenantId), scope: APP_ONLY_SCOPE, store: new MemoryTokenStore(), transientRetries: 1, sleep: async () => undefined });
    identity().injectTokenFault({ error: 'server_error', count: 2 });
    await assert.rejects(manager.getAccessToken(), (e: unknown) => e instanceof OAuthError && e.kind === 'transient');
    assert.equal(manager.status().state, 'error');
    assert.ok(await manager.getAccessToken());
    assert.equal(manager.status().state, 'signed_in');
    manager.close();
  });

  it('autoRefresh: a timer refreshes before expiry without any caller, and close() stops it', async () => {
    const manager = new TokenManager({
      grantType: 'client_credentials',
      oauth: oauth(sim().state.tenantId),
      scope: APP_ONLY_SCOPE,
      store: new MemoryTokenStore(),
      autoRefresh: true,
      refreshMarginMs: 3_598_000, // due ~1 s after issue (the timer's floor)
    });
    const before = identity().requests('client_credentials').length;
    const first = await manager.getAccessToken();
    const deadline = Date.now() + 5000;
    while (identity().requests('client_credentials').length - before < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(identity().requests('client_credentials').length - before, 2, 'one background refresh');
    assert.notEqual(manager.status().state, 'error');
    manager.close();
    await assert.rejects(manager.getAccessToken(), /closed/);
    assert.ok(first);
  });

  it('wrong client secret: OAuthError invalid_client whose message holds no secret', async () => {
    const bad = new MicrosoftOAuth({ authorityHost: sim().authorityHost, tenant: sim().state.tenantId, clientId: SIM_CLIENT_ID, clientSecret: 'not-the-secret-xyz' });
    const err = await bad.clientCredentials(APP_ONLY_SCOPE).catch((e: unknown) => e);
    assert.ok(err instanceof OAuthError);
    assert.equal(err.error, 'invalid_client');
    assert.equal(err.kind, 'client');
    assert.doesNotMatch(`${err.message} ${JSON.stringify(err)} ${String(err.stack)}`, /not-the-secret-xyz/);
  });

  it('unreachable authority: OAuthError network_error (transient)', async () => {
    const down = new MicrosoftOAuth({ authorityHost: 'http://127.0.0.1:9', tenant: 'common', clientId: 'x', clientSecret: 'y', timeoutMs: 2000 });
    const err = await down.clientCredentials(APP_ONLY_SCOPE).catch((e: unknown) => e);
    assert.ok(err instanceof OAuthError && err.kind === 'transient', String(err));
  });
});

describe('auth: encrypted file token store', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'ms365-tokens-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('save then load round-trips; the file holds no token in clear text', async () => {
    const file = EncryptedFileTokenStore.fileFor(dir, 'abc/../x');
    assert.equal(path.dirname(file), dir);
    const store = new EncryptedFileTokenStore(file, 'credential-secret');
    await store.save({ refreshToken: 'rt-SECRET-1', accessToken: 'at-SECRET-2', expiresAt: 5, account: 'a@b', savedAt: 1 });
    assert.deepEqual(await new EncryptedFileTokenStore(file, 'credential-secret').load(), { refreshToken: 'rt-SECRET-1', accessToken: 'at-SECRET-2', expiresAt: 5, account: 'a@b', savedAt: 1 });
    assert.doesNotMatch(readFileSync(file, 'utf8'), /SECRET|a@b/);
  });

  it('load with another secret answers undefined (as if absent)', async () => {
    const file = EncryptedFileTokenStore.fileFor(dir, 'other');
    await new EncryptedFileTokenStore(file, 'one').save({ refreshToken: 'r', savedAt: 1 });
    assert.equal(await new EncryptedFileTokenStore(file, 'two').load(), undefined);
  });

  it('concurrent saves leave the last one on disk', async () => {
    const file = EncryptedFileTokenStore.fileFor(dir, 'race');
    const store = new EncryptedFileTokenStore(file, 's');
    await Promise.all(Array.from({ length: 10 }, (_, i) => store.save({ refreshToken: `r${i}`, savedAt: i })));
    assert.equal((await store.load())?.refreshToken, 'r9');
  });
});
