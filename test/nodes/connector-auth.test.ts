/**
 * ms365-connector sign-in through the admin routes, token lifecycle and secrecy, in a real Node-RED runtime
 * (node-red-node-test-helper) against the simulated identity platform.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import axios from 'axios';
import type { Node, NodeStatus } from 'node-red';
import { helper, allNodes } from '../support/node-red-helper';
import { useSimulator } from '../support/simulator';
import { connectorFlowNode, waitFor } from '../support/connector';
import { identityOf, SIM_CLIENT_SECRET } from '../../src/simulator/identity';
import type { ConnectorNode } from '../../src/nodes/shared/connector-api';
import type { TokenManager } from '../../src/core/auth/token-manager';

const CALLBACK = 'http://127.0.0.1:1880/ms365-connector/auth/callback';

function startServer(): Promise<void> {
  return new Promise((resolve) => helper.startServer(() => resolve()));
}
function stopServer(): Promise<void> {
  return new Promise((resolve) => helper.stopServer(() => resolve()));
}

describe('ms365-connector: sign-in through the admin routes', function () {
  this.timeout(20000);
  const sim = useSimulator();
  let userDir: string;

  before(async () => {
    userDir = mkdtempSync(path.join(tmpdir(), 'ms365-userdir-'));
    helper.settings({ userDir });
    await startServer();
  });
  afterEach(async () => {
    identityOf(sim().state).clearFaults();
    sim().state.accessTokens.lifetimeSeconds = 3599;
    await helper.unload();
  });
  after(async () => {
    await stopServer();
    helper.settings({});
    rmSync(userDir, { recursive: true, force: true });
  });

  function delegated(id = 'conn1', overrides: Record<string, unknown> = {}) {
    return connectorFlowNode(sim(), { id, grantType: 'authorization_code', tenant: 'common', userId: '', callbackUrl: CALLBACK, elementKey: 'outlookemail', ...overrides });
  }

  const connector = (id: string) => helper.getNode(id) as unknown as ConnectorNode;
  const manager = (id: string) => connector(id).graph.options.tokens as TokenManager;

  /** Editor → start → Microsoft authorize (automatic consent) → callback; returns the callback answer. */
  async function signIn(id: string) {
    const start = await helper.request().post(`/ms365-connector/${id}/auth/start`).send({ callbackUrl: CALLBACK }).expect(200);
    const authorizeUrl = new URL(start.body.authorizeUrl as string);
    assert.equal(authorizeUrl.origin, sim().authorityHost);
    assert.equal(authorizeUrl.searchParams.get('code_challenge_method'), 'S256');
    assert.ok(authorizeUrl.searchParams.get('code_challenge'));
    assert.match(authorizeUrl.searchParams.get('scope') ?? '', /offline_access/);
    const consent = await axios.get(authorizeUrl.toString(), { maxRedirects: 0, validateStatus: () => true });
    assert.equal(consent.status, 302);
    const back = new URL(consent.headers.location as string);
    const callback = await helper.request().get(`/ms365-connector/auth/callback${back.search}`);
    return { callback, query: back.search };
  }

  it('POST auth/start → authorize → GET auth/callback: 200 page, status route and node say "signed in as adele"', async () => {
    const { node, credentials } = delegated();
    await helper.load(allNodes, [node], credentials);
    assert.equal(connector('conn1').authStatus().state, 'signed_out');
    const { callback } = await signIn('conn1');
    assert.equal(callback.status, 200, callback.text);
    assert.match(callback.text, /Signed in as adele@contoso\.example/);
    const status = await helper.request().get('/ms365-connector/conn1/auth/status').expect(200);
    assert.equal(status.body.authorized, true);
    assert.equal(status.body.account, 'adele@contoso.example');
    assert.equal(status.body.error, null);
    assert.ok(Date.parse(status.body.expiresAt) > Date.now());
    assert.deepEqual(Object.keys(status.body).sort(), ['account', 'authorized', 'error', 'expiresAt']);
    assert.match(String(connector('conn1').currentStatus().text), /signed in as adele@contoso\.example/);
    const token = await connector('conn1').graph.options.tokens.getAccessToken();
    assert.equal(sim().state.accessTokens.check(`Bearer ${token}`).ok, true);
  });

  it('GET auth/callback with a replayed, unknown or missing state answers 400', async () => {
    const { node, credentials } = delegated();
    await helper.load(allNodes, [node], credentials);
    const { callback, query } = await signIn('conn1');
    assert.equal(callback.status, 200);
    const replay = await helper.request().get(`/ms365-connector/auth/callback${query}`);
    assert.equal(replay.status, 400);
    assert.match(replay.text, /already used|unknown|expired/);
    await helper.request().get('/ms365-connector/auth/callback?code=abc&state=not-a-state').expect(400);
    await helper.request().get('/ms365-connector/auth/callback?code=abc').expect(400);
    await helper.request().get('/ms365-connector/auth/callback?state[a]=1&state[b]=2&code[]=x').expect(400);
    await helper.request().get(`/ms365-connector/auth/callback?state=${'%ff'.repeat(50)}`).expect(400);
  });

  it('GET auth/callback with ?error= answers 400 and escapes the reflected text', async () => {
    const { node, credentials } = delegated('conn7');
    await helper.load(allNodes, [node], credentials);
    const start = await helper.request().post('/ms365-connector/conn7/auth/start').send({ callbackUrl: CALLBACK }).expect(200);
    const state = new URL(start.body.authorizeUrl as string).searchParams.get('state') as string;
    const res = await helper
      .request()
      .get('/ms365-connector/auth/callback')
      .query({ state, error: 'access_denied<img src=x onerror=alert(1)>', error_description: '<script>alert("x")</script>' });
    assert.equal(res.status, 400);
    assert.doesNotMatch(res.text, /<script>alert|<img src=x/);
    assert.match(res.text, /&#60;script&#62;/);
    const status = await helper.request().get('/ms365-connector/conn7/auth/status').expect(200);
    assert.equal(status.body.authorized, false);
    assert.match(status.body.error, /^access_denied/);
  });

  it('POST auth/start without a client id, or with a bad callback URL, answers 400', async () => {
    const { node } = delegated();
    await helper.load(allNodes, [node], {});
    await helper.request().post('/ms365-connector/conn1/auth/start').send({ callbackUrl: CALLBACK }).expect(400);
    await helper.request().post('/ms365-connector/conn1/auth/start').send({ clientId: 'x', clientSecret: 'y', callbackUrl: 'javascript:alert(1)' }).expect(400);
    await helper.request().post('/ms365-connector/bad%20id/auth/start').send({}).expect(400);
  });

  it('restart of the runtime between two refreshes, without a redeploy, keeps the rotated refresh token', async () => {
    const { node, credentials } = delegated('conn2');
    // The runtime keeps (and mutates) the object passed to load: each load gets its own copy of the originals.
    await helper.load(allNodes, [node], structuredClone(credentials));
    sim().state.accessTokens.lifetimeSeconds = 120; // inside the 5-minute margin: every call refreshes
    await signIn('conn2');
    const before = identityOf(sim().state).requests('refresh_token').length;
    await manager('conn2').getAccessToken();
    assert.equal(identityOf(sim().state).requests('refresh_token').length - before, 1);

    await helper.unload();
    await stopServer();
    await startServer();
    // The same flow and the same (original) credentials: the rotated refresh token is only in the token store.
    await helper.load(allNodes, [node], structuredClone(credentials));
    const reloaded = (helper as unknown as { _redNodes: { getCredentials(id: string): Record<string, unknown> } })._redNodes.getCredentials('conn2');
    assert.equal(reloaded.ms365Tokens, undefined, 'the credentials are the original ones (no redeploy)');
    await waitFor('tokens loaded', () => connector('conn2').authStatus().state === 'signed_in');
    const token = await manager('conn2').getAccessToken();
    assert.equal(sim().state.accessTokens.check(`Bearer ${token}`).ok, true);
    const refreshes = identityOf(sim().state).requests('refresh_token').slice(before);
    assert.deepEqual(refreshes.map((r) => r.status), [200, 200], 'both refreshes used a live refresh token');
    assert.equal(connector('conn2').authStatus().account, 'adele@contoso.example');
    const files = readdirSync(path.join(userDir, '.ms365-events', 'tokens'));
    assert.ok(files.includes('conn2.json'));
  });

  it('revoked refresh token: "sign-in needed" on the connector and a registered user node; a new sign-in restores both', async () => {
    const { node, credentials } = delegated('conn3');
    await helper.load(allNodes, [node, { id: 'user1', type: 'helper' }], credentials);
    await signIn('conn3');
    const user = helper.getNode('user1') as unknown as Node;
    let userStatus: NodeStatus | undefined;
    (user as unknown as { on(event: string, cb: (call: { args: NodeStatus[] }) => void): void }).on('call:status', (call) => {
      userStatus = call.args[0];
    });
    connector('conn3').register(user);
    identityOf(sim().state).revokeRefreshTokens();
    sim().state.accessTokens.lifetimeSeconds = 120;
    await manager('conn3').refresh().catch(() => undefined);
    assert.equal(connector('conn3').authStatus().state, 'sign_in_needed');
    await waitFor('user status', () => userStatus && /sign-in needed/.test(String(userStatus.text)));
    assert.equal(userStatus?.fill, 'red');
    assert.match(String(connector('conn3').currentStatus().text), /sign-in needed/);
    const status = await helper.request().get('/ms365-connector/conn3/auth/status').expect(200);
    assert.equal(status.body.authorized, false);
    assert.match(status.body.error, /invalid_grant/);
    // Signing in again brings the connector and its users back without a redeploy.
    const again = await signIn('conn3');
    assert.equal(again.callback.status, 200);
    await waitFor('user signed in again', () => userStatus && /signed in as adele/.test(String(userStatus.text)));
    assert.equal(userStatus?.fill, 'green');
    assert.equal(connector('conn3').authStatus().state, 'signed_in');
    connector('conn3').deregister(user);
  });

  it('client credentials: app-only status and Graph tokens without any sign-in', async () => {
    const { node, credentials } = connectorFlowNode(sim(), { id: 'conn4' });
    await helper.load(allNodes, [node], credentials);
    await waitFor('app-only', () => connector('conn4').authStatus().state === 'signed_in');
    assert.match(String(connector('conn4').currentStatus().text), /app-only/);
    assert.equal(connector('conn4').mePath, `/users/${sim().state.defaultUser.id}`);
  });

  it('client credentials with tenant "common": red "invalid configuration" status and a clear error', async () => {
    const { node, credentials } = connectorFlowNode(sim(), { id: 'conn5', tenant: 'common' });
    await helper.load(allNodes, [node], credentials);
    const c = connector('conn5');
    assert.equal(c.currentStatus().fill, 'red');
    await assert.rejects(c.graph.get('/me'), /tenant/);
  });

  it('no secret (client secret, tokens, code, state) in the log, statuses, flows or the editor credentials answer', async () => {
    const { node, credentials } = delegated('conn6');
    await helper.load(allNodes, [node], credentials);
    const statuses: unknown[] = [];
    const conn6 = helper.getNode('conn6') as unknown as { on(event: string, cb: (call: { args: unknown[] }) => void): void };
    conn6.on('call:status', (call) => statuses.push(call.args[0]));
    sim().state.accessTokens.lifetimeSeconds = 120;
    const { query, callback } = await signIn('conn6');
    assert.equal(callback.status, 200);
    await manager('conn6').getAccessToken();
    const accessToken = await manager('conn6').getAccessToken();
    const params = new URLSearchParams(query);
    const identity = identityOf(sim().state);
    const refreshTokens = [...identity.refreshTokens.keys()];
    const secrets = [SIM_CLIENT_SECRET, accessToken, params.get('code') as string, params.get('state') as string, ...refreshTokens];

    const internals = helper as unknown as { _redNodes: { getFlows(): unknown }; credentials: unknown };
    const runtimeDir = path.dirname(require.resolve('@node-red/runtime/package.json'));
    const flowsApi = require(path.join(runtimeDir, 'lib/api/flows.js')) as {
      init(rt: unknown): void;
      getNodeCredentials(opts: { type: string; id: string }): Promise<Record<string, unknown>>;
    };
    const nodes = internals._redNodes as unknown as { getCredentials(id: string): unknown; getCredentialDefinition(t: string): unknown };
    flowsApi.init({ log: { audit() {} }, nodes });
    const editorCredentials = await flowsApi.getNodeCredentials({ type: 'ms365-connector', id: 'conn6' });
    assert.equal(editorCredentials.has_clientSecret, true);

    const status = await helper.request().get('/ms365-connector/conn6/auth/status').expect(200);
    const haystacks: Record<string, string> = {
      log: JSON.stringify(helper.log().args),
      statuses: JSON.stringify(statuses),
      flows: JSON.stringify(internals._redNodes.getFlows()),
      editorCredentials: JSON.stringify(editorCredentials),
      statusRoute: JSON.stringify(status.body),
      callbackPage: callback.text,
      tokenFiles: readdirSync(path.join(userDir, '.ms365-events', 'tokens')).map((f) => readFileSync(path.join(userDir, '.ms365-events', 'tokens', f), 'utf8')).join('\n'),
    };
    for (const secret of secrets) {
      assert.ok(secret && secret.length >= 8);
      for (const [where, text] of Object.entries(haystacks)) assert.ok(!text.includes(secret), `a secret appears in ${where}`);
    }
  });
});
