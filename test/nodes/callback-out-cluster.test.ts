/**
 * ms365-callback-out with an `ms365-cluster` (issue 17 item 4) on a real Node-RED runtime (node-red-node-test-helper),
 * a real redis-server (test/support/redis.ts) and a real loopback receiver: notifications wait in the node's BullMQ
 * queue instead of the outbox file and go out in order; `msg.list` / `msg.redeliver` work on the queue; a
 * notification that two instances queue (the same node id, the same events) goes out once; a cluster that cannot
 * be reached gives a red status and a readable error, and events are refused (never the outbox file instead).
 * The retry schedule runs with MS365_CALLBACK_RETRY_UNIT_MS=1.
 */
import { strict as assert } from 'node:assert';
import { createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { NodeDef } from 'node-red';
import { helper, useNodeRed, useTempUserDir } from '../support/node-red-helper';
import { callbackOutputs, statusesOf, useFastRetries } from '../support/callback-out';
import { waitFor } from '../support/connector';
import { freePort, startRedisServer, useRedisServer } from '../support/redis';
import { QueueDelivery } from '../../src/core/delivery/callback-delivery';
import { buildNotifications } from '../../src/core/delivery/envelope';
import { openRedisState, type RedisSharedState } from '../../src/core/state';
import type { Ms365Event } from '../../src/core/events';

const clusterModule = require('../../src/nodes/ms365-cluster');
const callbackModule = require('../../src/nodes/ms365-callback-out');

const KEY = 'cluster-callback-key';

interface Received {
  eventId: string;
  events: string[];
  signatureOk: boolean;
}

function events(from: number, n: number): Ms365Event[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return {
      eventId: `e${i}`, eventType: 'UPDATED', objectType: 'messages', objectId: `m${i}`, elementKey: 'outlookemail',
      instanceName: 'My Outlook', date: '2026-11-22T10:00:00.000Z', pollDate: '2026-11-22T10:01:00.000Z', source: 'polling',
      raw: { id: `m${i}` },
    };
  });
}

function errorsLogged(): string[] {
  return helper
    .log()
    .args.map((a: unknown[]) => a[0] as { level?: number; msg?: unknown; type?: string })
    .filter((e) => e && e.type === 'ms365-callback-out' && e.level === 20)
    .map((e) => String(e.msg));
}

