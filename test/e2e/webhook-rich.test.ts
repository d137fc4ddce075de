/**
 * Rich notifications and a drive as a user types it, on a real Node-RED process (4.1/Node 20 and 5/Node 22) loading
 * the packed package (its runtime dependency `jose` resolved as a user's install resolves it): a certificate pasted
 * as PEM, `me/messages?$select=subject` with resource data and `me/drive/root` without a changeType in one node; the
 * simulator alternates v1 and v2 validation tokens. Every change arrives at a callback receiver, nothing is dropped.
 */
import assert from 'node:assert/strict';
import axios from 'axios';
import { startNodeRed, waitUntil, type NodeRedProcess } from '../support/nodered-process';
import { useSimulator } from '../support/simulator';
import { connectorFlowNode } from '../support/connector';
import { startCallbackReceiver, type CallbackReceiver } from '../support/callback-receiver';
import { testCertificate } from '../support/certificate';
import { subscriptionsOf } from '../../src/simulator/subscriptions';

for (const version of [4, 5] as const) {
  describe(`e2e: rich notifications (v1 and v2 tokens) and a drive without changeType on Node-RED ${version}`, function () {
    this.timeout(90_000);
    const sim = useSimulator();
    let nr: NodeRedProcess;
    let receiver: CallbackReceiver;

    before(async () => {
      receiver = await startCallbackReceiver({});
      nr = await startNodeRed({ version });
      await waitUntil('first flow start', () => /Started flows/.test(nr.log()));
    });
    after(async () => {
      await nr?.dispose();
      await receiver.close();
    });

    it('mail with resource data and drive files arrive; both token forms accepted; the drive subscribed with "updated" and without resource data', async () => {
      const cert = await testCertificate();
      await axios.put(`${sim().controlUrl}/subscriptions/options`, { validationTokens: 'alternate' });
      const { node, credentials, id } = connectorFlowNode(sim(), { id: 'conn', name: 'E2E', elementKey: 'outlookemail' });
      await nr.deploy([
        { id: 'tab', type: 'tab', label: 'e2e' },
        { ...node, credentials: credentials[id] },
        {
          id: 'hook', type: 'ms365-webhook-in', z: 'tab', connector: 'conn', path: '/ms365/rich', notificationUrl: nr.url.replace(/\/$/, ''),
          subscriptions: JSON.stringify([{ resource: 'me/messages?$select=subject' }, { resource: 'me/drive/root' }]), fetchResource: false,
          encryptionCertificate: cert.certificatePem, encryptionCertificateId: 'e2e-cert',
          credentials: { clientState: 'e2e-rich-state', encryptionPrivateKey: cert.privateKeyPem }, wires: [['out'], []],
        },
        { id: 'out', type: 'ms365-callback-out', z: 'tab', url: `${receiver.url}/events`, batchSize: '', retries: 5, wires: [[], []] },
      ]);
      await waitUntil('two subscriptions', () => [...subscriptionsOf(sim().state).all.values()].length === 2, 20_000);
      const subs = [...subscriptionsOf(sim().state).all.values()];
      const drive = subs.find((s) => s.kind === 'driveItem');
      assert.equal(drive?.changeType, 'updated');
      assert.equal(drive?.includeResourceData, undefined);
      assert.equal(subs.find((s) => s.kind === 'message')?.includeResourceData, true);
      const user = sim().state.defaultUser.id;
      for (const subject of ['first', 'second', 'third']) {
        const message = sim().state.graph.store.createMessage(user, { subject });
        await waitUntil(`mail ${subject}`, () => receiver.events().find((ev) => ev.objectId === message.id), 20_000);
      }
      const file = sim().state.graph.store.createDriveItem(user, { name: 'e2e.txt', content: 'x' });
      const event = await waitUntil('drive file', () => receiver.events().find((ev) => ev.objectId === file.id), 20_000);
      assert.equal(event?.objectType, 'driveItems');
      assert.doesNotMatch(nr.log(), /invalid validation token|dropped notifications/i);
      assert.ok(!nr.log().includes('e2e-rich-state') && !nr.log().includes('PRIVATE KEY'), 'no secret in the log');
    });
  });
}
