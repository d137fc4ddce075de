/**
 * ms365-webhook-in on a real Node-RED runtime (test helper), with the simulator delivering notifications to the
 * helper's RED.httpNode app served on a real loopback port.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import axios from 'axios';
import type { NodeMessage } from 'node-red';
import { helper, allNodes, useNodeRed } from '../support/node-red-helper';
import { useHttpNodeServer } from '../support/http-node';
import { useSimulator } from '../support/simulator';
import { connectorFlowNode, waitFor } from '../support/connector';
import { subscriptionsOf } from '../../src/simulator/subscriptions';
import { signJwt } from '../../src/simulator/jwt';

interface Msg {
  topic: string;
  payload: Record<string, unknown> & { eventType?: string; objectId?: string; objectType?: string; raw?: Record<string, unknown> };
}

describe('ms365-webhook-in rich notifications (node, against the simulator, graph.md §4)', function () {
  this.timeout(30_000);
  const sim = useSimulator();
  useNodeRed();
  const { capture, base: baseUrl } = useHttpNodeServer();
  const keys = (() => {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    return { privateKeyPem: pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), publicKeyPem: pair.publicKey.export({ format: 'pem', type: 'spki' }).toString() };
  })();


  async function loadFlow(subscriptions: unknown[], extra: Record<string, unknown> = {}) {
    const { node: conn, credentials } = connectorFlowNode(sim());
    const flow = [
      conn,
      { id: 'w1', type: 'ms365-webhook-in', name: 'hook', connector: conn.id, path: '/ms365/hook', notificationUrl: baseUrl(), subscriptions: JSON.stringify(subscriptions), fetchResource: false, encryptionCertificate: keys.publicKeyPem, encryptionCertificateId: 'rich-cert', wires: [['out1'], ['out2']], ...extra },
      { id: 'out1', type: 'helper' },
      { id: 'out2', type: 'helper' },
    ];
    const events: Msg[] = [];
    const side: Msg[] = [];
    await helper.load([capture, ...allNodes], flow, { ...credentials, w1: { clientState: 'state-of-test', encryptionPrivateKey: keys.privateKeyPem } });
    helper.getNode('out1').on('input', (msg: NodeMessage) => events.push(msg as unknown as Msg));
    helper.getNode('out2').on('input', (msg: NodeMessage) => side.push(msg as unknown as Msg));
    return { events, side };
  }

  it('a rich subscription delivers the decrypted resource in raw.resource (no fetch), with valid validation tokens', async () => {
    const { events, side } = await loadFlow([{ resource: 'me/messages', changeType: 'created' }]);
    await waitFor('subscription created', () => side.find((m) => m.topic === 'subscription/created'), 10_000);
    const subs = [...subscriptionsOf(sim().state).all.values()];
    assert.equal(subs[0].includeResourceData, true);
    assert.equal(subs[0].encryptionCertificateId, 'rich-cert');
    const message = sim().state.graph.store.createMessage(sim().state.defaultUser.id, { subject: 'rich hello' });
    const created = await waitFor('CREATED event', () => events.find((m) => m.payload.eventType === 'CREATED'), 10_000);
    assert.equal(created.payload.objectId, message.id);
    assert.equal((created.payload.raw?.resource as { subject?: string }).subject, 'rich hello');
  });

  it('a batch whose validation token has the wrong audience → 202 and no event', async () => {
    const { events } = await loadFlow([]);
    const warnings: string[] = [];
    const statuses: string[] = [];
    const w1 = helper.getNode('w1') as unknown as { on(event: string, fn: (call: { args: unknown[] }) => void): void };
    w1.on('call:warn', (call) => warnings.push(String(call.args[0])));
    w1.on('call:status', (call) => statuses.push(String((call.args[0] as { text?: string }).text)));
    const tenantId = sim().state.tenantId;
    const token = signJwt(sim().state, { aud: 'not-our-app', iss: `https://sts.windows.net/${tenantId}/`, appid: '0bf30f3b-4a52-48df-9a82-234910c4a086', exp: Math.floor(Date.now() / 1000) + 600 });
    const res = await axios.post(
      `${baseUrl()}/ms365/hook`,
      { value: [{ subscriptionId: 'x', clientState: 'state-of-test', tenantId, changeType: 'created', resource: 'Users/u/Messages/m', resourceData: { id: 'm', '@odata.type': '#Microsoft.Graph.Message' } }], validationTokens: [token] },
      { validateStatus: () => true },
    );
    assert.equal(res.status, 202);
    const status = await waitFor('invalid status', () => statuses.find((t) => /invalid/.test(t)), 10_000);
    assert.match(status, /1 invalid/);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /audience/);
    assert.doesNotMatch(warnings[0], new RegExp(token.slice(0, 20)));
    assert.equal(events.length, 0);
  });
});
