/**
 * The whole webhook path on a real Node-RED process (4.1/Node 20 and 5/Node 22) loading the packed package:
 * a change in the simulated tenant → Graph notification → ms365-webhook-in → ms365-callback-out → a loopback
 * receiver that checks the signature independently. Also: the subscription is deleted when the node is removed.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startNodeRed, waitUntil, type NodeRedProcess } from '../support/nodered-process';
import { useSimulator } from '../support/simulator';
import { SIM_CLIENT_ID, SIM_CLIENT_SECRET } from '../../src/simulator/identity';
import { subscriptionsOf } from '../../src/simulator/subscriptions';

const KEY = 'e2e-webhook-signature-key';

interface Envelope {
  message: { eventId: string; events: Array<{ eventType: string; objectId: string; objectType: string; source: string }> };
}

for (const version of [4, 5] as const) {
  describe(`e2e: change → webhook-in → signed callback on Node-RED ${version}`, function () {
    this.timeout(90_000);
    const sim = useSimulator();
    let nr: NodeRedProcess;
    let receiver: http.Server;
    let receiverUrl = '';
    const received: Envelope[] = [];
    const badSignatures: string[] = [];

    before(async () => {
      receiver = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const body = Buffer.concat(chunks);
          const expected = `sha256=${crypto.createHmac('sha256', KEY).update(body).digest('base64')}`;
          if (req.headers['elements-webhook-signature'] !== expected) badSignatures.push(String(req.headers['elements-webhook-signature']));
          else received.push(JSON.parse(body.toString('utf8')) as Envelope);
          res.statusCode = 200;
          res.end();
        });
      });
      await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
      receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/events`;
      nr = await startNodeRed({ version });
      await waitUntil('first flow start', () => /Started flows/.test(nr.log()));
    });
    after(async () => {
      await nr?.dispose();
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
    });

    const connector = () => ({
      id: 'conn', type: 'ms365-connector', name: 'E2E', elementKey: 'outlookemail', tenant: sim().state.tenantId,
      grantType: 'client_credentials', scope: '', callbackUrl: '', authorityHost: sim().authorityHost, graphBaseUrl: sim().graphBaseUrl,
      userId: sim().state.defaultUser.id, tags: '', credentials: { clientId: SIM_CLIENT_ID, clientSecret: SIM_CLIENT_SECRET },
    });

    it('a new mail in the tenant arrives at the receiver as one signed CREATED event', async () => {
      await nr.deploy([
        { id: 'tab', type: 'tab', label: 'e2e' },
        connector(),
        {
          id: 'hook', type: 'ms365-webhook-in', z: 'tab', connector: 'conn', path: '/ms365/e2e', notificationUrl: nr.url.replace(/\/$/, ''),
          subscriptions: JSON.stringify([{ resource: 'me/messages', changeType: 'created,updated,deleted' }]), fetchResource: true, wires: [['out'], []],
        },
        { id: 'out', type: 'ms365-callback-out', z: 'tab', url: receiverUrl, batchSize: '', retries: 5, credentials: { signatureKey: KEY }, wires: [[], []] },
      ]);
      await waitUntil('subscription created', () => [...subscriptionsOf(sim().state).all.values()].length === 1, 20_000);
      const message = sim().state.graph.store.createMessage(sim().state.defaultUser.id, { subject: 'e2e webhook' });
      const envelope = await waitUntil('signed callback', () => received.find((e) => e.message.events.some((ev) => ev.objectId === message.id)), 20_000);
      const event = envelope.message.events.find((ev) => ev.objectId === message.id);
      assert.equal(event?.eventType, 'CREATED');
      assert.equal(event?.objectType, 'messages');
      assert.equal(event?.source, 'webhook');
      assert.deepEqual(badSignatures, []);
      assert.ok(!nr.log().includes(KEY), 'signature key absent from the log');
    });

    it('removing the node deletes its subscription', async () => {
      const [sub] = [...subscriptionsOf(sim().state).all.values()];
      await nr.admin.post('flows', [{ id: 'tab', type: 'tab', label: 'e2e' }, connector()], {
        headers: { 'Node-RED-Deployment-Type': 'nodes', 'Content-Type': 'application/json' },
      });
      await waitUntil('subscription deleted', () => !subscriptionsOf(sim().state).live(sub.id), 20_000);
    });
  });
}
