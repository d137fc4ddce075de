/**
 * Callback delivery figures (TARGETS.md: numbers are printed, never asserted). Run:
 *   node scripts/build.js && npx tsx bench/callback.ts     (the pipeline is the compiled package, dist/)
 * 1. The core pipeline of ms365-callback-out: events in input messages of 100 (each fsync'd into the outbox
 *    journal before "done", group commit), batched into notifications of 10, signed with HMAC-SHA256 and POSTed
 *    in order to a local receiver that answers 200; the journal records each delivery.
 * 2. The baseline: a bare axios loop (same keep-alive agent settings) POSTing the same bodies to the same receiver.
 * 3. For information: a bare node:http loop (the sender's own transport since issue 18) on the same bodies, so that
 *    the ratio to axios is read knowing how much of it is the transport.
 * Three alternating rounds of each (about 1 s each); prints the median events/s and the ratio to the bare axios
 * loop (target >= 1.0, issue 18; it was 0.8).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import axios from 'axios';
import type { Ms365Event } from '../src/core/events';
import { report } from './report';
import { builtModule } from './measure';

// The pipeline as installed users run it: the compiled package (bench/measure.ts `builtModule`).
const { buildNotifications } = builtModule<typeof import('../src/core/delivery/envelope')>('core/delivery/envelope');
const { Outbox } = builtModule<typeof import('../src/core/delivery/outbox')>('core/delivery/outbox');
const { CallbackSender } = builtModule<typeof import('../src/core/delivery/sender')>('core/delivery/sender');

const EVENTS_PER_INPUT = 100;
const INPUTS = Number(process.env.BENCH_INPUTS ?? 200); // 20,000 events, 2,000 notifications
const KEY = 'bench-signature-key';

function input(n: number): Ms365Event[] {
  return Array.from({ length: EVENTS_PER_INPUT }, (_, k) => {
    const i = n * EVENTS_PER_INPUT + k;
    return {
      eventId: `e${i}`, eventType: 'UPDATED', objectType: 'messages', objectId: `AAMkAGI2-${i}`, elementKey: 'outlookemail',
      instanceName: 'Bench', date: '2026-11-22T10:00:00.000Z', pollDate: '2026-11-22T10:01:00.000Z', source: 'polling',
      raw: { id: `AAMkAGI2-${i}`, subject: `Subject ${i}`, lastModifiedDateTime: '2026-11-22T10:00:00Z', isRead: false },
    };
  });
}

async function main(): Promise<void> {
  let received = 0;
  const server = http.createServer((req, res) => {
    req.on('data', () => undefined);
    req.on('end', () => {
      received++;
      res.writeHead(200).end();
    });
  });
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`;
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ms365-bench-callback-'));
  const inputs = Array.from({ length: INPUTS }, (_, n) => input(n));
  const totalEvents = INPUTS * EVENTS_PER_INPUT;

  // Warm-up (JIT, sockets) for both paths, not measured.
  {
    const warm = axios.create({ proxy: false, validateStatus: () => true, responseType: 'text' });
    const body = buildNotifications(input(INPUTS + 1))[0]!.body;
    for (let i = 0; i < 300; i++) await warm.post(url, body, { headers: { 'Content-Type': 'application/json' } });
    const { outbox: w } = await Outbox.open(path.join(dir, 'outbox-warmup.jsonl'));
    let left = 100;
    let warmed!: () => void;
    const done = new Promise<void>((resolve) => (warmed = resolve));
    const s = new CallbackSender({ url, outbox: w, signatureKey: KEY, onDelivered: () => --left === 0 && warmed() });
    for (let i = 0; i < 10; i++) {
      await w.add(buildNotifications(input(INPUTS + 2 + i)));
      s.kick();
    }
    await done;
    await s.close();
    await w.close();
    received = 0;
  }

  // Both paths run ROUNDS times, alternating, and the median of each is printed (the machine is shared: noisy).
  const ROUNDS = 3;
  const pipelineRates: number[] = [];
  const bareRates: number[] = [];
  const nodeHttpRates: number[] = [];
  let bodies: string[] = [];
  let durableSec = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const r = await pipeline(round);
    pipelineRates.push(r.rate);
    bodies = r.bodies;
    durableSec = r.durableSec;
    bareRates.push(await bare(bodies));
    nodeHttpRates.push(await bareNodeHttp(bodies));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const pipelineRate = median(pipelineRates);
  const bareRate = median(bareRates);
  const nodeHttpRate = median(nodeHttpRates);

  // 1. Pipeline: inputs arrive one after another (each awaited: durable before done), the sender runs alongside.
  async function pipeline(round: number): Promise<{ rate: number; bodies: string[]; durableSec: number }> {
    const { outbox } = await Outbox.open(path.join(dir, `outbox-bench-${round}.jsonl`));
    let deliveredEvents = 0;
    let allDelivered!: () => void;
    const finished = new Promise<void>((resolve) => (allDelivered = resolve));
    const sender = new CallbackSender({
      url, outbox, signatureKey: KEY,
      onDelivered: (d) => {
        deliveredEvents += d.notification.eventCount;
        if (deliveredEvents === totalEvents) allDelivered();
      },
    });
    const sent: string[] = [];
    const t0 = process.hrtime.bigint();
    for (const events of inputs) {
      const notifications = buildNotifications(events);
      for (const n of notifications) sent.push(n.body);
      await outbox.add(notifications);
      sender.kick();
    }
    const tQueued = process.hrtime.bigint();
    await finished;
    const t1 = process.hrtime.bigint();
    await sender.close();
    await outbox.close();
    return { rate: totalEvents / (Number(t1 - t0) / 1e9), bodies: sent, durableSec: Number(tQueued - t0) / 1e9 };
  }

  // 2. Ceiling: bare axios, sequential, same bodies, same receiver, keep-alive.
  async function bare(list: string[]): Promise<number> {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    const client = axios.create({ httpAgent: agent, proxy: false, validateStatus: () => true, responseType: 'text' });
    const t2 = process.hrtime.bigint();
    for (const body of list) {
      await client.post(url, body, { headers: { 'Content-Type': 'application/json' } });
    }
    const t3 = process.hrtime.bigint();
    agent.destroy();
    return totalEvents / (Number(t3 - t2) / 1e9);
  }

  // 3. For information: bare node:http, sequential, same bodies, same receiver, keep-alive.
  async function bareNodeHttp(list: string[]): Promise<number> {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    const target = new URL(url);
    const postOne = (body: string) =>
      new Promise<void>((resolve, reject) => {
        const req = http.request(target, { method: 'POST', agent, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
          res.on('end', () => resolve()).resume();
        });
        req.on('error', reject);
        req.end(body);
      });
    const t4 = process.hrtime.bigint();
    for (const body of list) await postOne(body);
    const t5 = process.hrtime.bigint();
    agent.destroy();
    return totalEvents / (Number(t5 - t4) / 1e9);
  }

  console.log(`events: ${totalEvents} in ${bodies.length} notifications of 10, inputs of ${EVENTS_PER_INPUT} events`);
  const list = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
  console.log(`pipeline (outbox fsync per input + HMAC + ordered POST): ${pipelineRate.toFixed(0)} events/s median of [${list(pipelineRates)}] (last round: all inputs durable after ${durableSec.toFixed(2)} s)`);
  console.log(`bare axios loop (same bodies, same receiver):            ${bareRate.toFixed(0)} events/s median of [${list(bareRates)}]`);
  console.log(`bare node:http loop (information: the sender's transport): ${nodeHttpRate.toFixed(0)} events/s median of [${list(nodeHttpRates)}]`);
  console.log(`ratio pipeline / bare axios: ${(pipelineRate / bareRate).toFixed(2)} (target >= 1.0); pipeline / bare node:http: ${(pipelineRate / nodeHttpRate).toFixed(2)}; receiver saw ${received} POSTs`);
  report({
    figure: 'callback-out throughput (outbox fsync + HMAC + ordered POST)',
    value: pipelineRate,
    unit: 'events/s',
    baseline: { what: 'bare axios loop, same bodies and receiver', value: bareRate },
    ratio: pipelineRate / bareRate,
    target: '≥ 1.0× bare',
  });
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await fsp.rm(dir, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
