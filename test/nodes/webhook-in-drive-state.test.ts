/**
 * ms365-webhook-in drive cursors across a restart (test helper with a user directory, memory-only context): the drive
 * delta cursor is kept in `<userDir>/.ms365-events/webhook-drive-<id>.json` (shared/durable-cursors), so a file
 * changed while Node-RED was stopped comes out with the first notification after the restart, instead of being
 * skipped by a new starting point.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { NodeMessage } from 'node-red';
import { helper, allNodes, useNodeRed, useTempUserDir } from '../support/node-red-helper';
import { useHttpNodeServer } from '../support/http-node';
import { useSimulator } from '../support/simulator';
import { connectorFlowNode, waitFor } from '../support/connector';
import type { Ms365Event } from '../../src/core/events';

describe('ms365-webhook-in drive cursors across a restart (node, against the simulator)', function () {
  this.timeout(30_000);
  const sim = useSimulator();
  useNodeRed();
  const { capture, base: baseUrl } = useHttpNodeServer();
  const userDir = useTempUserDir('ms365-webhook-state-');

  async function load() {
    const { node: conn, credentials } = connectorFlowNode(sim());
    const flow = [
      conn,
      { id: 'w1', type: 'ms365-webhook-in', connector: conn.id, path: '/ms365/drive', notificationUrl: baseUrl(), subscriptions: JSON.stringify([{ resource: 'me/drive/root', changeType: 'updated' }]), fetchResource: true, wires: [['out1'], ['out2']] },
      { id: 'out1', type: 'helper' },
      { id: 'out2', type: 'helper' },
    ];
    const events: Ms365Event[] = [];
    const side: string[] = [];
    await helper.load([capture, ...allNodes], flow, { ...credentials, w1: { clientState: 'drive-state-test' } });
    helper.getNode('out1').on('input', (msg: NodeMessage) => events.push(msg.payload as Ms365Event));
    helper.getNode('out2').on('input', (msg: NodeMessage) => side.push(String(msg.topic)));
    await waitFor('subscription created', () => side.includes('subscription/created'), 10_000);
    return { events };
  }

  it('a file changed while stopped comes out after the restart; the cursor is in the state file', async () => {
    const user = sim().state.defaultUser.id;
    const drive = sim().state.graph.store;
    const first = await load();
    const a = drive.createDriveItem(user, { name: 'a.txt', content: 'a' });
    await waitFor('a.txt', () => first.events.find((e) => e.objectId === a.id), 10_000);
    const saved = JSON.parse(await fsp.readFile(path.join(userDir(), '.ms365-events', 'webhook-w1.json'), 'utf8')) as { cursors: Record<string, { mode: string }> };
    assert.deepEqual(Object.values(saved.cursors).map((c) => c.mode), ['delta']);

    await helper.unload(); // memory context gone
    const b = drive.createDriveItem(user, { name: 'made-while-stopped.txt', content: 'b' });
    const second = await load();
    const c = drive.createDriveItem(user, { name: 'c.txt', content: 'c' });
    await waitFor('c.txt', () => second.events.find((e) => e.objectId === c.id), 10_000);
    const created = second.events.filter((e) => e.eventType === 'CREATED').map((e) => e.objectId);
    assert.ok(created.includes(String(b.id)), `the file made while stopped came out: ${JSON.stringify(created)}`);
    assert.ok(!created.includes(String(a.id)), 'nothing from before the stop repeated');
  });
});
