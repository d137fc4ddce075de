/**
 * The poller on a real Node-RED process (packed package, file context store): changes made while Node-RED is
 * stopped come out after the restart, and nothing emitted before the restart comes out again. Events are observed
 * at a loopback callback receiver through ms365-callback-out (signed).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startNodeRed, waitUntil, type NodeRedProcess } from '../support/nodered-process';
import { useSimulator } from '../support/simulator';
import { SIM_CLIENT_ID, SIM_CLIENT_SECRET } from '../../src/simulator/identity';

interface ReceivedEvent {
  eventType: string;
  objectId: string;
  eventId: string;
}

describe('e2e: ms365-poller across a Node-RED restart (Node-RED 4.1)', function () {
  this.timeout(120_000);
  const sim = useSimulator();
  let nr: NodeRedProcess;
  let receiver: http.Server;
  let receiverUrl = '';
  const events: ReceivedEvent[] = [];

  before(async () => {
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { message: { events: ReceivedEvent[] } };
        events.push(...body.message.events);
        res.statusCode = 200;
        res.end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/events`;
    nr = await startNodeRed({ version: 4 });
    await waitUntil('first flow start', () => /Started flows/.test(nr.log()));
  });
  after(async () => {
    await nr?.dispose();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  });

  it('emits each change once: before, during and after a restart', async () => {
    const store = sim().state.graph.store;
    const user = sim().state.defaultUser.id;
    store.createMessage(user, { subject: 'existed before the poller' });
    await nr.deploy([
      { id: 'tab', type: 'tab', label: 'e2e' },
      {
        id: 'conn', type: 'ms365-connector', name: 'E2E', elementKey: 'outlookemail', tenant: sim().state.tenantId, grantType: 'client_credentials',
        scope: '', callbackUrl: '', authorityHost: sim().authorityHost, graphBaseUrl: sim().graphBaseUrl, userId: user, tags: '',
        credentials: { clientId: SIM_CLIENT_ID, clientSecret: SIM_CLIENT_SECRET },
      },
      { id: 'poll', type: 'ms365-poller', z: 'tab', connector: 'conn', interval: 0.02, timezone: 'UTC', configuration: '', pollOnStart: true, wires: [['out']] },
      { id: 'out', type: 'ms365-callback-out', z: 'tab', url: receiverUrl, batchSize: 1, retries: 5, wires: [[], []] },
    ]);
    // Wait for the starting point (the first poll), then make a change.
    await waitUntil('first poll', () => sim().state.graph.requests.list(/messages\/delta/).length >= 1, 20_000);
    const first = store.createMessage(user, { subject: 'first' });
    await waitUntil('first CREATED', () => events.some((e) => e.objectId === first.id), 20_000);

    await nr.stop();
    const during = store.createMessage(user, { subject: 'while stopped' });
    store.updateMessage(user, String(first.id), { isRead: true });
    await nr.restart();
    await waitUntil('change made while stopped', () => events.some((e) => e.objectId === during.id), 30_000);
    await waitUntil('update made while stopped', () => events.some((e) => e.objectId === first.id && e.eventType === 'UPDATED'), 30_000);
    // A few more polls: nothing repeats.
    const polls = sim().state.graph.requests.list(/messages\/delta/).length;
    await waitUntil('three more polls', () => sim().state.graph.requests.list(/messages\/delta/).length >= polls + 3, 20_000);

    const summary = events.map((e) => `${e.eventType} ${e.objectId}`);
    assert.deepEqual(summary.sort(), [`CREATED ${first.id}`, `CREATED ${during.id}`, `UPDATED ${first.id}`].sort());
    assert.equal(new Set(events.map((e) => e.eventId)).size, events.length);
  });
});
