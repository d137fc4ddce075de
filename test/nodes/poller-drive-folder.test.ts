/**
 * ms365-poller with an Open Connectors folder resource (`/hubs/documents/folders/{id}`) on a OneDrive for Business
 * drive, where Graph has delta on the root only (graph.md §11.5): the folder's changes come out, others do not.
 */
import assert from 'node:assert/strict';
import type { NodeMessage } from 'node-red';
import { helper, allNodes, useNodeRed } from '../support/node-red-helper';
import { useSimulator } from '../support/simulator';
import { connectorFlowNode, waitFor } from '../support/connector';
import type { Ms365Event } from '../../src/core/events';

describe('ms365-poller: a OneDrive for Business folder (node, against the simulator)', function () {
  this.timeout(30_000);
  const sim = useSimulator();
  useNodeRed();

  it('/hubs/documents/folders/{id}: CREATED and DELETED of the folder\'s files only; no folder delta is asked of the business drive', async () => {
    const user = sim().state.defaultUser.id;
    const store = sim().state.graph.store;
    const folder = store.createDriveItem(user, { name: 'Invoices', folder: true });
    const { node: conn, credentials } = connectorFlowNode(sim(), { elementKey: 'onedrivev2' });
    const flow = [
      conn,
      { id: 'p1', type: 'ms365-poller', connector: conn.id, interval: 60, timezone: 'UTC', configuration: JSON.stringify({ invoices: { url: `/hubs/documents/folders/${folder.id}`, idField: 'id' } }), pollOnStart: false, wires: [['out']] },
      { id: 'out', type: 'helper' },
    ];
    await helper.load(allNodes, flow, credentials);
    const events: Ms365Event[] = [];
    const statuses: string[] = [];
    helper.getNode('out').on('input', (msg: NodeMessage) => events.push(msg.payload as Ms365Event));
    const poller = helper.getNode('p1');
    (poller as unknown as NodeJS.EventEmitter).on('call:status', (call: { args: Array<{ text?: string }> }) => statuses.push(call.args[0]?.text ?? ''));
    const poll = async () => {
      const before = statuses.filter((s) => /^\d\d:\d\d:\d\d: \d+ event|^error|^missing/.test(s)).length;
      poller.receive({ payload: 'poll' });
      await waitFor('round end', () => statuses.filter((s) => /^\d\d:\d\d:\d\d: \d+ event|^error|^missing/.test(s)).length > before);
      sim().state.clock.advance(1000);
    };
    await poll();
    const invoice = store.createDriveItem(user, { name: 'invoice-1.pdf', parentId: folder.id! });
    store.createDriveItem(user, { name: 'holiday.jpg' });
    await poll();
    await waitFor('CREATED', () => events.find((e) => e.eventType === 'CREATED'));
    store.deleteDriveItem(user, invoice.id!);
    await poll();
    await waitFor('DELETED', () => events.find((e) => e.eventType === 'DELETED'));
    assert.deepEqual(events.map((e) => [e.eventType, e.objectId, e.objectType]), [['CREATED', invoice.id, 'invoices'], ['DELETED', invoice.id, 'invoices']]);
    assert.equal(sim().state.graph.requests.list(/\/items\/[^/]+\/delta/).length, 0);
    assert.ok(!statuses.some((s) => /^error|^missing/.test(s)), statuses.join(' | '));
  });
});
