/**
 * A delegated sign-in made before the connector is deployed with its cluster (issue 17) on a real Node-RED runtime
 * (test helper), a real redis-server and the simulated identity platform: the dialog names a deployed cluster → the
 * sign-in goes to Redis (sealed), no token file; a sign-in that went to this instance's token file (the dialog named
 * no cluster yet) moves into Redis when the connector is deployed with the cluster and Redis has none, and the file
 * is removed; a newer record in Redis is not replaced by an older file.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import axios from 'axios';
import { helper, allNodes, useNodeRed, useTempUserDir } from '../support/node-red-helper';
import { useSimulator } from '../support/simulator';
import { connectorFlowNode, waitFor } from '../support/connector';
import { useRedisServer, useRedisStates } from '../support/redis';
import type { ConnectorNode } from '../../src/nodes/shared/connector-api';

const clusterModule = require('../../src/nodes/ms365-cluster');
const CALLBACK = 'http://127.0.0.1:1880/ms365-connector/auth/callback';

describe('ms365-connector: a sign-in made before the deploy with a cluster (node, real redis-server, simulator)', function () {
  this.timeout(30_000);
  const redis = useRedisServer();
  const sim = useSimulator();
  useNodeRed();
  const userDir = useTempUserDir('ms365-cluster-signin-');
  const states = useRedisStates(redis, 'cs');
  beforeEach(() => helper.settings({ userDir: userDir(), credentialSecret: 'same-on-every-instance' } as unknown as Parameters<typeof helper.settings>[0]));

  const cluster = () => ({ id: 'cl1', type: 'ms365-cluster', url: redis().url, prefix: states.prefix() });
  const connector = (withCluster: boolean) =>
    connectorFlowNode(sim(), { id: 'conn1', grantType: 'authorization_code', tenant: 'common', userId: '', callbackUrl: CALLBACK, elementKey: 'outlookemail', ...(withCluster ? { cluster: 'cl1' } : {}) });
  const tokenFile = () => path.join(userDir(), '.ms365-events', 'tokens', 'conn1.json');

  /** The editor's sign-in with the dialog's values (`cluster` as the dialog sends it). */
  async function signIn(dialog: Record<string, unknown>) {
    const { credentials } = connector(false);
    const start = await helper.request().post('/ms365-connector/conn1/auth/start').send({ callbackUrl: CALLBACK, clientId: credentials.conn1!.clientId, clientSecret: credentials.conn1!.clientSecret, tenant: 'common', authorityHost: sim().authorityHost, graphBaseUrl: sim().graphBaseUrl, elementKey: 'outlookemail', ...dialog }).expect(200);
    const consent = await axios.get(String(start.body.authorizeUrl), { maxRedirects: 0, validateStatus: () => true });
    assert.equal(consent.status, 302);
    const back = new URL(consent.headers.location as string);
    const callback = await helper.request().get(`/ms365-connector/auth/callback${back.search}`);
    assert.equal(callback.status, 200, callback.text);
  }

  it('the dialog names a deployed cluster: the sign-in goes to Redis (sealed), not to the token file; the deployed connector uses it', async () => {
    await helper.load([clusterModule, ...allNodes], [cluster()], {});
    await signIn({ cluster: 'cl1' });
    assert.ok(!fs.existsSync(tokenFile()), 'no token file');
    const observer = await states.open('observer');
    const record = await observer.tokens.read('conn1');
    assert.ok(record, 'the record is in Redis');
    assert.ok(!record.value.includes('adele') && !/refresh|eyJ/.test(record.value), 'sealed');
    const status = await helper.request().get('/ms365-connector/conn1/auth/status').expect(200);
    assert.equal(status.body.authorized, true, 'the dialog sees the sign-in');
    assert.equal(status.body.account, 'adele@contoso.example');
    const { node, credentials } = connector(true);
    await helper.unload();
    await helper.load([clusterModule, ...allNodes], [cluster(), node], credentials);
    const conn = helper.getNode('conn1') as unknown as ConnectorNode;
    await waitFor('signed in from Redis', () => /signed in as adele/.test(String(conn.currentStatus().text)), 10_000);
  });

  it('a sign-in in the token file moves into Redis when the connector is deployed with the cluster (none there); the file is removed', async () => {
    await helper.load([clusterModule, ...allNodes], [], {});
    await signIn({}); // the dialog names no cluster yet
    assert.ok(fs.existsSync(tokenFile()), 'first in the token file');
    const { node, credentials } = connector(true);
    await helper.unload();
    await helper.load([clusterModule, ...allNodes], [cluster(), node], credentials);
    const conn = helper.getNode('conn1') as unknown as ConnectorNode;
    await waitFor('signed in', () => /signed in as adele/.test(String(conn.currentStatus().text)), 10_000);
    const observer = await states.open('observer');
    assert.ok(await observer.tokens.read('conn1'), 'the record is in Redis');
    assert.ok(!fs.existsSync(tokenFile()), 'the file no longer holds it');
    const token = await conn.graph.options.tokens.getAccessToken();
    assert.equal(sim().state.accessTokens.check(`Bearer ${token}`).ok, true);
  });

  it('a record already in Redis that is newer than the file is kept (the file is not moved)', async () => {
    await helper.load([clusterModule, ...allNodes], [], {});
    await signIn({}); // older: in the file
    await helper.unload();
    await helper.load([clusterModule, ...allNodes], [cluster()], {});
    await signIn({ cluster: 'cl1' }); // newer: in Redis
    const observer = await states.open('observer');
    const before = await observer.tokens.read('conn1');
    const { node, credentials } = connector(true);
    await helper.unload();
    await helper.load([clusterModule, ...allNodes], [cluster(), node], credentials);
    const conn = helper.getNode('conn1') as unknown as ConnectorNode;
    await waitFor('signed in', () => /signed in as adele/.test(String(conn.currentStatus().text)), 10_000);
    assert.equal((await observer.tokens.read('conn1'))!.version, before!.version, 'the Redis record not replaced');
    assert.ok(fs.existsSync(tokenFile()), 'the older file is left alone');
  });
});
