/**
 * Callback delivery on a BullMQ queue (cluster mode, issue 17 item 4) against a real redis-server and a real loopback
 * receiver: two instances work one node's queue and every notification arrives once, in order; a job id is queued
 * once; retries (Retry-After, 5xx) keep the order; a 4xx is given up at once, listed, and redelivered on demand.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Redis from 'ioredis';
import { QueueSender } from '../../../src/core/delivery/queue-sender';
import type { Notification } from '../../../src/core/delivery/envelope';
import type { DeliveredEvent, GivenUpEvent } from '../../../src/core/delivery/sender';
import { useRedisServer } from '../../support/redis';

interface Receiver {
  url: string;
  /** Ids of the notifications answered 2xx, in arrival order. */
  delivered: string[];
  /** Every request's id, in arrival order. */
  requests: string[];
  /** Answer for a request (default 200). */
  plan: (id: string, nth: number) => { status: number; headers?: Record<string, string>; delayMs?: number };
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const receiver = { delivered: [] as string[], requests: [] as string[], plan: () => ({ status: 200 }) } as unknown as Receiver;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const id = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: string }).id;
      receiver.requests.push(id);
      const answer = receiver.plan(id, receiver.requests.filter((r) => r === id).length);
      const respond = () => {
        if (res.destroyed || req.destroyed) return;
        if (answer.status >= 200 && answer.status < 300) receiver.delivered.push(id);
        res.writeHead(answer.status, answer.headers ?? {});
        res.end();
      };
      if (answer.delayMs) setTimeout(respond, answer.delayMs);
      else respond();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  receiver.close = () => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(() => resolve()));
  };
  return receiver;
}

function notification(id: string): Notification {
  return { id, body: JSON.stringify({ id, message: { events: [] } }), eventCount: 1, objectType: 'messages' };
}

