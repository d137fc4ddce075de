/**
 * bench/webhook: ms365-webhook-in against the flow a user would otherwise wire by hand (core http in → function
 * doing the clientState check and the mapping → http response), side by side on the same real Node-RED 4.1 process
 * (the packed package). Prints, for each: answer latency p50/p99 at a steady offered load (500 notifications/s),
 * and throughput at saturation (closed loop, 16 in flight), then the ratio. Then the validation handshake (graph.md
 * §1.2: Graph gives up after 10 s) of ms365-webhook-in: its latency p99 while 500 notifications/s arrive on the same
 * route, beside the same handshake on the idle node (target p99 ≤ 1 s).
 *
 * The machine these run on is shared: the two flows are measured in `--rounds` alternating rounds (A B, B A, A B…),
 * so that a burst of load elsewhere does not fall on one side only; latencies are pooled over the rounds, throughput
 * is the median of the rounds (each round's figures are printed too). The notifications are posted with node:http
 * (keep-alive), a client light enough that the Node-RED process, not the client, is what saturates.
 *
 *   npx tsx bench/webhook.ts [--rate 500] [--seconds 5] [--rounds 3]
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import axios from 'axios';
import { startSimulator } from '../src/simulator/server';
import { SIM_CLIENT_ID, SIM_CLIENT_SECRET } from '../src/simulator/identity';
import { startNodeRed, waitUntil } from '../test/support/nodered-process';
import { report } from './report';
import { numberArg, percentile, processCpuMs } from './measure';
import { messageNotification } from './notification';

const RATE = numberArg('--rate', 500);
const SECONDS = numberArg('--seconds', 5);
const ROUNDS = numberArg('--rounds', 3);
const CLIENT_STATE = 'bench-client-state';

function notification(i: number): string {
  return messageNotification(`m${i}`, i, CLIENT_STATE);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/**
 * Idle keep-alive connections closed before a phase: the server drops them after its keep-alive timeout (5 s), and a
 * request sent on one as it closes fails (ECONNRESET) for a reason that is the client's, not the server's.
 */
function dropIdleConnections(): void {
  for (const sockets of Object.values(agent.freeSockets)) for (const socket of sockets ?? []) socket.destroy();
}

/** POST a JSON body; its status and body text. */
function post(url: string, body: string): Promise<{ status: number; data: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (data += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, data }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
/** Graph's handshake comes on a connection of its own, not queued behind the notifications of our client's pool. */
const handshakeAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });
const handshakeClient = axios.create({ httpAgent: handshakeAgent, validateStatus: () => true, transformResponse: (d: unknown) => d });

interface Steady {
  latencies: number[];
  p50: number;
  p99: number;
  max: number;
  errors: number;
  sent: number;
  /** CPU time of the Node-RED process per notification answered (µs) over the steady phase. */
  cpuPerNotification: number;
}

/** The Node-RED process's CPU time so far (ms); set once it runs. */
let nodeRedCpuMs: () => number = () => NaN;

async function steady(url: string): Promise<Steady> {
  const latencies: number[] = [];
  let errors = 0;
  const total = RATE * SECONDS;
  dropIdleConnections();
  const cpu0 = nodeRedCpuMs();
  const start = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i += 1) {
    const due = start + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const t0 = performance.now();
    pending.push(
      post(url, notification(i)).then(
        (res) => {
          latencies.push(performance.now() - t0);
          if (res.status !== 202 && res.status !== 200) {
            errors += 1;
            if (errors === 1) console.error(`first error from ${url}: ${res.status} ${String(res.data).slice(0, 200)}`);
          }
        },
        () => {
          errors += 1;
        },
      ),
    );
  }
  await Promise.all(pending);
  return summary(latencies, errors, total, ((nodeRedCpuMs() - cpu0) * 1000) / total);
}

function summary(latencies: number[], errors: number, sent: number, cpuPerNotification: number): Steady {
  latencies.sort((a, b) => a - b);
  return { latencies, p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies[latencies.length - 1]!, errors, sent, cpuPerNotification };
}

const median = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50);

