/**
 * ms365-callback-out on a real node-red process (packed package, e2e harness): events accepted by the node are in
 * the outbox journal on disk, so a SIGKILL (no close handlers, no context flush) loses none of them; after the
 * restart they are delivered, in order, each notification exactly once with a 2xx. The receiver answers 503
 * before the kill, so the notifications are in the outbox (not delivered) when the process dies. The retry
 * schedule runs with MS365_CALLBACK_RETRY_UNIT_MS=1 (8, 64, 512 ms, ...) and 10 retries, so nothing is given up.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { startNodeRed, waitUntil, type NodeRedProcess } from '../support/nodered-process';

const KEY = 'e2e-callback-signature-key';
const CB_ID = 'e2ecb0000000001';
const INJECT_ID = 'e2einj000000001';

interface Delivery {
  eventId: string;
  events: string[];
  signatureOk: boolean;
}

function eventsPayload(n: number): unknown[] {
  return Array.from({ length: n }, (_, i) => ({
    eventId: `e${i}`, eventType: 'CREATED', objectType: 'messages', objectId: `m${i}`, elementKey: 'outlookemail',
    instanceName: 'E2E', date: '2026-11-22T10:00:00.000Z', pollDate: '2026-11-22T10:01:00.000Z', source: 'polling',
    raw: { id: `m${i}` },
  }));
}

for (const version of [4, 5] as const) {
  describe(`e2e: ms365-callback-out survives SIGKILL on Node-RED ${version}`, function () {
    this.timeout(120_000);
    let nr: NodeRedProcess | undefined;
    let server: http.Server;
    let url = '';
    let answer = 503;
    let attempts = 0;
    const delivered: Delivery[] = [];

    before(async () => {
      server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          attempts++;
          const raw = Buffer.concat(chunks);
          if (answer === 200) {
            const body = JSON.parse(raw.toString('utf8')) as { message: { eventId: string; events: Array<{ eventId: string }> } };
            const expected = 'sha256=' + createHmac('sha256', KEY).update(raw).digest('base64');
            delivered.push({ eventId: body.message.eventId, events: body.message.events.map((e) => e.eventId), signatureOk: req.headers['elements-webhook-signature'] === expected });
          }
          res.writeHead(answer).end();
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`;
    });
    after(async () => {
      await nr?.dispose();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it('events queued before a SIGKILL are delivered after the restart, in order, each notification once', async () => {
      nr = await startNodeRed({ version, env: { MS365_CALLBACK_RETRY_UNIT_MS: '1' } });
      // The runtime's own first flow start must be over, or it could replace the deployed flows (the harness may
      // return as soon as the flows file is named in the log).
      await waitUntil('the initial flows started', () => /Started flows/.test(nr!.log()));
      await nr.deploy([
        { id: 'e2etab000000001', type: 'tab', label: 'callback' },
        {
          id: INJECT_ID, type: 'inject', z: 'e2etab000000001', name: 'events', props: [{ p: 'payload' }], repeat: '', once: false,
          topic: '', payload: JSON.stringify(eventsPayload(25)), payloadType: 'json', wires: [[CB_ID]],
        },
        {
          id: CB_ID, type: 'ms365-callback-out', z: 'e2etab000000001', name: 'to receiver', url, batchSize: '', retries: 10,
          credentials: { signatureKey: KEY }, wires: [[], []],
        },
      ]);
      const journal = path.join(nr.userDir, '.ms365-events', `outbox-${CB_ID}.jsonl`);
      await waitUntil('the callback node to start', () => fs.existsSync(journal), 20_000);
      const injected = await nr.admin.post(`inject/${INJECT_ID}`);
      assert.equal(injected.status, 200);
      await waitUntil('3 notifications in the journal and a failed attempt', () => {
        const text = fs.existsSync(journal) ? fs.readFileSync(journal, 'utf8') : '';
        return text.split('\n').filter((l) => l.includes('"op":"add"')).length === 3 && attempts >= 1;
      });

      await nr.kill();
      assert.equal(delivered.length, 0);
      answer = 200;
      await nr.restart();

      await waitUntil('3 deliveries after the restart', () => delivered.length >= 3, 30_000);
      assert.equal(delivered.length, 3);
      assert.deepEqual(delivered.map((d) => d.events.length), [10, 10, 5]);
      assert.deepEqual(delivered.flatMap((d) => d.events), Array.from({ length: 25 }, (_, i) => `e${i}`));
      assert.equal(new Set(delivered.map((d) => d.eventId)).size, 3);
      assert.ok(delivered.every((d) => d.signatureOk), 'every delivery carries a valid signature');
      assert.ok(!fs.readFileSync(journal, 'utf8').includes(KEY), 'the signature key is not in the journal');
      assert.ok(!nr.log().includes(KEY), 'the signature key is not in the log');
    });
  });
}
