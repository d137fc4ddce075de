/**
 * Issue 17 "SIGKILL a worker during 1,000 callback deliveries: all delivered, in order per node": three real
 * node-red processes (packed package, e2e harness; Node-RED 4.1, 5 and 4.1, as during a rolling upgrade) run the same
 * flow on one real redis-server: an `ms365-cluster`
 * and two `ms365-callback-out` nodes that name it (one BullMQ queue per node, batch size 1, so 500 notifications
 * each). The same 500 events are injected on all three instances (a notification queued three times is queued
 * once). While deliveries run, the instance whose request is in flight at the receiver is SIGKILLed (found by the
 * request's socket in /proc); another instance takes its delivery up when the lock expires
 * (MS365_CALLBACK_QUEUE_LOCK_MS=2000). Every notification arrives, in order per node; the only repeat allowed is
 * the one cut by the kill (at-least-once, same eventId), right after itself.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startNodeRed, waitUntil, type NodeRedProcess } from '../support/nodered-process';
import { useRedisServer } from '../support/redis';

const PER_NODE = 500;
const NODES = ['e2ecbA000000001', 'e2ecbB000000001'];
const TAB = 'e2etab00000c001';
const CLUSTER = 'e2ecl0000000001';
const INJECT = 'e2einj00000c001';

function eventsPayload(n: number): unknown[] {
  return Array.from({ length: n }, (_, i) => ({
    eventId: `e${String(i).padStart(3, '0')}`, eventType: 'CREATED', objectType: 'messages', objectId: `m${i}`, elementKey: 'outlookemail',
    instanceName: 'E2E', date: '2026-11-22T10:00:00.000Z', pollDate: '2026-11-22T10:01:00.000Z', source: 'polling', raw: { id: `m${i}` },
  }));
}

/** The pid among `pids` that owns the loopback TCP connection whose local port is `port` (Linux /proc). */
function pidOfConnection(port: number, pids: number[]): number | undefined {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = fs.existsSync(table) ? fs.readFileSync(table, 'utf8') : '';
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[1]?.endsWith(`:${hex}`)) inodes.add(cols[9]!);
    }
  }
  for (const pid of pids) {
    const dir = `/proc/${pid}/fd`;
    for (const fd of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
      const link = (() => {
        try {
          return fs.readlinkSync(`${dir}/${fd}`);
        } catch {
          return '';
        }
      })();
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m && inodes.has(m[1]!)) return pid;
    }
  }
  return undefined;
}