/** Handshakes (`?validationToken=`, text/plain, as Graph sends them) every `everyMs` until `until()`; their latencies. */
async function handshakes(url: string, until: () => boolean, everyMs = 20): Promise<{ latencies: number[]; failed: number; sent: number }> {
  const latencies: number[] = [];
  let failed = 0;
  const pending: Promise<void>[] = [];
  let i = 0;
  while (!until()) {
    const token = `Validation: Testing client application reachability for subscription Request-Id: bench-${(i += 1)}`;
    const t0 = performance.now();
    pending.push(
      handshakeClient
        .post(`${url}?${new URLSearchParams({ validationToken: token }).toString()}`, '', { headers: { 'Content-Type': 'text/plain; charset=utf-8' } })
        .then(
          (res) => {
            latencies.push(performance.now() - t0);
            if (res.status !== 200 || res.data !== token) failed += 1;
          },
          () => {
            failed += 1;
          },
        ),
    );
    await new Promise((r) => setTimeout(r, everyMs));
  }
  await Promise.all(pending);
  latencies.sort((a, b) => a - b);
  return { latencies, failed, sent: i };
}

async function saturation(url: string, seconds = 3, inFlight = 16): Promise<number> {
  let done = 0;
  dropIdleConnections();
  const end = performance.now() + seconds * 1000;
  let i = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < end) {
        await post(url, notification((i += 1))).catch(() => undefined);
        done += 1;
      }
    }),
  );
  return done / seconds;
}

