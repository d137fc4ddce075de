/**
 * bench/cluster: cluster mode (issue 17) on real Node-RED 4.1 processes (the packed package), one real Debian
 * redis-server (test/support/redis.ts) and the simulated tenant, as test/reliability/cluster.test.ts starts them.
 * Prints, each figure beside its baseline from the same run (nothing is asserted):
 *
 * 1. ms365-webhook-in notifications/s at saturation (closed loop, `--in-flight` requests in flight) through a small
 *    round-robin HTTP proxy (node:http, in a child process of its own so that it does not share the client's event
 *    loop): 3 instances in cluster mode (notification dedupe in Redis) against 1 instance of the same cluster, same
 *    flows, same proxy (the baseline; ratio 3 / 1). For information, 1 instance in file mode (no cluster, in-memory
 *    dedupe only) through the same proxy: the cost of the Redis claim per notification. Every notification is new
 *    (its own id and etag), so every one is claimed in Redis. The three set-ups are measured in `--rounds`
 *    alternating rounds (median of the rounds) because the machine may be shared.
 * 2. Poller failover: the poller owner (the process holding the `poller:<node>:messages` lease, read from Redis as
 *    the reliability test does) SIGKILLed `--kills` times at a random point of its poll cycle, then started again.
 *    Times from the kill until another instance holds the lease and until the first delta request of the new owner
 *    reaches the simulator, p50 and p99 (with 10 kills the p99 is the slowest one). Baseline: the stated bound, lease
 *    TTL (`ms365ClusterLeaseMs`, `--lease-ms`) plus one poll interval (`--interval-s`). The lease is read every 20 ms
 *    (plus a Redis round trip), the poll's time is its arrival at the simulator: the first poll may show a few ms
 *    before the lease, since the new owner polls as soon as it has taken over.
 *
 * Needs `redis-server` (`/usr/bin/redis-server` or REDIS_SERVER_PATH) and a build (`node scripts/build.js`; the
 * packed package is built on first use if dist/ is missing). About 2–3 minutes.
 *
 *   npx tsx bench/cluster.ts [--seconds 3] [--rounds 3] [--in-flight 32] [--kills 10] [--lease-ms 3000] [--interval-s 1.2]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { startSimulator, type Simulator } from '../src/simulator/server';
import { SIM_CLIENT_ID, SIM_CLIENT_SECRET } from '../src/simulator/identity';
import { leaseNames, openRedisState } from '../src/core/state';
import { startNodeRed, waitUntil, type NodeRedProcess } from '../test/support/nodered-process';
import { redisServerPath, startRedisServer } from '../test/support/redis';
import { startRoundRobinProxy } from '../test/support/round-robin-proxy';
import { report } from './report';
import { numberArg, percentile, processCpuMs } from './measure';
import { messageNotification } from './notification';

const SECONDS = numberArg('--seconds', 3);
const ROUNDS = numberArg('--rounds', 3);
const IN_FLIGHT = numberArg('--in-flight', 32);
const KILLS = numberArg('--kills', 10);
const LEASE_MS = numberArg('--lease-ms', 3_000);
const INTERVAL_S = numberArg('--interval-s', 1.2);
const CLIENT_STATE = 'bench-client-state';
const PREFIX = 'benchcluster';
const HOOK_PATH = '/bench/hook';
const LEASE = leaseNames.poller('poll', 'messages');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50);

// ---------------------------------------------------------------------------------------------------------------
// The round-robin proxy (test/support/round-robin-proxy.ts, as the e2e and reliability tests use it), in a child
// process: `cluster.ts --proxy name=port,port name=port …` listens on a free loopback port, prints `PROXY <port>`,
// and sends `/<name>/<path>` to `<path>` on the ports of pool <name>, one after the other.
// ---------------------------------------------------------------------------------------------------------------

function runProxy(spec: string[]): void {
  const pools = new Map<string, string[]>();
  for (const entry of spec) {
    const [name, ports] = entry.split('=');
    if (name && ports) pools.set(name, ports.split(',').map((port) => `http://127.0.0.1:${port}/`));
  }
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  void startRoundRobinProxy({
    route: (req) => {
      const match = /^\/([^/]+)(\/.*)$/.exec(req.url ?? '');
      const targets = match ? pools.get(match[1]!) : undefined;
      return match && targets ? { pool: match[1]!, targets, path: match[2]! } : undefined;
    },
    agent,
  }).then((proxy) => console.log(`PROXY ${new URL(proxy.url).port}`));
}

async function startProxy(pools: Record<string, number[]>): Promise<{ url: string; child: ChildProcess }> {
  const spec = Object.entries(pools).map(([name, ports]) => `${name}=${ports.join(',')}`);
  // Under tsx, execArgv holds its loader: the child runs this same file.
  const child = spawn(process.execPath, [...process.execArgv, __filename, '--proxy', ...spec], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /PROXY (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`proxy exited ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}`, child };
}

// ---------------------------------------------------------------------------------------------------------------
// The client: new notifications, closed loop.
// ---------------------------------------------------------------------------------------------------------------

const nonce = randomBytes(4).toString('hex');
let sequence = 0;

function notification(): string {
  const i = (sequence += 1);
  return messageNotification(`${nonce}-${i}`, i, CLIENT_STATE);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

function post(url: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

interface Saturation {
  /** Answered 202 per second. */
  rate: number;
  errors: number;
  sent: number;
  /** CPU time of the Node-RED processes behind the proxy, summed, per answered notification (µs). */
  cpuPerNotification: number;
  /** CPU time of the proxy process per answered notification (µs). */
  proxyCpuPerNotification: number;
}

