/**
 * Microsoft's own clients, unchanged, against the simulated tenant (issue 14 item 7): `@azure/msal-node`
 * (authorization code with PKCE, silent refresh from its cache, client credentials) and
 * `@microsoft/microsoft-graph-client` (PageIterator over nextLinks, delta rounds, its RetryHandler on a 429).
 * Both insist on https: the simulator sits behind a loopback TLS proxy with a certificate generated at test time,
 * trusted only through the clients' documented transport options (MSAL `system.networkClient`; the Graph SDK's
 * middleware chain, whose last handler fetches with that trust). If either breaks here, a real tenant would see the
 * simulator disagreeing with Microsoft, not the client.
 */
import assert from 'node:assert/strict';
import {
  ConfidentialClientApplication,
  CryptoProvider,
  type AccountInfo,
  type INetworkModule,
  type NetworkRequestOptions,
  type NetworkResponse,
} from '@azure/msal-node';
import {
  AuthenticationHandler,
  Client,
  PageIterator,
  RedirectHandler,
  RetryHandler,
  RetryHandlerOptions,
  TelemetryHandler,
  type AuthenticationProvider,
  type Context,
  type Middleware,
  type PageCollection,
} from '@microsoft/microsoft-graph-client';
import { useSimulator } from '../../support/simulator';
import { startTlsProxy, type TlsProxy } from '../../support/tls-proxy';
import { SIM_CLIENT_ID, SIM_CLIENT_SECRET, identityOf } from '../../../src/simulator/identity';

const REDIRECT = 'http://localhost:3000/auth/callback';
const DELEGATED_SCOPES = ['User.Read', 'Mail.Read', 'Files.Read'];

/** MSAL's documented transport hook (`system.networkClient`), over the proxy's trusted https. */
function msalNetwork(proxy: TlsProxy): INetworkModule {
  async function send<T>(method: string, url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    const res = await proxy.tlsFetch(url, { method, headers: options?.headers, body: options?.body });
    const headers: Record<string, string> = {};
    res.headers.forEach((value, name) => {
      headers[name] = value;
    });
    const text = await res.text();
    return { status: res.status, headers, body: (text ? JSON.parse(text) : {}) as T };
  }
  return {
    sendGetRequestAsync: <T>(url: string, options?: NetworkRequestOptions) => send<T>('GET', url, options),
    sendPostRequestAsync: <T>(url: string, options?: NetworkRequestOptions) => send<T>('POST', url, options),
  };
}

/** The Graph SDK's last middleware (its HTTPMessageHandler calls global fetch; this one fetches over the proxy). */
function tlsHttpHandler(proxy: TlsProxy): Middleware {
  return {
    async execute(context: Context): Promise<void> {
      const url = typeof context.request === 'string' ? context.request : context.request.url;
      const options = context.options ?? {};
      const headers: Record<string, string> = {};
      new Headers(options.headers as HeadersInit | undefined).forEach((value, name) => {
        headers[name] = value;
      });
      const body = typeof options.body === 'string' ? options.body : undefined;
      context.response = await proxy.tlsFetch(url, { method: options.method ?? 'GET', headers, body });
    },
  };
}

/** The SDK's default chain (auth, retry, redirect, telemetry) with the trusted transport at the end. */
function graphClient(proxy: TlsProxy, authProvider: AuthenticationProvider): Client {
  const chain: Middleware[] = [
    new AuthenticationHandler(authProvider),
    new RetryHandler(new RetryHandlerOptions()),
    new RedirectHandler(),
    new TelemetryHandler(),
    tlsHttpHandler(proxy),
  ];
  return Client.initWithMiddleware({ baseUrl: proxy.url, defaultVersion: 'v1.0', middleware: chain, customHosts: new Set(['127.0.0.1']) });
}

