/**
 * `ms365-cluster` config node (issue 17) on a real Node-RED runtime (node-red-node-test-helper) against real
 * redis-servers: connected status and a usable shared state; a red status and one readable error for each bad
 * configuration (never a fall-back); no password in any status or log; the connection closed on close.
 */
import assert from 'node:assert/strict';
import type { NodeDef, NodeStatus } from 'node-red';
import { helper, useNodeRed } from '../support/node-red-helper';
import { waitFor } from '../support/connector';
import { freePort, redisServerPath, startRedisServer, type RedisServer } from '../support/redis';
import type { ClusterNode } from '../../src/nodes/shared/cluster-api';
import { RedisAuthError, RedisEvictionPolicyError, RedisSharedState } from '../../src/core/state';

const clusterModule = require('../../src/nodes/ms365-cluster');

function clusterNode(url: string, extra: Record<string, unknown> = {}): NodeDef {
  return { id: 'cl1', type: 'ms365-cluster', name: '', url, prefix: 'nodetest', ...extra } as unknown as NodeDef;
}

function logged(level: 'error' | 'warn'): string[] {
  const levels = { error: 20, warn: 30 } as const;
  return helper
    .log()
    .args.map((a: unknown[]) => a[0] as { level?: number; msg?: unknown; type?: string })
    .filter((e: { level?: number; type?: string }) => e && e.type === 'ms365-cluster' && e.level === levels[level])
    .map((e: { msg?: unknown }) => String(e.msg));
}

async function statusOf(text: RegExp, timeoutMs = 5_000): Promise<NodeStatus> {
  return waitFor(`status ${text}`, () => {
    const node = helper.getNode('cl1') as unknown as ClusterNode | null;
    const status = node?.currentStatus();
    return status && text.test(String(status.text)) ? status : undefined;
  }, timeoutMs);
}

describe('ms365-cluster config node', function () {
  useNodeRed();
  const servers: RedisServer[] = [];
  const start = async (options: Parameters<typeof startRedisServer>[0] = {}) => {
    const server = await startRedisServer(options);
    servers.push(server);
    return server;
  };

  before(function () {
    if (!redisServerPath()) {
      const message = 'redis-server not found (apt-get install redis-server, or set REDIS_SERVER_PATH)';
      if (process.env.CI) throw new Error(`${message}: the cluster tests cannot run in CI without it`);
      console.warn(`      skipped: ${message}`);
      this.skip();
    }
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.dispose()));
  });

  it('connects with the password credential: green status, a working shared state, closed on close', async () => {
    const server = await start({ password: 'cluster-secret' });
    await helper.load(clusterModule, [clusterNode(server.url)], { cl1: { password: 'cluster-secret' } });
    const status = await statusOf(/^connected/);
    assert.deepEqual(status, { fill: 'green', shape: 'dot', text: `connected: redis://127.0.0.1:${server.port}` });
    const node = helper.getNode('cl1') as unknown as ClusterNode;
    const state = (await node.state()) as RedisSharedState;
    const lease = await state.leases.acquire('poller:n1:messages', 10_000);
    assert.ok(lease && lease.fence === 1);
    assert.deepEqual(await state.keys.lease('x'), 'nodetest:lease:{x}');
    assert.deepEqual(logged('error'), []);
    assert.ok(!JSON.stringify(helper.log().args).includes('cluster-secret'));
    await helper.unload();
    await waitFor('connection closed', () => state.client.status === 'end', 3_000);
  });

  it('a missing password: red "password needed" and one clear error', async () => {
    const server = await start({ password: 'cluster-secret' });
    await helper.load(clusterModule, [clusterNode(server.url)]);
    assert.deepEqual(await statusOf(/password needed/), { fill: 'red', shape: 'ring', text: 'password needed' });
    const errors = await waitFor('error', () => (logged('error').length ? logged('error') : undefined));
    assert.equal(errors.length, 1);
    assert.match(errors[0], /^ms365-cluster: Redis at redis:\/\/127\.0\.0\.1:\d+ needs a password \(NOAUTH\)/);
    await assert.rejects((helper.getNode('cl1') as unknown as ClusterNode).state(), RedisAuthError);
  });

  it('a wrong password: red "wrong password", the password in no log or status', async () => {
    const server = await start({ password: 'cluster-secret' });
    await helper.load(clusterModule, [clusterNode(server.url)], { cl1: { password: 'not-the-secret' } });
    assert.deepEqual(await statusOf(/wrong password/), { fill: 'red', shape: 'ring', text: 'wrong password' });
    await waitFor('error', () => logged('error').some((m) => /WRONGPASS/.test(m)));
    assert.ok(!JSON.stringify(helper.log().args).includes('not-the-secret'));
  });

  it('an eviction policy other than noeviction: red status naming it and a clear error', async () => {
    const server = await start({ maxmemoryPolicy: 'volatile-lru' });
    await helper.load(clusterModule, [clusterNode(server.url)]);
    assert.deepEqual(await statusOf(/eviction policy/), { fill: 'red', shape: 'ring', text: 'eviction policy volatile-lru' });
    await waitFor('error', () => logged('error').some((m) => /maxmemory-policy volatile-lru.*set maxmemory-policy noeviction/.test(m)));
    await assert.rejects((helper.getNode('cl1') as unknown as ClusterNode).state(), RedisEvictionPolicyError);
  });

  it('CONFIG refused: connected (yellow) with a warning that the eviction policy could not be checked', async () => {
    const server = await start({ disableConfig: true });
    await helper.load(clusterModule, [clusterNode(server.url)]);
    const status = await statusOf(/^connected/);
    assert.equal(status.fill, 'yellow');
    await waitFor('warning', () => logged('warn').some((m) => /eviction policy could not be checked/.test(m)));
  });

  it('an invalid URL or prefix: red "invalid configuration" and an error naming the setting', async () => {
    await helper.load(clusterModule, [clusterNode('http://127.0.0.1:6379')]);
    assert.deepEqual(await statusOf(/invalid configuration/), { fill: 'red', shape: 'ring', text: 'invalid configuration' });
    await waitFor('error', () => logged('error').some((m) => /^ms365-cluster: url: http: is not supported/.test(m)));
    await helper.unload();
    await helper.load(clusterModule, [clusterNode('redis://127.0.0.1:1', { prefix: 'a b' })]);
    await statusOf(/invalid configuration/);
    await waitFor('error', () => logged('error').some((m) => /^ms365-cluster: prefix: /.test(m)));
  });

  it('Redis unreachable at deploy: red "Redis unreachable (retrying)", then connected once Redis is up; "reconnecting" when lost later', async function () {
    this.timeout(30_000);
    const port = await freePort();
    await helper.load(clusterModule, [clusterNode(`redis://127.0.0.1:${port}`)]);
    assert.deepEqual(await statusOf(/unreachable/), { fill: 'red', shape: 'ring', text: 'Redis unreachable (retrying)' });
    await waitFor('error', () => logged('error').some((m) => /is unreachable: .*ECONNREFUSED/.test(m)));
    const server = await start({ port });
    await statusOf(/^connected/, 15_000);
    const state = await (helper.getNode('cl1') as unknown as ClusterNode).state();
    assert.ok(await state.dedupe.claim('k', 10));
    // Lost later: "reconnecting", then connected again once Redis is back.
    await server.kill();
    assert.deepEqual(await statusOf(/reconnecting/), { fill: 'yellow', shape: 'ring', text: 'reconnecting' });
    await server.start();
    await statusOf(/^connected/, 10_000);
    assert.equal(await state.dedupe.claim('k', 10), false, 'the claim survived (appendonly)');
  });
});
