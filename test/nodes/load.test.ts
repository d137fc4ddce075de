import assert from 'node:assert/strict';
import { helper, allNodes, useNodeRed } from '../support/node-red-helper';

describe('node types load in a real Node-RED runtime', () => {
  useNodeRed();

  it('registers the four node types', async () => {
    const flow = [
      { id: 'c1', type: 'ms365-connector', name: 'conn', elementKey: 'outlookemail' },
      { id: 'p1', type: 'ms365-poller', name: 'poll', connector: 'c1' },
      { id: 'w1', type: 'ms365-webhook-in', name: 'hook', connector: 'c1' },
      { id: 'o1', type: 'ms365-callback-out', name: 'out' },
    ];
    await helper.load(allNodes, flow);
    for (const id of ['c1', 'p1', 'w1', 'o1']) assert.ok(helper.getNode(id), `node ${id} is created`);
  });
});
