/**
 * Admin routes of ms365-connector for the editor (issue 16, items 2 and 4), in a real Node-RED runtime
 * (node-red-node-test-helper) against the simulated tenant: `POST :id/test` (Test connection) and the pickers'
 * `GET|POST :id/browse/{mailFolders,calendars,drives,children}`. For deployed connectors and for dialog values of a
 * connector not deployed yet; answer shapes, "sign in first" (409), "missing permission X" (403), and no token or
 * secret in any answer. (The admin permission checks, 401 without `ms365-connector.read|write`, need a runtime with
 * adminAuth: test/e2e/connector-routes-auth.test.ts.)
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import axios from 'axios';
import { helper, allNodes } from '../support/node-red-helper';
import { useSimulator } from '../support/simulator';
import { connectorFlowNode, waitFor } from '../support/connector';
import { identityOf, SIM_CLIENT_ID, SIM_CLIENT_SECRET } from '../../src/simulator/identity';
import type { ConnectorNode } from '../../src/nodes/shared/connector-api';

const CALLBACK = 'http://127.0.0.1:1880/ms365-connector/auth/callback';

describe('ms365-connector: Test connection and picker routes', function () {
  this.timeout(20000);
  const sim = useSimulator();
  let userDir: string;
  /** Every answer body seen, to check that no secret or token leaks. */
  const answers: string[] = [];

  before(async () => {
    userDir = mkdtempSync(path.join(tmpdir(), 'ms365-userdir-'));
    helper.settings({ userDir });
    await new Promise<void>((resolve) => helper.startServer(() => resolve()));
  });
  afterEach(async () => {
    await helper.unload();
  });
  after(async () => {
    await new Promise<void>((resolve) => helper.stopServer(() => resolve()));
    helper.settings({});
    rmSync(userDir, { recursive: true, force: true });
    const all = answers.join('\n');
    assert.ok(!all.includes(SIM_CLIENT_SECRET), 'the client secret appears in an answer');
    assert.doesNotMatch(all, /sim-at-|sim-rt-|Bearer|access_?token|refresh_?token/i, 'a token appears in an answer');
  });

  async function post(url: string, body: Record<string, unknown> = {}) {
    const res = await helper.request().post(url).send(body);
    answers.push(res.text);
    return res;
  }
  async function get(url: string) {
    const res = await helper.request().get(url);
    answers.push(res.text);
    return res;
  }

  /** Dialog values of a connector against the simulator (what the editor posts). */
  function dialog(overrides: Record<string, unknown> = {}) {
    return {
      elementKey: 'office365',
      tenant: sim().state.tenantId,
      grantType: 'client_credentials',
      authorityHost: sim().authorityHost,
      graphBaseUrl: sim().graphBaseUrl,
      userId: sim().state.defaultUser.id,
      clientId: SIM_CLIENT_ID,
      clientSecret: SIM_CLIENT_SECRET,
      ...overrides,
    };
  }

  it('app-only, deployed: Test connection names the app and mailbox, every office365 permission granted; browse answers {value, more}', async () => {
    const { node, credentials } = connectorFlowNode(sim(), { id: 'app1' });
    await helper.load(allNodes, [node], credentials);
    await waitFor('app-only token', () => (helper.getNode('app1') as unknown as ConnectorNode).authStatus().state === 'signed_in');
    // The editor sends the placeholder for an unchanged secret: the deployed one is used.
    const res = await post('/ms365-connector/app1/test', { clientSecret: '__PWRD__' });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.ok, true);
    assert.equal(res.body.grantType, 'client_credentials');
    assert.equal(res.body.clientId, SIM_CLIENT_ID);
    assert.equal(res.body.userId, sim().state.defaultUser.id);
    assert.deepEqual(
      res.body.permissions.map((p: { permission: string; granted: boolean }) => [p.permission, p.granted]),
      [['Mail.ReadBasic.All', true], ['Calendars.Read', true], ['Contacts.Read', true]],
    );
    assert.deepEqual(res.body.missing, []);

    const folders = await get('/ms365-connector/app1/browse/mailFolders');
    assert.equal(folders.status, 200, folders.text);
    assert.equal(folders.body.more, false);
    const inbox = folders.body.value.find((f: { name: string }) => f.name === 'Inbox');
    assert.ok(inbox && typeof inbox.id === 'string' && inbox.childCount === 0, JSON.stringify(folders.body));
    const children = await get(`/ms365-connector/app1/browse/mailFolders?parent=${encodeURIComponent(inbox.id)}`);
    assert.deepEqual(children.body, { value: [], more: false });

    const calendars = await get('/ms365-connector/app1/browse/calendars');
    assert.equal(calendars.status, 200, calendars.text);
    assert.deepEqual(calendars.body.value.map((c: { name: string; isDefault: boolean }) => [c.name, c.isDefault]), [['Calendar', true]]);

    const drives = await get('/ms365-connector/app1/browse/drives');
    assert.equal(drives.status, 200, drives.text);
    assert.equal(drives.body.value.length, 1);
    assert.ok(drives.body.value[0].id && drives.body.value[0].driveType);

    const root = await get('/ms365-connector/app1/browse/children');
    assert.equal(root.status, 200, root.text);
    for (const item of root.body.value) assert.deepEqual(Object.keys(item).filter((k) => !['id', 'name', 'folder', 'childCount', 'driveId'].includes(k)), []);
    const folder = root.body.value.find((i: { folder: boolean }) => i.folder);
    if (folder) {
      const below = await get(`/ms365-connector/app1/browse/children?parent=${encodeURIComponent(folder.id)}&drive=${encodeURIComponent(drives.body.value[0].id)}`);
      assert.equal(below.status, 200, below.text);
    }

    const clouds = await get('/ms365-connector/clouds');
    assert.deepEqual(
      clouds.body.clouds.map((c: { id: string; appOnlyScope: string }) => [c.id, c.appOnlyScope]),
      [
        ['global', 'https://graph.microsoft.com/.default'],
        ['usgov', 'https://graph.microsoft.us/.default'],
        ['usgovdod', 'https://dod-graph.microsoft.us/.default'],
        ['china', 'https://microsoftgraph.chinacloudapi.cn/.default'],
      ],
    );
    assert.equal((await get('/ms365-connector/app1/browse/contacts')).status, 404);
    assert.equal((await get('/ms365-connector/app1/browse/children?parent=..%2F..%2Fusers')).status, 400);
    assert.equal((await get('/ms365-connector/app1/browse/__proto__')).status, 404);
  });

  it('app-only without a calendar role: Test connection lists "Calendars.Read" missing; the calendars picker answers 403 naming it', async () => {
    const app = identityOf(sim().state).registerApp({ appRoles: ['Mail.Read', 'Contacts.Read', 'Files.Read.All'] });
    const values = dialog({ clientId: app.clientId, clientSecret: app.clientSecret });
    // Not deployed: the dialog's values only.
    const res = await post('/ms365-connector/fresh1/test', values);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.ok, false);
    assert.deepEqual(res.body.missing, ['Calendars.Read']);
    assert.deepEqual(
      res.body.permissions.map((p: { permission: string; granted: boolean }) => [p.permission, p.granted]),
      [['Mail.ReadBasic.All', true], ['Calendars.Read', false], ['Contacts.Read', true]],
    );
    const calendars = await post('/ms365-connector/fresh1/browse/calendars', values);
    assert.equal(calendars.status, 403, calendars.text);
    assert.equal(calendars.body.code, 'missing_permission');
    assert.equal(calendars.body.permission, 'Calendars.Read');
    assert.match(calendars.body.error, /^missing permission Calendars\.Read/);
    const folders = await post('/ms365-connector/fresh1/browse/mailFolders', values);
    assert.equal(folders.status, 200, folders.text);
    assert.ok(folders.body.value.length >= 1);
    assert.ok(!JSON.stringify(res.body).includes(app.clientSecret) && !folders.text.includes(app.clientSecret));
  });

  it('not deployed: GET answers 409 "not deployed"; bad client secret 400 (sign-in failed); missing client id 400', async () => {
    const { node, credentials } = connectorFlowNode(sim(), { id: 'app2' });
    await helper.load(allNodes, [node], credentials);
    const notDeployed = await get('/ms365-connector/nothere/browse/mailFolders');
    assert.equal(notDeployed.status, 409);
    assert.equal(notDeployed.body.code, 'not_deployed');
    const bad = await post('/ms365-connector/nothere/test', dialog({ clientSecret: 'wrong-secret' }));
    assert.equal(bad.status, 400, bad.text);
    assert.equal(bad.body.code, 'sign_in_failed');
    assert.match(bad.body.error, /invalid_client/);
    // Codes the editor translates (issue 16): Microsoft's OAuth error code, never its secret.
    assert.equal(bad.body.oauthError, 'invalid_client');
    assert.ok(!bad.text.includes('wrong-secret'));
    const noClient = await post('/ms365-connector/nothere/test', dialog({ clientId: '' }));
    assert.equal(noClient.status, 400);
    assert.match(noClient.body.error, /^clientId: /);
    assert.deepEqual([noClient.body.code, noClient.body.setting, noClient.body.reason], ['invalid_configuration', 'clientId', 'client_id_missing']);
    const badTenant = await post('/ms365-connector/nothere/test', dialog({ tenant: 'common' }));
    assert.equal(badTenant.status, 400);
    assert.match(badTenant.body.error, /^tenant: /);
    assert.deepEqual([badTenant.body.code, badTenant.body.setting, badTenant.body.reason], ['invalid_configuration', 'tenant', undefined]);
    assert.equal((await post('/ms365-connector/bad%20id/test', dialog())).status, 400);
  });

  it('the deployed secret and tokens go only to the deployed hosts: other hosts in the dialog values need the secret typed again (400)', async () => {
    const { node, credentials } = connectorFlowNode(sim(), { id: 'app3' });
    await helper.load(allNodes, [node], credentials);
    const otherGraph = await post('/ms365-connector/app3/test', { graphBaseUrl: 'https://graph.evil.example/v1.0' });
    assert.equal(otherGraph.status, 400, otherGraph.text);
    assert.equal(otherGraph.body.code, 'graph_host_changed');
    const otherAuthority = await post('/ms365-connector/app3/browse/mailFolders', { authorityHost: 'https://login.evil.example' });
    assert.equal(otherAuthority.status, 400, otherAuthority.text);
    assert.match(otherAuthority.body.error, /^clientSecret: enter the client secret again/);
    assert.deepEqual([otherAuthority.body.setting, otherAuthority.body.reason], ['clientSecret', 'client_secret_again']);
    const start = await post('/ms365-connector/app3/auth/start', { authorityHost: 'https://login.evil.example', callbackUrl: CALLBACK });
    assert.equal(start.status, 400, start.text);
    // With the secret typed in the dialog, an app-only test may use other hosts (here: the same, as a control).
    assert.equal((await post('/ms365-connector/app3/test', { clientSecret: SIM_CLIENT_SECRET })).status, 200);
  });

  it('delegated, not deployed: "sign in first" (409) before the sign-in; after it (dialog values), the signed-in account and a missing Contacts.Read', async () => {
    const values = {
      elementKey: 'office365',
      tenant: 'common',
      grantType: 'authorization_code',
      authorityHost: sim().authorityHost,
      graphBaseUrl: sim().graphBaseUrl,
      callbackUrl: CALLBACK,
      clientId: SIM_CLIENT_ID,
      clientSecret: SIM_CLIENT_SECRET,
      scope: 'openid profile User.Read Mail.Read Calendars.Read',
    };
    const before = await post('/ms365-connector/deleg1/test', values);
    assert.equal(before.status, 409, before.text);
    assert.equal(before.body.code, 'sign_in_needed');
    assert.match(before.body.error, /^sign in first/);
    const beforeBrowse = await post('/ms365-connector/deleg1/browse/mailFolders', values);
    assert.equal(beforeBrowse.status, 409);

    // Sign in from the dialog (not deployed): the tokens go to the token store of this node id.
    const start = await post('/ms365-connector/deleg1/auth/start', values);
    assert.equal(start.status, 200, start.text);
    const consent = await axios.get(start.body.authorizeUrl as string, { maxRedirects: 0, validateStatus: () => true });
    const back = new URL(consent.headers.location as string);
    const callback = await get(`/ms365-connector/auth/callback${back.search}`);
    assert.equal(callback.status, 200, callback.text);

    const res = await post('/ms365-connector/deleg1/test', values);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.grantType, 'authorization_code');
    assert.equal(res.body.account, sim().state.defaultUser.userPrincipalName);
    assert.deepEqual(res.body.missing, ['Contacts.Read']);
    assert.equal(res.body.ok, false);
    const folders = await post('/ms365-connector/deleg1/browse/mailFolders', values);
    assert.equal(folders.status, 200, folders.text);
    assert.ok(folders.body.value.some((f: { name: string }) => f.name === 'Inbox'));
    const drives = await post('/ms365-connector/deleg1/browse/drives', values);
    assert.equal(drives.status, 403, drives.text);
    assert.equal(drives.body.permission, 'Files.Read');
  });
});
