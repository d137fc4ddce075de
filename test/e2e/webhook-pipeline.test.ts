/**
 * The whole webhook path on a real Node-RED process (4.1/Node 20 and 5/Node 22) loading the packed package:
 * a change in the simulated tenant → Graph notification → ms365-webhook-in → ms365-callback-out → a loopback
 * receiver that checks the signature independently. Also: the subscription is deleted when the node is removed.
 */
import assert from 'node:assert/strict';
import { startNodeRed, waitUntil, type NodeRedProcess } from '../support/nodered-process';
import { useSimulator } from '../support/simulator';
import { connectorFlowNode } from '../support/connector';
import { startCallbackReceiver, type CallbackReceiver } from '../support/callback-receiver';
import { subscriptionsOf } from '../../src/simulator/subscriptions';

const KEY = 'e2e-webhook-signature-key';

for (const version of [4, 5] as const) {
  describe(`e2e: change → webhook-in → signed callback on Node-RED ${version}`, function () {
    this.timeout(90_000);
    const sim = useSimulator();
    let nr: NodeRedProcess;
    let receiver: CallbackReceiver;

    before(async () => {
      receiver = await startCallbackReceiver({ signatureKey: KEY });
      nr = await startNodeRed({ version });
      await waitUntil('first flow start', () => /Started flows/.test(nr.log()));
    });
    after(async () => {
      await nr?.dispose();
      await receiver.close();
    });

    const connector = () => {
      const { node, credentials, id } = connectorFlowNode(sim(), { id: 'conn', name: 'E2E', elementKey: 'outlookemail' });
      return { ...node, credentials: credentials[id] };
    };

    it('a new mail in the tenant arrives at the receiver as one signed CREATED event', async () => {
      await nr.deploy([
        { id: 'tab', type: 'tab', label: 'e2e' },
        connector(),
        {
          id: 'hook', type: 'ms365-webhook-in', z: 'tab', connector: 'conn', path: '/ms365/e2e', notificationUrl: nr.url.replace(/\/$/, ''),
          subscriptions: JSON.stringify([{ resource: 'me/messages', changeType: 'created,updated,deleted' }]), fetchResource: true, wires: [['out'], []],
        },
        { id: 'out', type: 'ms365-callback-out', z: 'tab', url: `${receiver.url}/events`, batchSize: '', retries: 5, credentials: { signatureKey: KEY }, wires: [[], []] },
      ]);
      await waitUntil('subscription created', () => [...subscriptionsOf(sim().state).all.values()].length === 1, 20_000);
      const message = sim().state.graph.store.createMessage(sim().state.defaultUser.id, { subject: 'e2e webhook' });
      const event = await waitUntil('signed callback', () => receiver.events().find((ev) => ev.objectId === message.id), 20_000);
      assert.equal(event?.eventType, 'CREATED');
      assert.equal(event?.objectType, 'messages');
      assert.equal(event?.source, 'webhook');
      assert.ok(receiver.notifications.length > 0 && receiver.notifications.every((n) => n.signatureOk === true), 'every signature verified independently');
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
