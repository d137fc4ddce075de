/**
 * ms365-webhook-in against Microsoft as it really answers (issue 15), on a real Node-RED runtime (test helper) with
 * the simulator delivering to the helper's HTTP node app:
 * - a drive subscribed as a user types it (no changeType) asks for `updated`, the only change type Graph accepts;
 *   another changeType is refused at deploy before any call;
 * - a drive notification is resolved through delta whatever its `resourceData` holds (null, absent, a driveItem
 *   type), and no dedupe key is constant across notifications (every later file comes out);
 * - catch-up for every resource form (`me/mailFolders('Inbox')/messages`, `me/messages?$select=...`, `users/{id}/events`).
 */
import assert from 'node:assert/strict';
import axios from 'axios';
import type { NodeMessage } from 'node-red';
import { helper, allNodes, useNodeRed, useTempUserDir } from '../support/node-red-helper';
import { useHttpNodeServer } from '../support/http-node';
import { useSimulator } from '../support/simulator';
import { connectorFlowNode, waitFor } from '../support/connector';
import { subscriptionsOf } from '../../src/simulator/subscriptions';
import type { Ms365Event } from '../../src/core/events';

interface Side {
  topic: string;
  payload: Record<string, unknown>;
}

describe('ms365-webhook-in against Microsoft as it really answers (node, against the simulator)', function () {
  this.timeout(30_000);
  const sim = useSimulator();
  useNodeRed();
  const { capture, base: baseUrl } = useHttpNodeServer();
  useTempUserDir('ms365-webhook-answers-');
  const user = () => sim().state.defaultUser.id;
  const store = () => sim().state.graph.store;

  afterEach(async () => {
    await axios.post(`${sim().controlUrl}/reset`);
  });

  async function load(subscriptions: unknown[]) {
    const { node: conn, credentials } = connectorFlowNode(sim());
    const flow = [
      conn,
      { id: 'w1', type: 'ms365-webhook-in', connector: conn.id, path: '/ms365/answers', notificationUrl: baseUrl(), subscriptions: JSON.stringify(subscriptions), fetchResource: true, wires: [['out1'], ['out2']] },
      { id: 'out1', type: 'helper' },
      { id: 'out2', type: 'helper' },
    ];
    const events: Ms365Event[] = [];
    const side: Side[] = [];
    const errors: string[] = [];
    const statuses: string[] = [];
    await helper.load([capture, ...allNodes], flow, { ...credentials, w1: { clientState: 'answers-test' } });
    const w1 = helper.getNode('w1') as unknown as { on(event: string, fn: (call: { args: unknown[] }) => void): void } | null;
    w1?.on('call:error', (call) => errors.push(String(call.args[0])));
    w1?.on('call:status', (call) => statuses.push(String((call.args[0] as { text?: string }).text)));
    helper.getNode('out1').on('input', (msg: NodeMessage) => events.push(msg.payload as Ms365Event));
    helper.getNode('out2').on('input', (msg: NodeMessage) => side.push(msg as unknown as Side));
    return { events, side, errors, statuses };
  }

  it('a drive resource as a user types it ({"resource": "me/drive/root"}) subscribes with changeType "updated" and delivers', async () => {
    const { events, side } = await load([{ resource: 'me/drive/root' }]);
    await waitFor('subscription created', () => side.find((m) => m.topic === 'subscription/created'), 10_000);
    assert.ok(!side.some((m) => m.topic === 'subscription/failed'), JSON.stringify(side));
    const [sub] = [...subscriptionsOf(sim().state).all.values()];
    assert.equal(sub?.changeType, 'updated');
    assert.equal(sub?.resource, `users/${user()}/drive/root`);
    const file = store().createDriveItem(user(), { name: 'typed.txt', content: 'x' });
    const ev = await waitFor('drive event', () => events.find((e) => e.objectId === file.id), 10_000);
    assert.equal(ev.eventType, 'CREATED');
  });

  it('a drive subscription with another changeType is refused at deploy with a clear message, before any call', async () => {
    sim().state.graph.requests.clear();
    const { errors, statuses } = await load([{ resource: 'me/drive/root', changeType: 'created,updated' }]);
    const error = await waitFor('deploy error', () => errors.find((e) => /changeType/.test(e)), 5_000);
    assert.match(error, /OneDrive subscription takes only changeType "updated"/);
    assert.ok(statuses.includes('invalid configuration'));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(sim().state.graph.requests.list(/subscriptions/).length, 0, 'no call made');
  });

  for (const shape of ['null', 'absent', 'driveItem'] as const) {
    it(`a drive notification with resourceData ${shape} is resolved through delta; every later file comes out too`, async () => {
      await axios.put(`${sim().controlUrl}/subscriptions/options`, { driveResourceData: shape, duplicates: true });
      const { events, side } = await load([{ resource: 'me/drive/root' }]);
      await waitFor('subscription created', () => side.find((m) => m.topic === 'subscription/created'), 10_000);
      const files = [];
      for (let i = 0; i < 3; i += 1) {
        const file = store().createDriveItem(user(), { name: `${shape}-${i}.txt`, content: String(i) });
        files.push(file);
        await waitFor(`file ${i}`, () => events.find((e) => e.objectId === file.id && e.eventType === 'CREATED'), 10_000);
      }
      const renamed = store().updateDriveItem(user(), String(files[0]!.id), { name: 'renamed.txt' });
      await waitFor('the update', () => events.find((e) => e.objectId === renamed.id && e.eventType === 'UPDATED'), 10_000);
      for (const file of files) assert.equal(events.filter((e) => e.objectId === file.id && e.eventType === 'CREATED').length, 1, 'once each');
      assert.ok(events.every((e) => e.objectType === 'driveItems'));
    });
  }

  for (const form of ["me/mailFolders('Inbox')/messages", 'me/messages?$select=subject,from', 'users/{id}/events'] as const) {
    it(`catch-up for ${form}: a subscription Graph forgot is re-created and the change of the gap comes out`, async () => {
      const resource = form.replace('{id}', user());
      const { events, side } = await load([{ resource, expirationMinutes: 0.05 }]);
      const created = await waitFor('subscription created', () => side.find((m) => m.topic === 'subscription/created'), 10_000);
      await axios.post(`${sim().controlUrl}/subscriptions/${String(created.payload.subscriptionId)}/expire`);
      const inGap = form.endsWith('events')
        ? store().createEvent(user(), { subject: 'in the gap', start: '2030-01-01T10:00:00Z', end: '2030-01-01T11:00:00Z' })
        : store().createMessage(user(), { subject: 'in the gap' });
      const report = await waitFor('catch-up report', () => side.find((m) => m.topic === 'lifecycle/catchup'), 10_000);
      assert.equal(report.payload.events, 1, JSON.stringify(side));
      const ev = await waitFor('the change of the gap', () => events.find((e) => e.objectId === String(inGap.id)), 10_000);
      assert.equal(ev.eventType, 'CREATED');
      assert.equal(ev.source, 'webhook');
      assert.ok(!side.some((m) => m.topic === 'lifecycle/catchup-needed'), 'caught up, not just reported');
    });
  }
});
