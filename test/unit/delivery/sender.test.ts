import { strict as assert } from 'node:assert';
import { createHmac } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Outbox } from '../../../src/core/delivery/outbox';
import { buildNotifications } from '../../../src/core/delivery/envelope';
import { CallbackSender, type DeliveredEvent, type GivenUpEvent } from '../../../src/core/delivery/sender';
import type { Ms365Event } from '../../../src/core/events';
import { Webhook } from 'standardwebhooks';

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A loopback receiver answering from a script of status codes (then 200). */
async function receiver(script: Array<number | [number, Record<string, string>]>) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const next = script.shift() ?? 200;
      const [status, headers] = Array.isArray(next) ? next : [next, {}];
      res.writeHead(status, headers).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`;
  return { url, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const events = (n: number): Ms365Event[] =>
  Array.from({ length: n }, (_, i) => ({
    eventId: `e${i}`, eventType: 'CREATED', objectType: 'messages', objectId: `m${i}`, elementKey: 'outlookemail',
    instanceName: 'I', date: '2026-11-22T10:00:00.000Z', source: 'polling', raw: { id: `m${i}` },
  }));

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('delivery/sender', () => {
  let dir: string;
  let outbox: Outbox;
  let sender: CallbackSender | undefined;
  let server: Awaited<ReturnType<typeof receiver>> | undefined;
  const sleeps: number[] = [];
  const sleep = async (ms: number) => {
    sleeps.push(ms);
  };

  beforeEach(async () => {
    sleeps.length = 0;
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ms365-sender-'));
    ({ outbox } = await Outbox.open(path.join(dir, 'outbox.jsonl')));
  });
  afterEach(async () => {
    await sender?.close();
    await outbox.close();
    await server?.close();
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('sends signed notifications in order; the receiver recomputes the HMAC over the raw bytes', async () => {
    server = await receiver([]);
    const delivered: DeliveredEvent[] = [];
    sender = new CallbackSender({ url: server.url, outbox, signatureKey: 'k3y', sleep, onDelivered: (d) => delivered.push(d) });
    await outbox.add(buildNotifications(events(25)));
    sender.kick();
    await until(() => delivered.length === 3);
    assert.equal(outbox.size, 0);
    for (const r of server.received) {
      assert.equal(r.headers['content-type'], 'application/json');
      assert.equal(r.headers['elements-webhook-signature'], 'sha256=' + createHmac('sha256', 'k3y').update(r.body).digest('base64'));
      assert.equal(r.headers['elements-webhook-id'], JSON.parse(r.body).message.eventId);
    }
    assert.deepEqual(server.received.map((r) => JSON.parse(r.body).message.events[0].objectId), ['m0', 'm10', 'm20']);
    assert.deepEqual(delivered.map((d) => [d.statusCode, d.attempts]), [[200, 1], [200, 1], [200, 1]]);
  });

  it('without a key sends no signature header', async () => {
    server = await receiver([]);
    let done = 0;
    sender = new CallbackSender({ url: server.url, outbox, sleep, onDelivered: () => done++ });
    await outbox.add(buildNotifications(events(1)));
    sender.kick();
    await until(() => done === 1);
    assert.equal(server.received[0]!.headers['elements-webhook-signature'], undefined);
  });

  it('signing standard-webhooks: each retry is signed anew at its own timestamp under the same webhook-id', async () => {
    server = await receiver([[503, { 'Retry-After': '400' }], 500]);
    const secret = 'whsec_' + Buffer.from('a shared secret of 32 bytes !!!!').toString('base64');
    let clock = Date.parse('2026-11-22T10:00:00Z');
    const delivered: DeliveredEvent[] = [];
    sender = new CallbackSender({
      url: server.url, outbox, signatureKey: secret, signing: 'standard-webhooks', now: () => clock, random: () => 0.5,
      sleep: async (ms) => {
        clock += ms;
      },
      onDelivered: (d) => delivered.push(d),
    });
    await outbox.add(buildNotifications(events(1)));
    sender.kick();
    await until(() => delivered.length === 1);
    const [first, second, third] = server.received.map((r) => r.headers);
    assert.deepEqual([first, second, third].map((h) => h!['webhook-id']), Array(3).fill(delivered[0]!.notification.id));
    assert.deepEqual([first, second, third].map((h) => Number(h!['webhook-timestamp'])), [1795341600, 1795342000, 1795342064]);
    assert.equal(first!['elements-webhook-signature'], undefined);
    // With the receiver's clock at the last attempt, the reference library accepts it and refuses the first one
    // (stale: its tolerance is 5 minutes).
    const received = server.received;
    const realNow = Date.now;
    Date.now = () => clock;
    try {
      new Webhook(secret).verify(received[2]!.body, third as Record<string, string>);
      assert.throws(() => new Webhook(secret).verify(received[0]!.body, first as Record<string, string>), /too old/);
    } finally {
      Date.now = realNow;
    }
  });

  it('retries 500s with the 2^(3x) s schedule (injected sleep) and gives up after retries+1 attempts', async () => {
    server = await receiver([500, 500, 500, 500, 500, 500]);
    const givenUp: GivenUpEvent[] = [];
    sender = new CallbackSender({ url: server.url, outbox, sleep, random: () => 0.5, onGivenUp: (g) => givenUp.push(g) });
    await outbox.add(buildNotifications(events(1)));
    sender.kick();
    await until(() => givenUp.length === 1);
    assert.deepEqual(sleeps, [8000, 64000, 512000, 3600000, 3600000]);
    assert.equal(server.received.length, 6);
    assert.deepEqual([givenUp[0]!.statusCode, givenUp[0]!.attempts, givenUp[0]!.error], [500, 6, 'HTTP 500']);
    assert.equal(outbox.givenUp().length, 1);
  });

  it('a 429 with Retry-After: 2 waits 2 s instead of 8 s, then delivers', async () => {
    server = await receiver([[429, { 'Retry-After': '2' }], [503, { 'Retry-After': '1' }], 502]);
    const delivered: DeliveredEvent[] = [];
    sender = new CallbackSender({ url: server.url, outbox, sleep, random: () => 0.5, onDelivered: (d) => delivered.push(d) });
    await outbox.add(buildNotifications(events(1)));
    sender.kick();
    await until(() => delivered.length === 1);
    assert.deepEqual(sleeps, [2000, 1000, 512000]);
    assert.equal(delivered[0]!.attempts, 4);
  });

  it('a 400 is not retried: given up at once, the next notification is still delivered', async () => {
    server = await receiver([400]);
    const givenUp: GivenUpEvent[] = [];
    const delivered: DeliveredEvent[] = [];
    sender = new CallbackSender({ url: server.url, outbox, sleep, onGivenUp: (g) => givenUp.push(g), onDelivered: (d) => delivered.push(d) });
    await outbox.add(buildNotifications(events(15)));
    sender.kick();
    await until(() => delivered.length === 1);
    assert.deepEqual([givenUp.length, givenUp[0]!.attempts, givenUp[0]!.statusCode], [1, 1, 400]);
    assert.deepEqual(sleeps, []);
    const count = await sender.redeliver();
    assert.equal(count, 1);
    await until(() => delivered.length === 2);
    assert.equal(delivered[1]!.notification.id, givenUp[0]!.notification.id);
    assert.equal(outbox.size, 0);
  });

  it('a refused connection is retried as a network error', async () => {
    server = await receiver([]);
    const url = server.url;
    await server.close();
    server = undefined;
    const givenUp: GivenUpEvent[] = [];
    sender = new CallbackSender({ url, outbox, retries: 2, sleep, random: () => 0.5, onGivenUp: (g) => givenUp.push(g) });
    await outbox.add(buildNotifications(events(1)));
    sender.kick();
    await until(() => givenUp.length === 1);
    assert.equal(givenUp[0]!.statusCode, 0);
    assert.match(givenUp[0]!.error, /^network error: ECONNREFUSED/);
    assert.deepEqual(sleeps, [8000, 64000]);
  });

  it('close() during a long backoff wait returns promptly and keeps the notification queued', async () => {
    server = await receiver([500]);
    sender = new CallbackSender({ url: server.url, outbox, unitMs: 1000 });
    await outbox.add(buildNotifications(events(1)));
    sender.kick();
    await until(() => server!.received.length === 1);
    const started = Date.now();
    await sender.close();
    assert.ok(Date.now() - started < 1000);
    assert.equal(outbox.queued().length, 1);
  });
});
