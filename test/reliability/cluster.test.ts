/**
 * Cluster mode (issue 17) on THREE real Node-RED 4.1 processes (packed package), one real redis-server and the
 * simulated tenant. Every instance runs the same flow: ms365-cluster ← ms365-connector (app-only) ← ms365-poller
 * (mail by delta every 1.2 s) → ms365-callback-out (file mode, its own outbox per instance) → one loopback receiver.
 * Lease TTL 3 s (`ms365ClusterLeaseMs`).
 * (a) steady changes: every change comes out exactly once across the cluster;
 * (b) the poller owner SIGKILLed 5 times (and started again): nothing lost, a repeat only with the same eventId,
 *     failover time (kill → another instance holds the lease) printed;
 * (c) the owner SIGSTOPped past its lease, then SIGCONT: no write of it accepted (the cursor record's fencing number
 *     never goes back), no change with two eventIds;
 * (d) the token expired on all three at once, all three call Graph: exactly one grant per expiry at the simulator
 *     (and one grant for the whole cluster at deploy).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startNodeRed, waitUntil, type NodeRedProcess } from '../support/nodered-process';
import { useSimulator } from '../support/simulator';
import { useRedisServer } from '../support/redis';
import { SIM_CLIENT_ID, SIM_CLIENT_SECRET, identityOf } from '../../src/simulator/identity';
import { leaseNames, openRedisState, type RedisSharedState } from '../../src/core/state';

interface ReceivedEvent {
  eventType: string;
  objectId: string;
  eventId: string;
}

const LEASE_MS = 3_000;
const PREFIX = 'e2ecluster';
const LEASE = leaseNames.poller('poll', 'messages');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('reliability: three Node-RED instances share a poller through Redis (cluster mode)', function () {
  this.timeout(300_000);
  const redis = useRedisServer();
  const sim = useSimulator();
  const nrs: NodeRedProcess[] = [];
  let receiver: http.Server;
  let receiverUrl = '';
  let observer: RedisSharedState;
  const events: ReceivedEvent[] = [];
  const made = new Set<string>();
  let stopped: number | undefined;

  before(async function () {
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { message: { events: ReceivedEvent[] } };
          for (const e of body.message.events) events.push({ eventType: e.eventType, objectId: e.objectId, eventId: e.eventId });
          res.statusCode = 200;
        } catch {
          res.statusCode = 400;
        }
        res.end();
      });
      req.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/events`;
    observer = await openRedisState({ url: redis().url, prefix: PREFIX, owner: 'test-observer' });
    nrs.push(...(await Promise.all([0, 1, 2].map(() => startNodeRed({ version: 4, settings: { ms365ClusterLeaseMs: LEASE_MS } })))));
  });
  after(async () => {
    if (stopped) process.kill(stopped, 'SIGCONT');
    await Promise.all(nrs.map((nr) => nr.dispose()));
    await observer?.close();
    await new Promise<void>((resolve) => receiver?.close(() => resolve()) ?? resolve());
  });

  const user = () => sim().state.defaultUser.id;
  const store = () => sim().state.graph.store;
  const grants = () => identityOf(sim().state).requests('client_credentials').filter((r) => r.status === 200).length;
  const deltaPolls = () => sim().state.graph.requests.list(/messages\/delta/).length;
  /** The pid of the instance that owns the poller's resource (owner ids are `<host>:<pid>:<random>`). */
  const ownerPid = async (): Promise<number | undefined> => {
    const holder = await observer.leases.holder(LEASE);
    return holder ? Number(holder.owner.split(':').at(-2)) : undefined;
  };
  const ownerProcess = async () => {
    const pid = await ownerPid();
    return nrs.find((nr) => nr.pid() === pid);
  };
  const createMessages = (n: number, label: string) => {
    for (let k = 0; k < n; k++) made.add(`${String(store().createMessage(user(), { subject: `${label} #${k}` }).id)} CREATED`);
  };
  const allOut = (what: string) =>
    waitUntil(what, () => [...made].every((c) => events.some((e) => `${e.objectId} ${e.eventType}` === c)), 30_000).catch((err: Error) => {
      const got = new Set(events.map((e) => `${e.objectId} ${e.eventType}`));
      throw new Error(`${err.message}; missing ${[...made].filter((c) => !got.has(c)).length} of ${made.size}`);
    });
  const oneEventIdPerChange = () => {
    const ids = new Map<string, Set<string>>();
    for (const e of events) {
      const key = `${e.objectId} ${e.eventType}`;
      ids.set(key, (ids.get(key) ?? new Set()).add(e.eventId));
    }
    return [...ids].filter(([, set]) => set.size > 1).map(([key]) => key);
  };

  it('deploys the same flow on three instances: one owner, one token grant for the cluster', async () => {
    const flow = [
      { id: 'tab', type: 'tab', label: 'cluster' },
      { id: 'cl', type: 'ms365-cluster', name: '', url: redis().url, prefix: PREFIX },
      {
        id: 'conn', type: 'ms365-connector', name: 'Cluster', elementKey: 'outlookemail', tenant: sim().state.tenantId, grantType: 'client_credentials',
        scope: '', callbackUrl: '', authorityHost: sim().authorityHost, graphBaseUrl: sim().graphBaseUrl, userId: user(), tags: '', cluster: 'cl',
        credentials: { clientId: SIM_CLIENT_ID, clientSecret: SIM_CLIENT_SECRET },
      },
      { id: 'poll', type: 'ms365-poller', z: 'tab', connector: 'conn', interval: 0.02, timezone: 'UTC', configuration: JSON.stringify({ messages: { url: '/me/mailFolders/inbox/messages/delta', idField: 'id' } }), pollOnStart: true, wires: [['out']] },
      { id: 'out', type: 'ms365-callback-out', z: 'tab', url: receiverUrl, batchSize: 1, retries: 5, wires: [[], []] },
    ];
    const before = grants();
    await Promise.all(nrs.map((nr) => nr.deploy(flow)));
    await waitUntil('an owner polling', async () => (await ownerProcess()) && deltaPolls() >= 2, 30_000);
    await sleep(2_000);
    assert.equal(grants() - before, 1, 'one client_credentials grant for three instances');
    for (const nr of nrs) assert.doesNotMatch(nr.log(), /\[error\]/, 'no error at deploy');
  });

  it('(a) steady changes for 40 s: every change comes out exactly once across the cluster', async () => {
    const until = Date.now() + 40_000;
    const polls = deltaPolls();
    let n = 0;
    while (Date.now() < until) {
      createMessages(1, `steady ${n++}`);
      await sleep(400);
    }
    // One instance polls (every 1.2 s: about 33 polls in 40 s), not three.
    const polled = deltaPolls() - polls;
    assert.ok(polled < 50, `one poller polls: ${polled} delta requests in 40 s`);
    await allOut('every steady change at the receiver');
    await sleep(3_000); // two more polls: nothing more comes out
    const keys = events.map((e) => `${e.objectId} ${e.eventType}`);
    assert.equal(keys.length, new Set(keys).size, 'no change came out twice');
    assert.deepEqual(new Set(keys), made);
    console.log(`      steady: ${made.size} changes, ${events.length} events received, ${polled} delta polls in 40 s`);
  });

  it('(b) the poller owner SIGKILLed 5 times: nothing lost, repeats only with the same eventId; failover time printed', async () => {
    const failovers: number[] = [];
    for (let round = 1; round <= 5; round++) {
      const owner = await waitUntil('an owner', ownerProcess, 20_000);
      const pid = owner.pid();
      createMessages(3, `kill ${round}`);
      await sleep(Math.floor(Math.random() * 1_500));
      const killedAt = Date.now();
      await owner.kill();
      await waitUntil('another instance owns the resource', async () => {
        const next = await ownerPid();
        return next !== undefined && next !== pid;
      }, 20_000);
      failovers.push(Date.now() - killedAt);
      createMessages(2, `after kill ${round}`);
      await owner.restart();
    }
    await allOut('every change at the receiver after 5 kills');
    await sleep(3_000);
    assert.deepEqual(oneEventIdPerChange(), [], 'every repeated change carries the same eventId');
    assert.deepEqual(new Set(events.map((e) => `${e.objectId} ${e.eventType}`)), made, 'nothing else came out');
    const sorted = [...failovers].sort((x, y) => x - y);
    console.log(`      failover (SIGKILL → new lease holder, TTL ${LEASE_MS} ms): ${failovers.join(', ')} ms; median ${sorted[2]} ms, max ${sorted[4]} ms`);
    console.log(`      ${events.length} events received for ${made.size} changes (${events.length - made.size} repeats, same eventId)`);
    assert.ok(sorted[4]! <= LEASE_MS + 2_500, 'failover within one lease TTL and a retry');
  });

  it('(c) the owner SIGSTOPped past its lease, then SIGCONT: none of its writes is accepted, no change with two eventIds', async () => {
    const owner = await waitUntil('an owner', ownerProcess, 20_000);
    const pid = owner.pid()!;
    const fences: number[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const record = await observer.cursors.read(LEASE);
        if (record) fences.push(record.fence);
        await sleep(50);
      }
    })();
    createMessages(2, 'before stop');
    await sleep(800);
    process.kill(pid, 'SIGSTOP');
    stopped = pid;
    const stoppedFence = fences.at(-1) ?? 0;
    createMessages(3, 'while stopped');
    await waitUntil('another owner while it is stopped', async () => {
      const next = await ownerPid();
      return next !== undefined && next !== pid;
    }, 20_000);
    await sleep(LEASE_MS);
    createMessages(2, 'before cont');
    process.kill(pid, 'SIGCONT');
    stopped = undefined;
    await sleep(LEASE_MS);
    createMessages(3, 'after cont');
    await allOut('every change at the receiver after the pause');
    await sleep(3_000);
    sampling = false;
    await sampler;
    assert.ok(fences.every((f, i) => i === 0 || f >= fences[i - 1]!), `the cursor record's fencing number never goes back: ${fences.join(',')}`);
    assert.ok(fences.at(-1)! > stoppedFence, 'the new owner writes under a higher fencing number');
    assert.deepEqual(oneEventIdPerChange(), [], 'no change with two eventIds');
    assert.deepEqual(new Set(events.map((e) => `${e.objectId} ${e.eventType}`)), made);
  });

  it('(d) the token expired on all three at once, all three call Graph: exactly one grant per expiry', async () => {
    for (let expiry = 1; expiry <= 3; expiry++) {
      const before = grants();
      sim().state.accessTokens.expireAll();
      const answers = await Promise.all(nrs.map((nr) => nr.admin.get('ms365-connector/conn/browse/mailFolders')));
      assert.deepEqual(answers.map((a) => a.status), [200, 200, 200], JSON.stringify(answers.map((a) => a.data)));
      await sleep(1_500); // the owner's next poll uses the new token too
      assert.equal(grants() - before, 1, `expiry ${expiry}: one grant for the three instances`);
    }
    for (const nr of nrs) {
      assert.doesNotMatch(nr.log(), /unhandled|uncaught/i);
      assert.ok(!nr.log().includes(SIM_CLIENT_SECRET), 'client secret absent from the log');
    }
  });
});
