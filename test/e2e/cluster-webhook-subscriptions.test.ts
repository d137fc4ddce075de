/**
 * Cluster mode of ms365-webhook-in (issue 17) on THREE real Node-RED 4.1 processes (packed package), one real
 * redis-server and the simulated tenant, behind a round-robin proxy at the notification URL (as a load balancer).
 * Every instance runs the same flow: ms365-cluster ← ms365-connector (app-only) ← two ms365-webhook-in nodes whose
 * subscriptions live 12 s (renewed at about half their life). Lease TTL 3 s (`ms365ClusterLeaseMs`).
 * - one subscription per webhook-in node at the simulator (not three), each renewed once per cycle (not three times);
 * - the owner of a node's subscriptions SIGKILLed: another instance adopts the same subscription (no second create)
 *   and renews it, the failover printed; changes made meanwhile come out (notifications spread over the instances);
 * - a reauthorizationRequired lifecycle notification that reaches a standby instance is handed to the owner through
 *   Redis, which reauthorizes at once (time printed).
 * Needs `node scripts/build.js` first (the packed package).
 */
import assert from 'node:assert/strict';
import { startNodeRed, waitUntil, type NodeRedProcess } from '../support/nodered-process';
import { useSimulator } from '../support/simulator';
import { useRedisServer } from '../support/redis';
import { singlePool, startRoundRobinProxy, type RoundRobinProxy } from '../support/round-robin-proxy';
import { SIM_CLIENT_ID, SIM_CLIENT_SECRET } from '../../src/simulator/identity';
import { subscriptionsOf } from '../../src/simulator/subscriptions';
import { leaseNames, openRedisState, type RedisSharedState } from '../../src/core/state';