describe('ms365-callback-out node with an ms365-cluster (BullMQ queue in Redis)', function () {
  this.timeout(20_000);
  useFastRetries();
  const redis = useRedisServer();
  useNodeRed();
  const userDir = useTempUserDir('ms365-cb-cluster-');

  let server: http.Server;
  let url = '';
  let received: Received[] = [];
  let answer: (eventId: string) => number = () => 200;
  let prefix = '';
  const others: Array<{ close(): Promise<unknown> }> = [];

  beforeEach(async () => {
    received = [];
    answer = () => 200;
    prefix = `cb${randomBytes(4).toString('hex')}`;
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        const body = JSON.parse(raw.toString('utf8')) as { message: { eventId: string; events: Array<{ eventId: string }> } };
        const status = answer(body.message.eventId);
        if (status >= 200 && status < 300) {
          received.push({
            eventId: body.message.eventId,
            events: body.message.events.map((e) => e.eventId),
            signatureOk: req.headers['elements-webhook-signature'] === 'sha256=' + createHmac('sha256', KEY).update(raw).digest('base64'),
          });
        }
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`;
  });
  afterEach(async () => {
    await helper.unload();
    await Promise.all(others.splice(0).map((o) => o.close()));
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function load(redisUrl = redis().url, extra: Record<string, unknown> = {}) {
    const flow = [
      { id: 'cl1', type: 'ms365-cluster', url: redisUrl, prefix },
      { id: 'cb1', type: 'ms365-callback-out', url, retries: 5, cluster: 'cl1', wires: [['ok'], ['fail']], ...extra },
      { id: 'ok', type: 'helper' },
      { id: 'fail', type: 'helper' },
    ];
    await helper.load([clusterModule, callbackModule], flow as unknown as NodeDef[], { cb1: { signatureKey: KEY } });
    return callbackOutputs();
  }

  it('delivers through the queue in order (signed), outputs each, shows the status, and writes no outbox file', async () => {
    const { cb, delivered } = await load();
    for (let i = 0; i < 4; i++) cb.receive({ payload: events(i * 25, 25) });
    await waitFor('12 deliveries', () => delivered.length === 12, 10_000);
    assert.deepEqual(received.flatMap((r) => r.events), Array.from({ length: 100 }, (_, i) => `e${i}`));
    assert.deepEqual(received.map((r) => r.events.length), [10, 10, 5, 10, 10, 5, 10, 10, 5, 10, 10, 5]);
    assert.ok(received.every((r) => r.signatureOk), 'every delivery is signed');
    assert.deepEqual(delivered.map((m) => m.eventId), received.map((r) => r.eventId));
    assert.deepEqual(delivered.map((m) => [m.topic, m.statusCode, m.attempts]), Array(12).fill(['delivered', 200, 1]));
    await waitFor('delivered status', () => /^delivered \d\d:\d\d:\d\d$/.test(String(statusesOf(cb).at(-1)?.text)));
    assert.equal(statusesOf(cb).at(-1)!.fill, 'green');
    assert.equal(fs.existsSync(path.join(userDir(), '.ms365-events', 'outbox-cb1.jsonl')), false, 'no outbox file in cluster mode');
    assert.deepEqual(errorsLogged(), []);
  });

  it('a 503 is retried before the next goes out; a 400 is given up (output 2), listed by msg.list, re-sent by msg.redeliver', async () => {
    const nth = new Map<string, number>();
    let refused = '';
    answer = (id) => {
      const n = (nth.get(id) ?? 0) + 1;
      nth.set(id, n);
      const order = [...nth.keys()];
      if (order.indexOf(id) === 0 && n === 1) return 503;
      if (order.indexOf(id) === 1 && (refused === '' || refused === id) && n === 1) {
        refused = id;
        return 400;
      }
      return 200;
    };
    const { cb, delivered, givenUp } = await load();
    cb.receive({ payload: events(0, 30) });
    await waitFor('2 delivered, 1 given up', () => delivered.length === 2 && givenUp.length === 1, 10_000);
    assert.deepEqual([givenUp[0]!.topic, givenUp[0]!.statusCode, givenUp[0]!.attempts, givenUp[0]!.error], ['given-up', 400, 1, 'HTTP 400']);
    assert.equal(givenUp[0]!.eventId, refused);
    assert.deepEqual(received.map((r) => r.events[0]), ['e0', 'e20']);
    assert.equal(delivered[0]!.attempts, 2, 'the 503 was retried');
    await waitFor('given-up status', () => /1 given up/.test(String(statusesOf(cb).at(-1)?.text)));

    cb.receive({ list: true });
    await waitFor('list', () => givenUp.length === 2);
    assert.equal(givenUp[1]!.topic, 'list');
    const list = givenUp[1]!.payload as Array<{ eventId: string; attempts: number; error: string; queuedAt: string; givenUpAt: string; envelope: { message: { eventId: string } } }>;
    assert.equal(list.length, 1);
    assert.deepEqual([list[0]!.eventId, list[0]!.attempts, list[0]!.error, list[0]!.envelope.message.eventId], [refused, 1, 'HTTP 400', refused]);
    assert.ok(!Number.isNaN(Date.parse(list[0]!.queuedAt)) && !Number.isNaN(Date.parse(list[0]!.givenUpAt)));

    cb.receive({ redeliver: true });
    await waitFor('redelivered', () => delivered.length === 3, 10_000);
    assert.equal(delivered[2]!.eventId, refused);
    assert.deepEqual(received.map((r) => r.events[0]), ['e0', 'e20', 'e10']);
    cb.receive({ list: true });
    await waitFor('empty list', () => givenUp.length === 3);
    assert.deepEqual(givenUp[2]!.payload, []);
  });

  it('two instances queue the same notifications for one node id: each goes out once, in order', async () => {
    const { cb, delivered } = await load();
    // A second "instance": the same node id on its own Redis connections, as another Node-RED process would run it.
    const state: RedisSharedState = await openRedisState({ url: redis().url, prefix });
    others.push(state);
    const otherDelivered: string[] = [];
    const other = new QueueDelivery({ nodeId: 'cb1', connections: async () => state.queues }, { url, signing: 'open-connectors', signatureKey: KEY, retries: 5, unitMs: 1 }, {
      onDelivered: (d) => otherDelivered.push(d.notification.id),
    });
    others.push({ close: () => other.close(false) });
    const batch = events(0, 50);
    cb.receive({ payload: batch });
    await other.add(buildNotifications(batch));
    cb.receive({ payload: events(50, 20) });
    await other.add(buildNotifications(events(50, 20)));
    await waitFor('7 deliveries in all', () => delivered.length + otherDelivered.length >= 7, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 300)); // a duplicate would arrive meanwhile (not an assertion)
    assert.equal(received.length, 7, 'each notification delivered once');
    assert.deepEqual(received.flatMap((r) => r.events), Array.from({ length: 70 }, (_, i) => `e${i}`));
    assert.equal(new Set(received.map((r) => r.eventId)).size, 7);
    assert.equal(delivered.length + otherDelivered.length, 7, 'each delivery is output by the instance that made it');
  });

  it('a cluster that cannot be reached: red status, one readable error, events refused (no outbox file); Redis started later: it delivers', async function () {
    this.timeout(30_000);
    const port = await freePort();
    const { cb, delivered } = await load(`redis://127.0.0.1:${port}`);
    await waitFor('red status', () => statusesOf(cb).some((s) => s.fill === 'red' && s.text === 'cluster unavailable'));
    const errors = await waitFor('error', () => (errorsLogged().length ? errorsLogged() : undefined));
    assert.match(errors[0]!, /^ms365-callback-out: the cluster is not available: Redis at redis:\/\/127\.0\.0\.1:\d+ .*no fall-back to the outbox file/);
    cb.receive({ payload: events(0, 3) });
    await waitFor('input refused', () => errorsLogged().length >= 2);
    assert.equal(errorsLogged().length, 2);
    assert.equal(fs.existsSync(path.join(userDir(), '.ms365-events', 'outbox-cb1.jsonl')), false, 'never the outbox file instead');
    assert.equal(received.length, 0);
    // Redis comes up (after Node-RED, as it may at boot): the cluster and the node try again every 5 s.
    const late = await startRedisServer({ port });
    try {
      await waitFor('status idle', () => statusesOf(cb).at(-1)?.text === 'idle', 15_000);
      cb.receive({ payload: events(0, 3) });
      await waitFor('delivered', () => delivered.length === 1, 5_000);
      assert.deepEqual(received.map((r) => r.events), [['e0', 'e1', 'e2']]);
      assert.equal(errorsLogged().length, 2, 'the same failure is not reported again at every retry');
    } finally {
      await helper.unload();
      await late.dispose();
    }
  });

  it('Redis stopped while running: red "Redis error" and one readable error; after it is back, delivery goes on', async () => {
    const { cb, delivered } = await load();
    cb.receive({ payload: events(0, 10) });
    await waitFor('first delivery', () => delivered.length === 1, 10_000);
    await redis().stop();
    await waitFor('red status', () => statusesOf(cb).some((s) => s.fill === 'red' && s.text === 'Redis error'), 10_000);
    const errors = await waitFor('error', () => (errorsLogged().length ? errorsLogged() : undefined));
    assert.match(errors[0]!, /^ms365-callback-out: Redis: /);
    await redis().start();
    cb.receive({ payload: events(10, 10) });
    await waitFor('second delivery', () => delivered.length === 2, 15_000);
    assert.deepEqual(received.flatMap((r) => r.events), Array.from({ length: 20 }, (_, i) => `e${i}`));
    await waitFor('status back to delivered', () => /^delivered /.test(String(statusesOf(cb).at(-1)?.text)), 5_000);
    assert.equal(errorsLogged().length, 1, 'one error per outage');
  });

  it('Redis restarted with notifications queued (appendonly, appendfsync always): none lost, in order', async function () {
    this.timeout(30_000);
    let slow = true;
    const { cb, delivered } = await load(redis().url, { batchSize: 1 });
    // A slow receiver keeps most of them queued while Redis restarts.
    server.removeAllListeners('request');
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { message: { eventId: string; events: Array<{ eventId: string }> } };
        setTimeout(() => {
          received.push({ eventId: body.message.eventId, events: body.message.events.map((e) => e.eventId), signatureOk: true });
          res.writeHead(200).end();
        }, slow ? 50 : 0);
      });
    });
    cb.receive({ payload: events(0, 40) });
    await waitFor('5 delivered', () => delivered.length >= 5, 10_000);
    await redis().restart();
    assert.ok(delivered.length < 40, 'notifications were still queued when Redis restarted');
    slow = false;
    await waitFor('every notification delivered', () => new Set(received.map((r) => r.eventId)).size === 40, 20_000);
    const seen = received.map((r) => r.events[0]!);
    assert.deepEqual(seen.filter((e, i) => seen.indexOf(e) === i), Array.from({ length: 40 }, (_, i) => `e${i}`));
    seen.forEach((e, i) => assert.ok(seen.indexOf(e) === i || seen[i - 1] === e, `a repeat (${e}) only right after itself`));
  });
});
