/**
 * ms365-callback-out on a real Node-RED runtime (node-red-node-test-helper) against a real loopback receiver
 * (node:http in the test). The retry schedule runs with MS365_CALLBACK_RETRY_UNIT_MS=1 (one schedule second =
 * 1 ms: retries after 8, 64, 512, 3600 ms).
 */
import { strict as assert } from 'node:assert';
import { createHmac } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Node } from 'node-red';
import { helper, allNodes, useNodeRed, useTempUserDir } from '../support/node-red-helper';
import { callbackOutputs, statusesOf, useFastRetries } from '../support/callback-out';
import type { Ms365Event } from '../../src/core/events';
import { Webhook } from 'standardwebhooks';

const KEY = 'callback-test-key';

interface Received {
  headers: http.IncomingHttpHeaders;
  raw: Buffer;
  body: { message: { eventId: string; events: Array<{ eventId: string; objectId: string }>; raw: Record<string, unknown> } };
}

/** A loopback receiver: `answer` decides the status; `stop`/`start` take it down and up on the same port. */
class Receiver {
  readonly received: Received[] = [];
  answer: (r: Received) => number = () => 200;
  private server: http.Server | undefined;
  port = 0;

  async start(): Promise<void> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        const r: Received = { headers: req.headers, raw, body: JSON.parse(raw.toString('utf8')) as Received['body'] };
        const status = this.answer(r);
        if (status >= 200 && status < 300) this.received.push(r);
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/callback`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function events(from: number, n: number, source: 'polling' | 'webhook' = 'polling'): Ms365Event[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return {
      eventId: `e${i}`, eventType: 'UPDATED', objectType: 'messages', objectId: `m${i}`, elementKey: 'outlookemail',
      instanceName: 'My Outlook', date: '2026-11-22T10:00:00.000Z', pollDate: '2026-11-22T10:01:00.000Z', source,
      raw: { id: `m${i}`, subject: `s${i}` },
    };
  });
}

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 10000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('ms365-callback-out node', function () {
  this.timeout(20000);
  let receiver: Receiver;

  useFastRetries();
  useNodeRed();
  const userDir = useTempUserDir('ms365-cb-node-');
  beforeEach(async () => {
    receiver = new Receiver();
    await receiver.start();
  });
  afterEach(async () => {
    await receiver.stop();
  });

  const outboxPath = (id: string) => path.join(userDir(), '.ms365-events', `outbox-${id}.jsonl`);

  function flow(url: string, extra: Record<string, unknown> = {}) {
    return [
      { id: 'cb1', type: 'ms365-callback-out', name: 'callback', url, retries: 5, wires: [['ok'], ['fail']], ...extra },
      { id: 'ok', type: 'helper' },
      { id: 'fail', type: 'helper' },
    ];
  }

  async function load(url: string, extra: Record<string, unknown> = {}, key = KEY) {
    // An empty key rather than none: the test helper's runtime keeps the credentials of a node id between loads.
    await helper.load(allNodes, flow(url, extra), { cb1: { signatureKey: key } });
    return callbackOutputs();
  }

  it('delivers 25 polling events as 3 signed notifications (verified by an independent HMAC) and outputs each with statusCode and attempts', async () => {
    const { cb, delivered } = await load(receiver.url);
    cb.receive({ payload: events(0, 25) });
    await until(() => delivered.length === 3, '3 deliveries');
    assert.equal(receiver.received.length, 3);
    for (const r of receiver.received) {
      const expected = 'sha256=' + createHmac('sha256', KEY).update(r.raw).digest('base64');
      assert.equal(r.headers['elements-webhook-signature'], expected);
      assert.equal(r.headers['content-type'], 'application/json');
      assert.equal(r.headers['elements-webhook-id'], r.body.message.eventId);
    }
    assert.deepEqual(receiver.received.map((r) => r.body.message.events.length), [10, 10, 5]);
    assert.deepEqual((receiver.received[0]!.body.message.raw.messages as unknown[])[0], { id: 'm0', subject: 's0' });
    assert.deepEqual(delivered.map((m) => [m.statusCode, m.attempts]), [[200, 1], [200, 1], [200, 1]]);
    assert.deepEqual(delivered[0]!.payload, receiver.received[0]!.body);
    await until(() => /^delivered \d\d:\d\d:\d\d$/.test(String(statusesOf(cb).at(-1)?.text)), 'delivered status');
    assert.equal(statusesOf(cb).at(-1)!.fill, 'green');
    await until(async () => (await fsp.readFile(outboxPath('cb1'), 'utf8')).includes('"op":"ok"'), 'ok records');
  });

  it('signing both: each request carries a Standard Webhooks signature the reference verifier accepts, and the Elements one', async () => {
    const secret = 'whsec_' + Buffer.from('callback-out node test secret 32b').toString('base64');
    const { delivered } = await load(receiver.url, { signing: 'both' }, secret);
    helper.getNode('cb1').receive({ payload: events(0, 15) });
    await until(() => delivered.length === 2, '2 deliveries');
    for (const r of receiver.received) {
      const verified = new Webhook(secret).verify(r.raw.toString('utf8'), r.headers as Record<string, string>);
      assert.deepEqual(verified, r.body);
      assert.equal(r.headers['webhook-id'], r.body.message.eventId);
      assert.equal(r.headers['elements-webhook-signature'], 'sha256=' + createHmac('sha256', secret).update(r.raw).digest('base64'));
    }
  });

  it('signing standard-webhooks without a key: red "signing not configured", a readable node.error, events kept and not sent', async () => {
    const { cb } = await load(receiver.url, { signing: 'standard-webhooks' }, '');
    assert.deepEqual(statusesOf(cb).at(-1), { fill: 'red', shape: 'ring', text: 'signing not configured' });
    cb.receive({ payload: events(0, 1) });
    await until(async () => fsp.readFile(outboxPath('cb1'), 'utf8').then((t) => t.includes('e0'), () => false), 'event kept');
    const logged = helper.log().args.map((a: unknown[]) => JSON.stringify(a)).join('\n');
    assert.match(logged, /signing \\"standard-webhooks\\" needs a signature key; events are kept in the outbox/);
    assert.equal(receiver.received.length, 0);
  });

  it('with the receiver down for a while, every event arrives after it recovers, in order, each exactly once', async () => {
    await receiver.stop();
    const { cb, delivered } = await load(receiver.url);
    for (let i = 0; i < 5; i++) cb.receive({ payload: events(i * 12, 12, 'webhook') });
    await until(async () => (await fsp.readFile(outboxPath('cb1'), 'utf8').catch(() => '')).split('\n').filter(Boolean).length >= 5, '5 queued notifications');
    await new Promise((r) => setTimeout(r, 300)); // downtime spanning several retries (not an assertion)
    assert.ok(statusesOf(cb).some((st) => st.fill === 'red' && /^failing since \d\d:\d\d:\d\d \(5 queued\)$/.test(String(st.text))), 'failing status');
    await receiver.start();
    await until(() => delivered.length === 5, '5 deliveries');
    const ids = receiver.received.flatMap((r) => r.body.message.events.map((e) => e.eventId));
    assert.deepEqual(ids, Array.from({ length: 60 }, (_, i) => `e${i}`));
    assert.ok((delivered[0]!.attempts as number) > 1, 'the first notification needed retries');
  });

  it('a 400 from the receiver is not retried: output 2 once, list shows it, redeliver sends it (same eventId)', async () => {
    let calls = 0;
    receiver.answer = () => (++calls === 1 ? 400 : 200);
    const { cb, delivered, givenUp } = await load(receiver.url);
    cb.receive({ payload: events(0, 3) });
    await until(() => givenUp.length === 1, 'given up');
    assert.deepEqual([givenUp[0]!.statusCode, givenUp[0]!.attempts, givenUp[0]!.error], [400, 1, 'HTTP 400']);
    assert.equal(calls, 1);
    cb.receive({ list: true });
    await until(() => givenUp.length === 2, 'list');
    const list = givenUp[1]!.payload as Array<{ eventId: string; attempts: number; error: string }>;
    assert.equal(givenUp[1]!.topic, 'list');
    assert.deepEqual(list.map((l) => [l.eventId, l.attempts, l.error]), [[givenUp[0]!.eventId, 1, 'HTTP 400']]);
    cb.receive({ redeliver: true });
    await until(() => delivered.length === 1, 'redelivered');
    assert.equal(receiver.received[0]!.body.message.eventId, givenUp[0]!.eventId);
    cb.receive({ list: true });
    await until(() => givenUp.length === 3, 'second list');
    assert.deepEqual(givenUp[2]!.payload, []);
  });

  it('with retries 3, a 503 until the last retry gives up after 4 attempts on output 2; the notification behind it waits, then goes', async () => {
    let calls = 0;
    receiver.answer = () => (++calls <= 4 ? 503 : 200);
    const { cb, delivered, givenUp } = await load(receiver.url, { retries: 3 });
    cb.receive({ payload: events(0, 10) });
    cb.receive({ payload: events(10, 10) });
    await until(() => delivered.length === 1, 'second delivered');
    assert.deepEqual([givenUp.length, givenUp[0]!.attempts, givenUp[0]!.statusCode], [1, 4, 503]);
    assert.equal(receiver.received[0]!.body.message.events[0]!.eventId, 'e10');
  });

  it('restart of the flow with events in the outbox delivers them', async () => {
    await receiver.stop();
    const first = await load(receiver.url);
    first.cb.receive({ payload: events(0, 20) });
    await until(async () => (await fsp.readFile(outboxPath('cb1'), 'utf8').catch(() => '')).split('\n').filter(Boolean).length >= 2, 'queued');
    await helper.unload();
    assert.ok((await fsp.stat(outboxPath('cb1'))).size > 0, 'outbox kept on stop');
    await receiver.start();
    const second = await load(receiver.url);
    await until(() => second.delivered.length === 2, 'delivered after restart');
    assert.deepEqual(receiver.received.flatMap((r) => r.body.message.events.map((e) => e.eventId)), Array.from({ length: 20 }, (_, i) => `e${i}`));
  });

  it('removing the node (a deploy without it) deletes its outbox file', async () => {
    await receiver.stop();
    const { cb } = await load(receiver.url);
    cb.receive({ payload: events(0, 1) });
    await until(async () => fsp.stat(outboxPath('cb1')).then((s) => s.size > 0, () => false), 'outbox written');
    await helper.setFlows([{ id: 'ok', type: 'helper' }], 'nodes');
    await until(async () => fsp.stat(outboxPath('cb1')).then(() => false, () => true), 'outbox deleted');
  });

  it('an invalid payload gives done(err) naming the field and queues nothing', async () => {
    const { cb } = await load(receiver.url);
    const errors: unknown[] = [];
    (cb as unknown as NodeJS.EventEmitter).on('call:error', (call: { args: unknown[] }) => errors.push(call.args[0]));
    cb.receive({ payload: [events(0, 1)[0], { eventId: 'x', eventType: 'CREATED', objectType: 'messages' }] });
    cb.receive({ payload: 'hello' });
    await until(() => errors.length === 2, 'two errors');
    assert.match(String(errors[0]), /msg\.payload\[1\]\.objectId must be a non-empty string/);
    assert.match(String(errors[1]), /msg\.payload is not an event object/);
    const text = await fsp.readFile(outboxPath('cb1'), 'utf8').catch(() => '');
    assert.equal(text.trim(), '');
    assert.equal(receiver.received.length, 0);
  });

  it('an invalid URL gives a red status and node.error; the signature key is in no file, status or error', async () => {
    await helper.load(allNodes, flow('ftp://nope'), { cb1: { signatureKey: KEY } });
    const cb = helper.getNode('cb1') as Node;
    const statuses = statusesOf(cb);
    assert.deepEqual(statuses.at(-1), { fill: 'red', shape: 'ring', text: 'invalid URL' });
    cb.receive({ payload: events(0, 1) });
    await until(async () => fsp.readFile(outboxPath('cb1'), 'utf8').then((t) => t.includes('e0'), () => false), 'event kept');
    const logged = helper.log().args.map((a: unknown[]) => JSON.stringify(a)).join('\n');
    assert.match(logged, /invalid callback URL/);
    assert.ok(!logged.includes(KEY));
    assert.ok(!(await fsp.readFile(outboxPath('cb1'), 'utf8')).includes(KEY));
    assert.ok(statuses.every((s) => !String(s.text).includes(KEY)));
  });
});