async function main(): Promise<void> {
  const sim = await startSimulator();
  const nr = await startNodeRed({ version: 4 });
  try {
    await waitUntil('first flow start', () => /Started flows/.test(nr.log()));
    nodeRedCpuMs = () => processCpuMs(nr.pid());
    const tab = 'bench';
    await nr.deploy([
      { id: tab, type: 'tab', label: 'bench' },
      {
        id: 'conn', type: 'ms365-connector', name: 'bench', elementKey: 'outlookemail', tenant: sim.state.tenantId,
        grantType: 'client_credentials', scope: '', callbackUrl: '', authorityHost: sim.authorityHost, graphBaseUrl: sim.graphBaseUrl,
        userId: sim.state.defaultUser.id, tags: '', credentials: { clientId: SIM_CLIENT_ID, clientSecret: SIM_CLIENT_SECRET },
      },
      {
        id: 'ours', type: 'ms365-webhook-in', z: tab, connector: 'conn', path: '/bench/ours', notificationUrl: '', subscriptions: '[]',
        fetchResource: false, credentials: { clientState: CLIENT_STATE }, wires: [['sink1'], []],
      },
      { id: 'sink1', type: 'function', z: tab, func: 'return null;', outputs: 1, wires: [[]] },
      { id: 'hin', type: 'http in', z: tab, url: '/bench/hand', method: 'post', upload: false, wires: [['hfn']] },
      {
        id: 'hfn', type: 'function', z: tab, outputs: 2, wires: [['hres'], ['sink2']],
        func: [
          `const expected = ${JSON.stringify(CLIENT_STATE)};`,
          'const items = (msg.payload && msg.payload.value) || [];',
          'const events = [];',
          'for (const n of items) {',
          '  if (n.clientState !== expected) continue;',
          "  const type = { created: 'CREATED', updated: 'UPDATED', deleted: 'DELETED' }[n.changeType] || 'UNKNOWN';",
          "  events.push({ payload: { eventType: type, objectType: 'messages', objectId: n.resourceData && n.resourceData.id, source: 'webhook', raw: n } });",
          '}',
          'msg.statusCode = 202; msg.payload = "";',
          'return [msg, events];',
        ].join('\n'),
      },
      { id: 'hres', type: 'http response', z: tab, statusCode: '', wires: [] },
      { id: 'sink2', type: 'function', z: tab, func: 'return null;', outputs: 1, wires: [[]] },
    ]);
    await new Promise((r) => setTimeout(r, 1000));
    const ours = `${nr.url}bench/ours`;
    const hand = `${nr.url}bench/hand`;
    // Warm up both.
    await steady(ours).catch(() => undefined);
    await steady(hand).catch(() => undefined);
    const targets = [
      ['ms365-webhook-in', ours],
      ['hand-wired http in → function → http response', hand],
    ] as const;
    const rounds = new Map<string, Array<Steady & { saturated: number }>>(targets.map(([name]) => [name, []]));
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const [name, url] of round % 2 === 0 ? targets : [...targets].reverse()) {
        const s = await steady(url);
        const saturated = await saturation(url);
        rounds.get(name)!.push({ ...s, saturated });
      }
    }
    const results: Record<string, Steady & { saturated: number; roundP99: number[]; roundSaturated: number[] }> = {};
    for (const [name] of targets) {
      const rs = rounds.get(name)!;
      const pooled = summary(
        rs.flatMap((r) => r.latencies),
        rs.reduce((n, r) => n + r.errors, 0),
        rs.reduce((n, r) => n + r.sent, 0),
        median(rs.map((r) => r.cpuPerNotification)),
      );
      results[name] = { ...pooled, saturated: median(rs.map((r) => r.saturated)), roundP99: rs.map((r) => r.p99), roundSaturated: rs.map((r) => r.saturated) };
    }
    console.log(
      `bench/webhook: Node-RED ${nr.version} (Node ${process.version}), ${ROUNDS} alternating rounds of: offered ${RATE}/s for ${SECONDS} s, then closed loop 16 in flight for 3 s`,
    );
    for (const [name, r] of Object.entries(results)) {
      console.log(
        `  ${name.padEnd(48)} p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  max ${r.max.toFixed(1)} ms  errors ${r.errors}/${r.sent}  Node-RED CPU ${r.cpuPerNotification.toFixed(0)} µs/notification (median)  saturated ${r.saturated.toFixed(0)} notifications/s (median)`,
      );
      console.log(`  ${''.padEnd(48)} rounds: p99 ${r.roundP99.map((x) => x.toFixed(1)).join(' / ')} ms; saturated ${r.roundSaturated.map((x) => x.toFixed(0)).join(' / ')} notifications/s`);
    }
    // The handshake on the idle node, then while the offered load runs on the same route.
    const idleEnd = performance.now() + 3000;
    const idle = await handshakes(ours, () => performance.now() > idleEnd);
    let loadDone = false;
    const [loaded, underLoad] = await Promise.all([
      handshakes(ours, () => loadDone),
      steady(ours).finally(() => {
        loadDone = true;
      }),
    ]);
    const idleP99 = percentile(idle.latencies, 99);
    const loadedP99 = percentile(loaded.latencies, 99);
    console.log(
      `  validation handshake of ms365-webhook-in: p99 ${loadedP99.toFixed(2)} ms (max ${loaded.latencies[loaded.latencies.length - 1]?.toFixed(1)} ms, ${loaded.sent} handshakes, ${loaded.failed} failed) while ${RATE} notifications/s arrive (${underLoad.errors} errors); idle p99 ${idleP99.toFixed(2)} ms; target p99 ≤ 1000 ms (Graph allows 10 s)`,
    );
    const [a, b] = Object.values(results) as [(typeof results)[string], (typeof results)[string]];
    console.log(`  throughput ratio (ours / hand-wired): ${(a.saturated / b.saturated).toFixed(2)}x; answer latency p99 ratio (ours / hand-wired): ${(a.p99 / b.p99).toFixed(2)}x; CPU per notification ratio: ${(a.cpuPerNotification / b.cpuPerNotification).toFixed(2)}x`);
    const handWired = { what: 'hand-wired http in → function → http response' };
    report({ figure: `webhook-in answer latency p50 at ${RATE}/s`, value: a.p50, unit: 'ms', baseline: { ...handWired, value: b.p50 }, ratio: a.p50 / b.p50 });
    report({ figure: `webhook-in answer latency p99 at ${RATE}/s`, value: a.p99, unit: 'ms', baseline: { ...handWired, value: b.p99 }, ratio: a.p99 / b.p99, target: 'p99 ≤ 20 ms' });
    report({
      figure: `webhook-in Node-RED CPU per notification at ${RATE}/s`,
      value: a.cpuPerNotification,
      unit: 'µs',
      baseline: { ...handWired, value: b.cpuPerNotification },
      ratio: a.cpuPerNotification / b.cpuPerNotification,
    });
    report({ figure: 'webhook-in errors at the offered load', value: a.errors, unit: `of ${a.sent}`, baseline: { ...handWired, value: b.errors } });
    report({
      figure: `webhook-in validation handshake p99 while ${RATE} notifications/s arrive`,
      value: loadedP99,
      unit: 'ms',
      baseline: { what: 'the same handshake on the idle node', value: idleP99 },
      ratio: loadedP99 / idleP99,
      target: 'p99 ≤ 1 s (Graph allows 10 s)',
    });
    report({ figure: 'webhook-in validation handshakes failed under load', value: loaded.failed, unit: `of ${loaded.sent}` });
    report({ figure: 'webhook-in throughput, 16 in flight', value: a.saturated, unit: 'notifications/s', baseline: { ...handWired, value: b.saturated }, ratio: a.saturated / b.saturated, target: '≥ 1.4× hand-wired' });
  } finally {
    await nr.dispose();
    await sim.close();
    agent.destroy();
    handshakeAgent.destroy();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