const LEASE_MS = 3_000;
const PREFIX = 'e2ewebhook';
const LIFETIME_MIN = 0.2; // 12 s: renewed about every 6 s
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('e2e: three Node-RED instances share each webhook-in node\'s subscriptions through Redis (cluster mode)', function () {
  this.timeout(180_000);
  const redis = useRedisServer();
  const sim = useSimulator();
  const nrs: NodeRedProcess[] = [];
  let proxy: RoundRobinProxy | undefined;
  let proxyUrl = '';
  let observer: RedisSharedState;
  /** Notifications (not handshakes) each instance was given by the proxy. */
  const delivered = [0, 0, 0];

  before(async () => {
    nrs.push(...(await Promise.all([0, 1, 2].map(() => startNodeRed({ version: 4, settings: { ms365ClusterLeaseMs: LEASE_MS } })))));
    // Round robin over the instances that answer (a killed one is skipped, as a load balancer's health check would).
    proxy = await startRoundRobinProxy({
      route: singlePool(() => nrs.map((nr) => (nr.pid() === undefined ? undefined : nr.httpNodeUrl))),
      attempts: (targets) => targets * 2,
      onAnswer: (_pool, index, _status, req) => {
        if (!(req.url ?? '').includes('validationToken')) delivered[index]! += 1;
      },
    });
    proxyUrl = proxy.url;
    observer = await openRedisState({ url: redis().url, prefix: PREFIX, owner: 'test-observer' });
  });
  after(async () => {
    await Promise.all(nrs.map((nr) => nr.dispose()));
    await observer?.close();
    await proxy?.close();
  });

  const user = () => sim().state.defaultUser.id;
  const requests = (method: string, pattern: RegExp) => sim().state.graph.requests.list(/\/subscriptions/).filter((e) => e.method === method && pattern.test(e.path.split('?')[0]!));
  const creates = () => requests('POST', /\/subscriptions$/);
  const renewsOf = (id: string) => requests('PATCH', new RegExp(`/subscriptions/${id}$`)).length;
  const storedId = async (node: string) => (await observer.subscriptions.read(leaseNames.subscriptions(node)))?.value[0]?.id;
  const ownerPid = async (node: string) => {
    const holder = await observer.leases.holder(leaseNames.subscriptions(node));
    return holder ? Number(holder.owner.split(':').at(-2)) : undefined;
  };

  it('deploys the same flow on three instances: one subscription per webhook-in node, renewed once per cycle', async () => {
    const flow = [
      { id: 'tab', type: 'tab', label: 'cluster webhooks' },
      { id: 'cl', type: 'ms365-cluster', name: '', url: redis().url, prefix: PREFIX },
      {
        id: 'conn', type: 'ms365-connector', name: 'Cluster', elementKey: 'outlookemail', tenant: sim().state.tenantId, grantType: 'client_credentials',
        scope: '', callbackUrl: '', authorityHost: sim().authorityHost, graphBaseUrl: sim().graphBaseUrl, userId: user(), tags: '', cluster: 'cl',
        credentials: { clientId: SIM_CLIENT_ID, clientSecret: SIM_CLIENT_SECRET },
      },
      {
        id: 'w1', type: 'ms365-webhook-in', z: 'tab', connector: 'conn', path: '/hooks/mail', notificationUrl: proxyUrl, fetchResource: false,
        subscriptions: JSON.stringify([{ resource: 'me/messages', changeType: 'created,updated,deleted', expirationMinutes: LIFETIME_MIN }]), wires: [[], []],
      },
      {
        id: 'w2', type: 'ms365-webhook-in', z: 'tab', connector: 'conn', path: '/hooks/events', notificationUrl: proxyUrl, fetchResource: false,
        subscriptions: JSON.stringify([{ resource: 'me/events', changeType: 'created,updated,deleted', expirationMinutes: LIFETIME_MIN }]), wires: [[], []],
      },
    ];
    await Promise.all(nrs.map((nr) => nr.deploy(flow)));
    const ids = await waitUntil('both nodes\' subscriptions stored', async () => {
      const [a, b] = [await storedId('w1'), await storedId('w2')];
      return a && b ? [a, b] : undefined;
    }, 30_000);
    const startedAt = Date.now();
    await sleep(20_000);
    const elapsed = Date.now() - startedAt;
    assert.equal(creates().length, 2, 'one create per webhook-in node across three instances');
    const cycles = elapsed / ((LIFETIME_MIN * 60_000) / 2);
    for (const id of ids) {
      const renews = renewsOf(id);
      assert.ok(renews >= Math.floor(cycles) - 1 && renews <= Math.ceil(cycles) + 1, `${renews} renewals of ${id} in ${elapsed} ms (${cycles.toFixed(1)} cycles)`);
    }
    for (const nr of nrs) assert.doesNotMatch(nr.log(), /\[error\]/, 'no error at deploy');
    console.log(`      ${creates().length} creates, renewals ${ids.map(renewsOf).join(' / ')} in ${(elapsed / 1000).toFixed(0)} s (${cycles.toFixed(1)} cycles)`);
  });

  it('the owner SIGKILLed: another instance adopts the same subscription (no second create) and renews it; notifications still answered', async () => {
    const id = (await storedId('w1'))!;
    const pid = await ownerPid('w1');
    const owner = nrs.find((nr) => nr.pid() === pid);
    assert.ok(owner, 'the owner is one of the three');
    // Killed just after a renewal: the subscription then has most of its 12 s left, so a failover slowed by a loaded
    // machine adopts it before it expires at Graph (an expired one is rightly created again: not what this tests).
    const renewedBefore = renewsOf(id);
    await waitUntil('a renewal by the owner', () => renewsOf(id) > renewedBefore, 15_000);
    const renewsBefore = renewsOf(id);
    const killedAt = Date.now();
    await owner.kill();
    await waitUntil('another instance holds the lease', async () => {
      const now = await ownerPid('w1');
      return now !== undefined && now !== pid;
    }, 4 * LEASE_MS);
    const failover = Date.now() - killedAt;
    await waitUntil('the adopted subscription renewed', () => renewsOf(id) > renewsBefore, 20_000);
    assert.equal(creates().length, 2, 'no second create');
    assert.equal(await storedId('w1'), id);
    // Notifications reach the two live instances (round robin): every batch answered 202.
    const deliveries = subscriptionsOf(sim().state).deliveries;
    const from = deliveries.length;
    for (let k = 0; k < 4; k++) {
      sim().state.graph.store.createMessage(user(), { subject: `after failover ${k}` });
      await sleep(500);
    }
    await waitUntil('four notifications delivered', () => deliveries.slice(from).reduce((n, d) => n + d.items, 0) >= 4, 15_000);
    assert.deepEqual([...new Set(deliveries.slice(from).map((d) => d.status))], [202]);
    console.log(`      subscription owner failover: ${failover} ms (lease TTL ${LEASE_MS} ms); notifications per instance ${delivered.join(' / ')}`);
    await owner.restart();
  });

  it('reauthorizationRequired reaching a standby instance: handed to the owner through Redis, reauthorized at once', async () => {
    const id = (await storedId('w1'))!;
    const reauthorizations = () => requests('POST', new RegExp(`/subscriptions/${id}/reauthorize$`)).length;
    for (let attempt = 0; attempt < 3; attempt++) {
      const ownerIndex = nrs.map((nr) => nr.pid()).indexOf(await ownerPid('w1'));
      const before = [...delivered];
      const reauthorizedBefore = reauthorizations();
      const sent = Date.now();
      const answer = await fetch(`${sim().controlUrl}/subscriptions/${id}/lifecycle`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ event: 'reauthorizationRequired' }) });
      assert.equal(answer.status, 202);
      const { index } = await waitUntil('the lifecycle notification delivered', () => {
        const i = delivered.findIndex((n, k) => n > before[k]!);
        return i >= 0 ? { index: i } : undefined;
      }, 10_000);
      await waitUntil('the owner reauthorized', () => reauthorizations() > reauthorizedBefore, 10_000);
      const took = Date.now() - sent;
      if (index === ownerIndex) continue; // the owner got it itself: try again for a standby
      assert.ok(took < 2_000, `reauthorized ${took} ms after the simulator sent it to a standby`);
      console.log(`      reauthorizationRequired at a standby → owner's reauthorize: ${took} ms`);
      return;
    }
    assert.fail('no lifecycle notification reached a standby instance in three tries');
  });
});