describe('e2e: cluster callback-out, 3 Node-RED processes on one Redis, a worker SIGKILLed during 1,000 deliveries', function () {
  this.timeout(180_000);
  const redis = useRedisServer();
  const instances: NodeRedProcess[] = [];
  let server: http.Server;
  let url = '';
  /** Notification ids per node path, in arrival order (every request, answered or not). */
  const arrivals = new Map<string, string[]>();
  /** Arrival times (ms) per node path, parallel to `arrivals`. */
  const times = new Map<string, number[]>();
  /** Set by the test: the next request is held (not answered) and reported here. */
  let hold: ((remotePort: number) => void) | undefined;

  before(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('error', () => undefined);
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { message: { eventId: string; events: Array<{ eventId: string }> } };
        const list = arrivals.get(req.url ?? '') ?? [];
        arrivals.set(req.url ?? '', list);
        list.push(body.message.events.map((e) => e.eventId).join(','));
        times.set(req.url ?? '', [...(times.get(req.url ?? '') ?? []), Date.now()]);
        if (hold) {
          const report = hold;
          hold = undefined;
          report(req.socket.remotePort ?? 0);
          return; // never answered: its instance dies with it in flight
        }
        // A little latency, so that a delivery is in flight most of the time.
        setTimeout(() => res.writeHead(200).end(), 1);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await Promise.all(instances.map((nr) => nr.dispose()));
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('every notification is delivered, in order per node, with only the cut delivery repeated', async () => {
    const env = { MS365_CALLBACK_QUEUE_LOCK_MS: '2000', MS365_CALLBACK_RETRY_UNIT_MS: '1' };
    // Node-RED 4.1 (Node 20) and 5 (Node 22) side by side, as during a rolling upgrade: the queue is the same.
    instances.push(...(await Promise.all(([4, 5, 4] as const).map((version) => startNodeRed({ version, env })))));
    const flows = [
      { id: TAB, type: 'tab', label: 'cluster callback' },
      { id: CLUSTER, type: 'ms365-cluster', name: 'redis', url: redis().url, prefix: 'e2ecb' },
      {
        id: INJECT, type: 'inject', z: TAB, name: 'events', props: [{ p: 'payload' }], repeat: '', once: false, topic: '',
        payload: JSON.stringify(eventsPayload(PER_NODE)), payloadType: 'json', x: 100, y: 100, wires: [NODES],
      },
      ...NODES.map((id) => ({ id, type: 'ms365-callback-out', z: TAB, name: id, url: `${url}/${id}`, batchSize: 1, retries: 10, cluster: CLUSTER, x: 300, y: 100, wires: [[], []] })),
    ];
    for (const nr of instances) {
      await waitUntil('the initial flows started', () => /Started flows/.test(nr.log()), 30_000);
      await nr.deploy(flows);
    }
    await Promise.all(instances.map((nr) => waitUntil('the cluster connected', () => /Started flows[\s\S]*Started flows/.test(nr.log()), 20_000)));
    const started = Date.now();
    // The same events on every instance: each notification is queued once all the same.
    const injected = await Promise.all(instances.map((nr) => nr.admin.post(`inject/${INJECT}`)));
    assert.deepEqual(injected.map((r) => r.status), [200, 200, 200]);

    await waitUntil('300 deliveries', () => [...arrivals.values()].reduce((n, l) => n + l.length, 0) >= 300, 60_000).catch((err: Error) => {
      err.message += `\n${[...arrivals.values()].map((l) => l.length).join('+')} arrived; logs:\n${instances.map((nr) => nr.log()).join('\n----\n')}`;
      throw err;
    });
    const port = await new Promise<number>((resolve) => {
      hold = resolve;
    });
    const pids = instances.map((nr) => nr.pid()!);
    const victimPid = pidOfConnection(port, pids);
    assert.ok(victimPid, 'the delivering instance is found by its socket');
    const victim = instances.find((nr) => nr.pid() === victimPid)!;
    await victim.kill();

    const expected = eventsPayload(PER_NODE).map((e) => (e as { eventId: string }).eventId);
    await waitUntil('every notification delivered', () => NODES.every((id) => new Set(arrivals.get(`/${id}`)).size === PER_NODE), 120_000);
    const seconds = (Date.now() - started) / 1000;
    let repeats = 0;
    for (const id of NODES) {
      const seen = arrivals.get(`/${id}`)!;
      const firsts = seen.filter((e, i) => seen.indexOf(e) === i);
      assert.deepEqual(firsts, expected, `node ${id}: in order`);
      for (let i = 1; i < seen.length; i++) {
        if (seen.indexOf(seen[i]!) !== i) {
          repeats++;
          assert.equal(seen[i], seen[i - 1], `node ${id}: a repeat follows the delivery it repeats`);
        }
      }
    }
    assert.ok(repeats >= 1 && repeats <= 2, `only the cut delivery is repeated (got ${repeats})`);
    // The longest pause of a node's deliveries: the cut delivery waiting for its lock to expire (the failover).
    const pause = Math.max(...NODES.map((id) => Math.max(...times.get(`/${id}`)!.map((t, i, all) => (i ? t - all[i - 1]! : 0)))));
    console.log(`      1,000 notifications over 3 instances (one SIGKILLed mid-delivery) in ${seconds.toFixed(1)} s, ${repeats} repeat(s), longest pause ${(pause / 1000).toFixed(1)} s (lock 2 s)`);
    for (const nr of instances.filter((n) => n !== victim)) assert.doesNotMatch(nr.log(), /\[error\]/);
  });
});