async function until<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('delivery: QueueSender (BullMQ, cluster mode)', function () {
  this.timeout(30_000);
  const redis = useRedisServer();
  let receiver: Receiver;
  const senders: QueueSender[] = [];
  let nodeId: string;
  const delivered: DeliveredEvent[] = [];
  const givenUp: GivenUpEvent[] = [];

  const sender = (extra: { retries?: number; lockMs?: number; clients?: Redis[] } = {}) => {
    const s = new QueueSender({
      createClient: () => {
        const client = new Redis(redis().url, { maxRetriesPerRequest: null });
        extra.clients?.push(client);
        return client;
      },
      lockMs: extra.lockMs,
      prefix: 'ms365:bull',
      nodeId,
      url: receiver.url,
      unitMs: 1,
      retries: extra.retries,
      onDelivered: (e) => delivered.push(e),
      onGivenUp: (e) => givenUp.push(e),
    });
    senders.push(s);
    return s;
  };

  beforeEach(async () => {
    receiver = await startReceiver();
    nodeId = `n${randomBytes(4).toString('hex')}`;
    delivered.length = 0;
    givenUp.length = 0;
  });
  afterEach(async () => {
    await Promise.all(senders.splice(0).map((s) => s.close()));
    await receiver.close();
  });

  it('two instances on one node\'s queue: each notification arrives once, in order; a job id is queued once', async () => {
    const a = sender();
    const b = sender();
    const ids = Array.from({ length: 30 }, (_, i) => `ntf-${String(i).padStart(2, '0')}`);
    for (const id of ids) assert.equal(await a.add(notification(id)), true);
    assert.equal(await a.add(notification('ntf-05')), false);
    assert.equal(await b.add(notification('ntf-07')), false);
    const raced = await Promise.all([a.add(notification('ntf-30')), b.add(notification('ntf-30'))]);
    assert.deepEqual(raced.map(Number).sort(), [0, 1]);
    await Promise.all([a.start(), b.start()]);
    await until('all delivered', () => receiver.delivered.length >= 31);
    assert.deepEqual(receiver.delivered, [...ids, 'ntf-30']);
    assert.deepEqual(receiver.requests, receiver.delivered);
    assert.equal(await a.add(notification('ntf-03')), false, 'a delivered notification is not queued again');
    assert.equal(await a.queuedCount(), 0);
  });

  it('retries keep the order: 503 with Retry-After and a 500 are retried before the next notification goes out', async () => {
    receiver.plan = (id, nth) => (id === 'r1' && nth === 1 ? { status: 503, headers: { 'Retry-After': '1' } } : id === 'r3' && nth <= 2 ? { status: 500 } : { status: 200 });
    const a = sender();
    const b = sender();
    for (const id of ['r0', 'r1', 'r2', 'r3', 'r4']) await a.add(notification(id));
    await Promise.all([a.start(), b.start()]);
    await until('all delivered', () => receiver.delivered.length >= 5);
    assert.deepEqual(receiver.delivered, ['r0', 'r1', 'r2', 'r3', 'r4']);
    assert.deepEqual(receiver.requests, ['r0', 'r1', 'r1', 'r2', 'r3', 'r3', 'r3', 'r4']);
    assert.deepEqual(
      delivered.map((e) => [e.notification.id, e.attempts]),
      [['r0', 1], ['r1', 2], ['r2', 1], ['r3', 3], ['r4', 1]],
    );
  });

  it('a 4xx is given up at once (listed), the next goes on; redeliver sends it again; retries exhausted give up too', async () => {
    let refuse = true;
    receiver.plan = (id) => (id === 'g1' && refuse ? { status: 400 } : id === 'g3' ? { status: 502 } : { status: 200 });
    const a = sender({ retries: 2 });
    for (const id of ['g0', 'g1', 'g2', 'g3', 'g4']) await a.add(notification(id));
    await a.start();
    await until('the others delivered', () => receiver.delivered.length >= 3 && givenUp.length >= 2);
    assert.deepEqual(receiver.delivered, ['g0', 'g2', 'g4']);
    assert.deepEqual(givenUp.map((e) => [e.notification.id, e.attempts, e.error]), [['g1', 1, 'HTTP 400'], ['g3', 3, 'HTTP 502']]);
    const listed = await a.givenUp();
    assert.deepEqual(listed.map((g) => [g.notification.id, g.attempts, g.error]), [['g1', 1, 'HTTP 400'], ['g3', 3, 'HTTP 502']]);
    refuse = false;
    receiver.plan = () => ({ status: 200 });
    assert.equal(await a.redeliver(), 2);
    await until('redelivered', () => receiver.delivered.length >= 5);
    assert.deepEqual(receiver.delivered, ['g0', 'g2', 'g4', 'g1', 'g3']);
    assert.deepEqual(await a.givenUp(), []);
  });

  it('an instance dying mid-delivery: another takes the delivery up after the lock expires, in order (at-least-once)', async () => {
    const clientsA: Redis[] = [];
    const a = sender({ lockMs: 500, clients: clientsA });
    for (const id of ['k0', 'k1', 'k2', 'k3']) await a.add(notification(id));
    let killed = false;
    receiver.plan = (id, nth) => {
      if (id === 'k1' && nth === 1) {
        // a "dies" while k1 is in flight: its Redis connections drop, nothing is released or completed.
        killed = true;
        for (const client of clientsA) client.disconnect();
      }
      return { status: 200 };
    };
    await a.start();
    await until('a killed', () => killed);
    const b = sender({ lockMs: 500 });
    await b.start();
    await until('k3 delivered by b', () => receiver.requests.includes('k3'), 15_000);
    assert.deepEqual(receiver.requests, ['k0', 'k1', 'k1', 'k2', 'k3']);
    assert.deepEqual(delivered.map((e) => e.notification.id), ['k0', 'k1', 'k1', 'k2', 'k3']);
  });

  it('an instance closing mid-delivery: the delivery goes back to the head and another instance goes on at once', async () => {
    receiver.plan = (id, nth) => (id === 'c1' && nth === 1 ? { status: 200, delayMs: 60_000 } : { status: 200 });
    const a = sender();
    const b = sender();
    for (const id of ['c0', 'c1', 'c2', 'c3']) await a.add(notification(id));
    await a.start();
    await until('c1 in flight at a', () => receiver.requests.includes('c1'));
    await b.start();
    await a.close();
    await until('b delivers the rest', () => receiver.delivered.length >= 4, 5_000);
    assert.deepEqual(receiver.delivered, ['c0', 'c1', 'c2', 'c3']);
    assert.deepEqual(receiver.requests, ['c0', 'c1', 'c1', 'c2', 'c3']);
  });
});
