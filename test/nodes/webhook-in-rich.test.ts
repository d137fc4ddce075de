/**
 * ms365-webhook-in rich notifications on a real Node-RED runtime (test helper), with the simulator delivering
 * notifications to the helper's RED.httpNode app served on a real loopback port (`reference/graph.md` §4, §11.4):
 * resource data decrypted, validation tokens of both forms accepted, a signing-key rotation dropping nothing,
 * resource data asked only where Graph offers it, and the certificate as Graph wants it.
 */
import assert from 'node:assert/strict';
import axios from 'axios';
import type { NodeMessage } from 'node-red';
import { helper, allNodes, useNodeRed } from '../support/node-red-helper';
import { useHttpNodeServer } from '../support/http-node';
import { useSimulator } from '../support/simulator';
import { connectorFlowNode, waitFor } from '../support/connector';
import { testCertificate, type TestCertificate } from '../support/certificate';
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
  let cert: TestCertificate;
  before(async () => {
    cert = await testCertificate();
  });
  afterEach(async () => {
    await axios.post(`${sim().controlUrl}/reset`);
  });

  async function loadFlow(subscriptions: unknown[], extra: Record<string, unknown> = {}) {
    const { node: conn, credentials } = connectorFlowNode(sim());
    const flow = [
      conn,
      { id: 'w1', type: 'ms365-webhook-in', name: 'hook', connector: conn.id, path: '/ms365/hook', notificationUrl: baseUrl(), subscriptions: JSON.stringify(subscriptions), fetchResource: false, encryptionCertificate: cert.certificatePem, encryptionCertificateId: 'rich-cert', wires: [['out1'], ['out2']], ...extra },
      { id: 'out1', type: 'helper' },
      { id: 'out2', type: 'helper' },
    ];
    const events: Msg[] = [];
    const side: Msg[] = [];
    const warnings: string[] = [];
    const errors: string[] = [];
    const statuses: string[] = [];
    await helper.load([capture, ...allNodes], flow, { ...credentials, w1: { clientState: 'state-of-test', encryptionPrivateKey: cert.privateKeyPem } });
    const w1 = helper.getNode('w1') as unknown as { on(event: string, fn: (call: { args: unknown[] }) => void): void };
    w1.on('call:warn', (call) => warnings.push(String(call.args[0])));
    w1.on('call:error', (call) => errors.push(String(call.args[0])));
    w1.on('call:status', (call) => statuses.push(String((call.args[0] as { text?: string }).text)));
    helper.getNode('out1').on('input', (msg: NodeMessage) => events.push(msg as unknown as Msg));
    helper.getNode('out2').on('input', (msg: NodeMessage) => side.push(msg as unknown as Msg));
    return { events, side, warnings, errors, statuses };
  }

  it('a rich subscription (PEM certificate converted) delivers the decrypted resource; v1 and v2 validation tokens both accepted', async () => {
    await axios.put(`${sim().controlUrl}/subscriptions/options`, { validationTokens: 'alternate' });
    const { events, side, warnings } = await loadFlow([{ resource: 'me/messages?$select=subject', changeType: 'created' }]);
    await waitFor('subscription created', () => side.find((m) => m.topic === 'subscription/created'), 10_000);
    const [sub] = [...subscriptionsOf(sim().state).all.values()];
    assert.equal(sub?.includeResourceData, true);
    assert.equal(sub?.encryptionCertificateId, 'rich-cert');
    assert.ok(Date.parse(sub!.expirationDateTime) - sim().state.clock.now() <= 1440 * 60_000, 'rich Outlook: at most 1,440 minutes');
    for (const subject of ['rich one', 'rich two', 'rich three']) {
      const message = sim().state.graph.store.createMessage(sim().state.defaultUser.id, { subject });
      const created = await waitFor(`event of ${subject}`, () => events.find((m) => m.payload.objectId === message.id), 10_000);
      assert.equal((created.payload.raw?.resource as { subject?: string }).subject, subject);
    }
    const forms = subscriptionsOf(sim().state).deliveries.filter((d) => d.items > 0).length;
    assert.ok(forms >= 3, 'three batches: v1 and v2 forms among them');
    assert.deepEqual(warnings, []);
  });

  it('a signing-key rotation at Microsoft drops no batch: the token naming the new key makes the node fetch the keys again', async () => {
    const { events, side, warnings } = await loadFlow([{ resource: 'me/messages?$select=subject', changeType: 'created' }]);
    await waitFor('subscription created', () => side.find((m) => m.topic === 'subscription/created'), 10_000);
    const first = sim().state.graph.store.createMessage(sim().state.defaultUser.id, { subject: 'before the rotation' });
    await waitFor('first event', () => events.find((m) => m.payload.objectId === first.id), 10_000);
    const rotated = await axios.post(`${sim().controlUrl}/signing-keys/rotate`, { keepOldSeconds: 3600 });
    // The key set was fetched moments ago: jose's 5-minute cooldown would hold the batch; the wall clock steps past
    // it (timers do not move, as when a clock is stepped: support/shifted-clock.cjs does the same to a process).
    const realNow = Date.now;
    Date.now = () => realNow() + 6 * 60_000;
    try {
      const second = sim().state.graph.store.createMessage(sim().state.defaultUser.id, { subject: 'after the rotation' });
      const event = await waitFor('event after the rotation', () => events.find((m) => m.payload.objectId === second.id), 10_000);
      assert.equal((event.payload.raw?.resource as { subject?: string }).subject, 'after the rotation');
    } finally {
      Date.now = realNow;
    }
    assert.ok(typeof rotated.data.kid === 'string');
    assert.deepEqual(warnings, [], 'nothing dropped');
  });

  it('a batch whose validation token has the wrong audience → 202 and no event', async () => {
    const { events, warnings, statuses } = await loadFlow([]);
    const tenantId = sim().state.tenantId;
    const token = signJwt(sim().state, { aud: 'not-our-app', iss: `https://sts.windows.net/${tenantId}/`, appid: '0bf30f3b-4a52-48df-9a82-234910c4a086', ver: '1.0', exp: Math.floor(Date.now() / 1000) + 600 });
    const res = await axios.post(
      `${baseUrl()}/ms365/hook`,
      { value: [{ subscriptionId: 'x', clientState: 'state-of-test', tenantId, changeType: 'created', resource: 'Users/u/Messages/m', resourceData: { id: 'm', '@odata.type': '#Microsoft.Graph.Message' } }], validationTokens: [token] },
      { validateStatus: () => true },
    );
    assert.equal(res.status, 202);
    const status = await waitFor('invalid status', () => statuses.find((t) => /invalid/.test(t)), 10_000);
    assert.match(status, /1 invalid/);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /audience/);
    assert.doesNotMatch(warnings[0]!, new RegExp(token.slice(0, 20)));
    assert.equal(events.length, 0);
  });

  it('mixed resources: the drive is subscribed without resource data and output 2 says so; Outlook with it', async () => {
    const { events, side } = await loadFlow([{ resource: 'me/messages?$select=subject' }, { resource: 'me/drive/root' }]);
    await waitFor('two subscriptions', () => side.filter((m) => m.topic === 'subscription/created').length === 2 && side, 10_000);
    assert.ok(!side.some((m) => m.topic === 'subscription/failed'), JSON.stringify(side));
    const drive = side.find((m) => m.topic === 'subscription/created' && String(m.payload.resource).endsWith('drive/root'))!;
    assert.equal(drive.payload.includeResourceData, false);
    assert.match(String(drive.payload.note), /no resource data on OneDrive/);
    const mail = side.find((m) => m.topic === 'subscription/created' && String(m.payload.resource).includes('messages'))!;
    assert.equal(mail.payload.includeResourceData, true);
    const subs = [...subscriptionsOf(sim().state).all.values()];
    assert.equal(subs.find((s) => s.kind === 'driveItem')?.includeResourceData, undefined);
    const file = sim().state.graph.store.createDriveItem(sim().state.defaultUser.id, { name: 'mixed.txt', content: 'x' });
    await waitFor('drive event', () => events.find((m) => m.payload.objectId === file.id), 10_000);
  });

  const refusals: Array<[string, unknown[], Record<string, unknown>, RegExp]> = [
    ['an Outlook resource without $select', [{ resource: 'me/messages' }], {}, /need a \$select in the resource/],
    ['$select=body', [{ resource: 'me/messages?$select=subject,body' }], {}, /cannot \$select body/],
    ['a bare public key as the certificate', [{ resource: 'me/messages?$select=subject' }], { encryptionCertificate: 'PUBLIC' }, /bare public key/],
    ['text that is no certificate', [{ resource: 'me/messages?$select=subject' }], { encryptionCertificate: 'not a certificate' }, /not an X\.509 certificate/],
  ];
  for (const [what, subscriptions, extra, message] of refusals) {
    it(`refused at deploy, before any call: ${what}`, async () => {
      sim().state.graph.requests.clear();
      const { errors, statuses } = await loadFlow(subscriptions, extra.encryptionCertificate === 'PUBLIC' ? { encryptionCertificate: cert.publicKeyPem } : extra);
      const error = await waitFor('deploy error', () => errors[0], 5_000);
      assert.match(error, message);
      assert.ok(statuses.includes('invalid configuration'));
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(sim().state.graph.requests.list(/subscriptions/).length, 0);
    });
  }
});