describe('Microsoft clients (msal-node, microsoft-graph-client) against the simulator over TLS', function () {
  this.timeout(60_000);
  const sim = useSimulator();
  let proxy: TlsProxy;
  let authority: string;

  before(async () => {
    proxy = await startTlsProxy(sim().url);
    // The simulator answers as if it lived at the https address (links, issuer, metadata), as Microsoft does.
    sim().state.baseUrl = proxy.url;
    authority = `${proxy.url}/${sim().state.tenantId}`;
  });
  after(async () => {
    await proxy?.close();
  });
  afterEach(() => {
    sim().state.graph.faults.clear();
    identityOf(sim().state).clearFaults();
  });

  function msalApp(): ConfidentialClientApplication {
    return new ConfidentialClientApplication({
      auth: { clientId: SIM_CLIENT_ID, clientSecret: SIM_CLIENT_SECRET, authority, knownAuthorities: [proxy.host] },
      system: { networkClient: msalNetwork(proxy) },
    });
  }

  /** getAuthCodeUrl → the simulator's authorize endpoint (automatic consent) → acquireTokenByCode. */
  async function signIn(app: ConfidentialClientApplication) {
    const pkce = await new CryptoProvider().generatePkceCodes();
    const nonce = 'n-' + Math.random().toString(36).slice(2);
    const url = await app.getAuthCodeUrl({
      scopes: DELEGATED_SCOPES,
      redirectUri: REDIRECT,
      codeChallenge: pkce.challenge,
      codeChallengeMethod: 'S256',
      state: 'st-1',
      nonce,
    });
    assert.ok(url.startsWith(`${authority}/oauth2/v2.0/authorize?`), url);
    const consent = await proxy.tlsFetch(url);
    assert.equal(consent.status, 302);
    const back = new URL(consent.headers.get('location') ?? '');
    assert.equal(back.searchParams.get('state'), 'st-1');
    const code = back.searchParams.get('code') ?? '';
    // MSAL checks the returned state against the request's and the id_token's nonce against the request's.
    const result = await app.acquireTokenByCode({ code, scopes: DELEGATED_SCOPES, redirectUri: REDIRECT, codeVerifier: pkce.verifier, state: 'st-1', nonce }, { code, state: back.searchParams.get('state') ?? '' });
    return { result, nonce };
  }

  it('msal-node: authorization code with PKCE redeems, with an account from client_info and the id_token claims', async () => {
    const app = msalApp();
    const { result, nonce } = await signIn(app);
    const user = sim().state.defaultUser;
    assert.ok(result.accessToken.startsWith('sim-at-'));
    assert.ok(result.account, 'an account');
    assert.equal(result.account.homeAccountId, `${user.id}.${sim().state.tenantId}`);
    assert.equal(result.account.tenantId, sim().state.tenantId);
    assert.equal(result.account.localAccountId, user.id);
    assert.equal(result.account.username, user.userPrincipalName);
    assert.equal(result.idTokenClaims && (result.idTokenClaims as Record<string, unknown>).nonce, nonce);
    const scopes = result.scopes.map((s) => s.toLowerCase());
    assert.ok(scopes.some((s) => s.endsWith('mail.read')) && scopes.some((s) => s.endsWith('files.read')), scopes.join(' '));
    const accounts = await app.getTokenCache().getAllAccounts();
    assert.equal(accounts.length, 1);
  });

  it('msal-node: acquireTokenSilent refreshes from its own cache once the access token has expired at Graph', async () => {
    const id = identityOf(sim().state);
    // A lifetime under MSAL's 5-minute renewal offset: MSAL treats the cached token as due, Graph as valid until it expires.
    sim().state.accessTokens.lifetimeSeconds = 120;
    try {
      const app = msalApp();
      const { result } = await signIn(app);
      const account = result.account as AccountInfo;
      const first = result.accessToken;
      const client = graphClient(proxy, { getAccessToken: async () => first });
      assert.equal((await client.api('/me').get()).id, sim().state.defaultUser.id);
      sim().state.clock.advance(121_000);
      await assert.rejects(client.api('/me').get(), (err: { statusCode?: number; code?: string }) => err.statusCode === 401 && err.code === 'InvalidAuthenticationToken');
      const refreshesBefore = id.requests('refresh_token').length;
      const silent = await app.acquireTokenSilent({ account, scopes: DELEGATED_SCOPES });
      assert.notEqual(silent.accessToken, first);
      const refreshes = id.requests('refresh_token').slice(refreshesBefore);
      assert.deepEqual(refreshes.map((r) => r.status), [200], 'one refresh_token grant, answered 200');
      const again = graphClient(proxy, { getAccessToken: async () => silent.accessToken });
      assert.equal((await again.api('/me').get()).id, sim().state.defaultUser.id);
      // Its cache now holds the rotated refresh token: a second silent refresh works too.
      sim().state.clock.advance(121_000);
      const third = await app.acquireTokenSilent({ account, scopes: DELEGATED_SCOPES, forceRefresh: true });
      assert.notEqual(third.accessToken, silent.accessToken);
    } finally {
      sim().state.accessTokens.lifetimeSeconds = 3599;
    }
  });

  it('msal-node: client credentials give an app-only token that reads a user mailbox', async () => {
    const app = msalApp();
    const result = await app.acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] });
    assert.ok(result?.accessToken);
    assert.equal(result.account, null);
    const client = graphClient(proxy, { getAccessToken: async () => result.accessToken });
    const user = sim().state.defaultUser;
    const page = (await client.api(`/users/${user.id}/mailFolders/inbox/messages`).top(1).get()) as PageCollection;
    assert.ok(Array.isArray(page.value));
    await assert.rejects(client.api('/me').get(), (err: { statusCode?: number }) => err.statusCode === 400);
  });

  describe('microsoft-graph-client on delegated MSAL tokens', () => {
    let client: Client;
    const userId = () => sim().state.defaultUser.id;

    before(async () => {
      const app = msalApp();
      const { result } = await signIn(app);
      const account = result.account as AccountInfo;
      client = graphClient(proxy, { getAccessToken: async () => (await app.acquireTokenSilent({ account, scopes: DELEGATED_SCOPES })).accessToken });
    });

    it('PageIterator follows the nextLinks of a message list to the last message', async () => {
      const store = sim().state.graph.store;
      const subjects = new Set<string>();
      for (let i = 0; i < 23; i++) subjects.add(store.createMessage(userId(), { subject: `paged ${i}`, folder: 'drafts' }).subject ?? '');
      const seen: string[] = [];
      const first = (await client.api('/me/mailFolders/drafts/messages').top(5).select('id,subject').get()) as PageCollection;
      assert.ok(first['@odata.nextLink']);
      const iterator = new PageIterator(client, first, (message: { subject: string }) => {
        seen.push(message.subject);
        return true;
      });
      await iterator.iterate();
      assert.ok(iterator.isComplete());
      assert.deepEqual(new Set(seen), subjects);
      assert.equal(seen.length, 23);
    });

    /** One delta round with the SDK: PageIterator over nextLinks, the deltaLink it keeps at the end. */
    async function deltaRound(urlOrPath: string): Promise<{ items: Array<Record<string, unknown>>; deltaLink: string }> {
      const items: Array<Record<string, unknown>> = [];
      const first = (await client.api(urlOrPath).header('Prefer', 'odata.maxpagesize=3').get()) as PageCollection;
      const iterator = new PageIterator(client, first, (item: Record<string, unknown>) => {
        items.push(item);
        return true;
      }, { headers: { Prefer: 'odata.maxpagesize=3' } });
      await iterator.iterate();
      const deltaLink = iterator.getDeltaLink();
      assert.ok(deltaLink, 'the last page carries a deltaLink');
      return { items, deltaLink };
    }

    it('message delta per folder: an enumeration round, then a round with a new, a changed and a removed message', async () => {
      const store = sim().state.graph.store;
      const a = store.createMessage(userId(), { subject: 'delta a', folder: 'sentitems' });
      const b = store.createMessage(userId(), { subject: 'delta b', folder: 'sentitems' });
      for (let i = 0; i < 5; i++) store.createMessage(userId(), { subject: `delta filler ${i}`, folder: 'sentitems' });
      const initial = await deltaRound('/me/mailFolders/sentitems/messages/delta');
      assert.equal(initial.items.length, 7);
      assert.match(initial.deltaLink, /^https:\/\/127\.0\.0\.1:\d+\/v1\.0\/.*\$deltatoken=/);
      const c = store.createMessage(userId(), { subject: 'delta c', folder: 'sentitems' });
      store.updateMessage(userId(), a.id ?? '', { isRead: true });
      store.deleteMessage(userId(), b.id ?? '');
      const next = await deltaRound(initial.deltaLink);
      const byId = new Map(next.items.map((item) => [item.id, item]));
      assert.equal(byId.size, 3);
      assert.equal((byId.get(c.id) as { subject?: string }).subject, 'delta c');
      assert.equal((byId.get(a.id) as { isRead?: boolean }).isRead, true);
      assert.deepEqual((byId.get(b.id) as { '@removed'?: unknown })['@removed'], { reason: 'deleted' });
      const quiet = await deltaRound(next.deltaLink);
      assert.equal(quiet.items.length, 0);
    });

    it('drive delta: an enumeration round, then the changed file and the deleted one', async () => {
      const store = sim().state.graph.store;
      const keep = store.createDriveItem(userId(), { name: 'keep.txt', content: 'one' });
      const gone = store.createDriveItem(userId(), { name: 'gone.txt', content: 'two' });
      const initial = await deltaRound('/me/drive/root/delta');
      const names = new Set(initial.items.map((item) => item.name));
      assert.ok(names.has('keep.txt') && names.has('gone.txt'));
      store.updateDriveItem(userId(), keep.id ?? '', { content: 'one, edited' });
      store.deleteDriveItem(userId(), gone.id ?? '');
      const next = await deltaRound(initial.deltaLink);
      const byId = new Map(next.items.map((item) => [item.id, item]));
      assert.equal((byId.get(keep.id) as { size?: number }).size, Buffer.byteLength('one, edited'));
      assert.ok('deleted' in (byId.get(gone.id) as object));
    });

    it('RetryHandler waits the Retry-After of a 429 and retries: the answer comes from the second request', async () => {
      const state = sim().state;
      state.graph.requests.clear();
      state.graph.faults.add({ kind: 'throttle', count: 1, retryAfterSeconds: 1, path: 'mailFolders/inbox$' });
      const folder = await client.api('/me/mailFolders/inbox').get();
      assert.equal(folder.displayName, 'Inbox');
      const attempts = state.graph.requests.list().filter((r) => /mailFolders\/inbox$/.test(r.path));
      assert.deepEqual(attempts.map((r) => r.status), [429, 200]);
      assert.ok(Date.parse(attempts[1].at) - Date.parse(attempts[0].at) >= 1000, 'the retry waited Retry-After');
    });
  });
});