async function saturate(url: string, seconds: number, backends: NodeRedProcess[], proxyPid: number | undefined): Promise<Saturation> {
  for (const sockets of Object.values(agent.freeSockets)) for (const socket of sockets ?? []) socket.destroy();
  const cpu = () => backends.reduce((sum, nr) => sum + processCpuMs(nr.pid()), 0);
  const cpu0 = cpu();
  const proxy0 = processCpuMs(proxyPid);
  let ok = 0;
  let errors = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (performance.now() < end) {
        const status = await post(url, notification()).catch(() => 0);
        if (status === 202) ok += 1;
        else errors += 1;
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  return {
    rate: ok / elapsed,
    errors,
    sent: ok + errors,
    cpuPerNotification: ((cpu() - cpu0) * 1000) / Math.max(1, ok),
    proxyCpuPerNotification: ((processCpuMs(proxyPid) - proxy0) * 1000) / Math.max(1, ok),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Flows.
// ---------------------------------------------------------------------------------------------------------------

function flow(sim: Simulator, redisUrl: string | undefined, withPoller: boolean): unknown[] {
  return [
    { id: 'tab', type: 'tab', label: 'bench cluster' },
    ...(redisUrl ? [{ id: 'cl', type: 'ms365-cluster', name: '', url: redisUrl, prefix: PREFIX }] : []),
    {
      id: 'conn', type: 'ms365-connector', name: 'bench', elementKey: 'outlookemail', tenant: sim.state.tenantId, grantType: 'client_credentials',
      scope: '', callbackUrl: '', authorityHost: sim.authorityHost, graphBaseUrl: sim.graphBaseUrl, userId: sim.state.defaultUser.id, tags: '',
      ...(redisUrl ? { cluster: 'cl' } : {}),
      credentials: { clientId: SIM_CLIENT_ID, clientSecret: SIM_CLIENT_SECRET },
    },
    {
      id: 'hook', type: 'ms365-webhook-in', z: 'tab', connector: 'conn', path: HOOK_PATH, notificationUrl: '', subscriptions: '[]',
      fetchResource: false, credentials: { clientState: CLIENT_STATE }, wires: [['sink'], []],
    },
    ...(withPoller
      ? [{
          id: 'poll', type: 'ms365-poller', z: 'tab', connector: 'conn', interval: INTERVAL_S / 60, timezone: 'UTC',
          configuration: JSON.stringify({ messages: { url: '/me/mailFolders/inbox/messages/delta', idField: 'id' } }), pollOnStart: true, wires: [['sink']],
        }]
      : []),
    { id: 'sink', type: 'function', z: 'tab', func: 'return null;', outputs: 1, wires: [[]] },
  ];
}

// ---------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  if (!redisServerPath()) throw new Error(`redis-server not found at ${process.env.REDIS_SERVER_PATH || '/usr/bin/redis-server'} (apt-get install redis-server, or set REDIS_SERVER_PATH)`);
  const t0 = Date.now();
  const load0 = os.loadavg()[0]!;
  const redis = await startRedisServer();
  const sim = await startSimulator();
  const settings = { ms365ClusterLeaseMs: LEASE_MS };
  const nrs: NodeRedProcess[] = [];
  let fileMode: NodeRedProcess | undefined;
  let proxy: ChildProcess | undefined;
  const observer = await openRedisState({ url: redis.url, prefix: PREFIX, owner: 'bench-observer' });
  try {
    const started = await Promise.all([0, 1, 2, 3].map(() => startNodeRed({ version: 4, settings })));
    fileMode = started.pop()!;
    nrs.push(...started);
    await Promise.all([...nrs, fileMode].map((nr) => waitUntil('first flow start', () => /Started flows/.test(nr.log()), 60_000)));
    await Promise.all(nrs.map((nr) => nr.deploy(flow(sim, redis.url, false))));
    await fileMode.deploy(flow(sim, undefined, false));
    const started2 = await startProxy({ one: [nrs[0]!.port], three: nrs.map((nr) => nr.port), file: [fileMode.port] });
    proxy = started2.child;
    const setups = [
      { key: 'three', name: '3 instances, cluster', backends: nrs },
      { key: 'one', name: '1 instance, cluster', backends: [nrs[0]!] },
      { key: 'file', name: '1 instance, file mode', backends: [fileMode] },
    ] as const;
    const urlOf = (key: string) => `${started2.url}/${key}${HOOK_PATH}`;
    // Deploys settle, the cluster node connects; a first request per route warms each up.
    await Promise.all(
      setups.map((s) =>
        waitUntil(`${s.name} answers 202`, async () => (await Promise.all(s.backends.map(() => post(urlOf(s.key), notification()).catch(() => 0)))).every((st) => st === 202), 30_000),
      ),
    );
    for (const s of setups) await saturate(urlOf(s.key), 1, [...s.backends], proxy.pid);

    const rounds = new Map<string, Saturation[]>(setups.map((s) => [s.key, []]));
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const s of round % 2 === 0 ? setups : [...setups].reverse()) {
        rounds.get(s.key)!.push(await saturate(urlOf(s.key), SECONDS, [...s.backends], proxy.pid));
      }
    }
    await fileMode.dispose(); // the failover part needs only the cluster
    fileMode = undefined;
    const result = (key: string) => {
      const rs = rounds.get(key)!;
      return {
        rate: median(rs.map((r) => r.rate)),
        rates: rs.map((r) => r.rate),
        errors: rs.reduce((n, r) => n + r.errors, 0),
        sent: rs.reduce((n, r) => n + r.sent, 0),
        cpu: median(rs.map((r) => r.cpuPerNotification)),
        proxyCpu: median(rs.map((r) => r.proxyCpuPerNotification)),
      };
    };
    const three = result('three');
    const one = result('one');
    const file = result('file');
    console.log(
      `bench/cluster: Node-RED ${nrs[0]!.version}.x (Node ${process.version}), ${os.cpus().length} CPUs, load average ${load0.toFixed(2)} at the start; ` +
        `webhook-in through a round-robin proxy, ${ROUNDS} alternating rounds of ${SECONDS} s, closed loop ${IN_FLIGHT} in flight, every notification new`,
    );
    for (const s of setups) {
      const r = result(s.key);
      console.log(
        `  ${s.name.padEnd(24)} ${r.rate.toFixed(0).padStart(6)} notifications/s (median; rounds ${r.rates.map((x) => x.toFixed(0)).join(' / ')})  errors ${r.errors}/${r.sent}  ` +
          `Node-RED CPU ${r.cpu.toFixed(0)} µs/notification (summed over instances)  proxy CPU ${r.proxyCpu.toFixed(0)} µs/notification`,
      );
    }
    console.log(`  ratio 3 instances / 1 instance (cluster): ${(three.rate / one.rate).toFixed(2)}x; 1 instance cluster / file mode: ${(one.rate / file.rate).toFixed(2)}x`);
    // What bounds the ratio: the cores the Node-RED processes and the proxy keep busy at saturation (the load generator
    // and Redis come on top). When the three instances already use what the machine has, a third instance cannot add
    // throughput, whatever the cluster mode costs.
    const cores = (r: { rate: number; cpu: number; proxyCpu: number }) => ((r.cpu + r.proxyCpu) * r.rate) / 1e6;
    console.log(
      `  cores busy at saturation (Node-RED summed + proxy; load generator and Redis not counted) of ${os.cpus().length}: ` +
        `3 instances ${cores(three).toFixed(2)}, 1 instance ${cores(one).toFixed(2)}, file mode ${cores(file).toFixed(2)}`,
    );
    const oneCluster = { what: '1 instance of the same cluster, same proxy', value: one.rate };
    report({ figure: `cluster webhook-in throughput, 3 instances behind a round-robin proxy, ${IN_FLIGHT} in flight`, value: three.rate, unit: 'notifications/s', baseline: oneCluster, ratio: three.rate / one.rate, target: '≥ 2× one instance' });
    report({
      figure: `cluster webhook-in throughput, 1 instance (dedupe in Redis), ${IN_FLIGHT} in flight`,
      value: one.rate,
      unit: 'notifications/s',
      baseline: { what: '1 instance in file mode, no cluster, same proxy; for information', value: file.rate },
      ratio: one.rate / file.rate,
    });
    report({
      figure: `cluster webhook-in errors, 3 instances (of ${three.sent} sent)`,
      value: three.errors,
      unit: 'errors',
      baseline: { what: `1 instance of the same cluster, of ${one.sent} sent`, value: one.errors },
    });

    // ---- 2. Poller failover --------------------------------------------------------------------------------
    await Promise.all(nrs.map((nr) => nr.deploy(flow(sim, redis.url, true))));
    const deltaPolls = () => sim.state.graph.requests.list(/messages\/delta/);
    const ownerPid = async (): Promise<number | undefined> => {
      const holder = await observer.leases.holder(LEASE);
      return holder ? Number(holder.owner.split(':').at(-2)) : undefined;
    };
    const ownerProcess = async () => {
      const pid = await ownerPid();
      return nrs.find((nr) => nr.pid() === pid);
    };
    await waitUntil('an owner polling', async () => (await ownerProcess()) && deltaPolls().length >= 2, 30_000);
    const toLease: number[] = [];
    const toPoll: number[] = [];
    for (let kill = 1; kill <= KILLS; kill += 1) {
      const owner = await waitUntil('an owner', ownerProcess, 30_000);
      await waitUntil('the owner polled once more', () => deltaPolls().some((e) => Date.parse(e.at) > Date.now() - INTERVAL_S * 1000 * 1.5), 10_000).catch(() => undefined);
      await sleep(Math.random() * INTERVAL_S * 1000); // a random point of its poll cycle
      const pid = owner.pid();
      const killedAt = Date.now();
      await owner.kill();
      let leaseAt: number | undefined;
      let pollAt: number | undefined;
      const deadline = killedAt + 10 * (LEASE_MS + INTERVAL_S * 1000);
      while ((leaseAt === undefined || pollAt === undefined) && Date.now() < deadline) {
        if (leaseAt === undefined) {
          const next = await ownerPid();
          if (next !== undefined && next !== pid) leaseAt = Date.now();
        }
        if (pollAt === undefined) {
          // Arrival time (simulator clock, not shifted here) of the first delta request after the kill.
          const first = deltaPolls().find((e) => Date.parse(e.at) > killedAt);
          if (first) pollAt = Date.parse(first.at);
        }
        await sleep(20);
      }
      if (leaseAt === undefined || pollAt === undefined) throw new Error(`kill ${kill}: no new owner ${leaseAt === undefined ? 'lease' : 'poll'} within ${deadline - killedAt} ms`);
      toLease.push(leaseAt - killedAt);
      toPoll.push(pollAt - killedAt);
      console.log(`  kill ${String(kill).padStart(2)}: new lease holder after ${leaseAt - killedAt} ms, its first poll after ${pollAt - killedAt} ms`);
      await owner.restart();
    }
    const bound = LEASE_MS + INTERVAL_S * 1000;
    const leaseSorted = [...toLease].sort((a, b) => a - b);
    const pollSorted = [...toPoll].sort((a, b) => a - b);
    console.log(
      `  failover over ${KILLS} SIGKILLs of the poller owner (3 instances, lease TTL ${LEASE_MS} ms, poll every ${INTERVAL_S} s; stated bound ${bound} ms): ` +
        `to the new lease holder p50 ${percentile(leaseSorted, 50)} ms p99 ${percentile(leaseSorted, 99)} ms; ` +
        `to its first poll p50 ${percentile(pollSorted, 50)} ms p99 ${percentile(pollSorted, 99)} ms`,
    );
    const stated = { what: `stated bound: lease TTL ${LEASE_MS / 1000} s + one poll interval ${INTERVAL_S} s`, value: bound };
    const target = 'failover ≤ lease TTL + one poll interval';
    for (const [what, sorted] of [['new lease holder', leaseSorted], ['first poll of the new owner', pollSorted]] as const) {
      for (const p of [50, 99]) {
        const value = percentile(sorted, p);
        report({ figure: `cluster poller failover p${p}, SIGKILL → ${what} (${KILLS} kills)`, value, unit: 'ms', baseline: stated, ratio: value / bound, target });
      }
    }
    console.log(`  ${((Date.now() - t0) / 1000).toFixed(0)} s in all; load average ${os.loadavg()[0]!.toFixed(2)} at the end`);
  } finally {
    proxy?.kill();
    await Promise.all([...nrs, ...(fileMode ? [fileMode] : [])].map((nr) => nr.dispose()));
    await observer.close();
    await sim.close();
    await redis.dispose();
    agent.destroy();
  }
}

const HELP = `bench/cluster.ts: cluster mode figures (issue 17) on three real Node-RED 4.1 processes, redis-server and
the simulator: webhook-in notifications/s through a round-robin proxy (3 instances against 1, and 1 in file mode),
and the poller failover time after SIGKILL (p50, p99). Needs redis-server and a build (node scripts/build.js).

  npx tsx bench/cluster.ts [options]

  --seconds <n>     length of one saturation round (default 3)
  --rounds <n>      alternating rounds per set-up, median reported (default 3)
  --in-flight <n>   notifications in flight, closed loop (default 32)
  --kills <n>       SIGKILLs of the poller owner (default 10)
  --lease-ms <n>    lease TTL, ms365ClusterLeaseMs (default 3000)
  --interval-s <n>  poll interval in seconds (default 1.2)
  --help            this text
`;

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(HELP);
} else if (process.argv.includes('--proxy')) {
  runProxy(process.argv.slice(process.argv.indexOf('--proxy') + 1));
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
