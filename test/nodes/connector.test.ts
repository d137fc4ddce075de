import assert from 'node:assert/strict';
import type { NodeStatus } from 'node-red';
import { helper, allNodes, useNodeRed } from '../support/node-red-helper';
import { useSimulator } from '../support/simulator';
import { connectorFlowNode, waitFor } from '../support/connector';
import type { Node, NodeAPI, NodeDef } from 'node-red';
import type { ConnectorNode } from '../../src/nodes/shared/connector-api';
import { useConnector } from '../../src/nodes/shared/use-connector';

describe('ms365-connector: client credentials', () => {
  useNodeRed();
  const sim = useSimulator();

  it('load with client credentials: status "app-only", graph.get(mePath) reaches the simulator with a token', async () => {
    const { node, credentials } = connectorFlowNode(sim());
    await helper.load(allNodes, [node], credentials);
    const conn = helper.getNode(node.id) as unknown as ConnectorNode;
    const status = await waitFor('app-only status', () => {
      const s = conn.currentStatus() as NodeStatus;
      return s.fill === 'green' ? s : undefined;
    });
    assert.match(String(status.text), /app-only/);
    assert.equal(conn.mePath, `/users/${sim().state.defaultUser.id}`);
    assert.equal(conn.authStatus().state, 'signed_in');
    const token = await (conn.graph.options.tokens.getAccessToken());
    assert.equal(sim().state.accessTokens.check(`Bearer ${token}`).ok, true);
  });
});

/** A minimal node type that uses a connector the way the poller and webhook nodes do. */
function connectorUser(RED: NodeAPI): void {
  RED.nodes.registerType('test-connector-user', function (this: Node, def: NodeDef & { connector?: string }) {
    RED.nodes.createNode(this, def);
    (this as Node & { connectorNode?: ConnectorNode }).connectorNode = useConnector(RED, this, def.connector);
  });
}

describe('useConnector (for nodes that use a connector)', () => {
  useNodeRed();
  const sim = useSimulator();

  it('useConnector(existing id) registers the user, which then shows the connector status', async () => {
    const { node, credentials } = connectorFlowNode(sim(), { id: 'cx' });
    await helper.load([...allNodes, connectorUser], [node, { id: 'u1', type: 'test-connector-user', connector: 'cx' } as unknown as NodeDef], credentials);
    const user = helper.getNode('u1') as unknown as Node & { connectorNode?: ConnectorNode };
    assert.equal(user.connectorNode, helper.getNode('cx'));
    const statuses: NodeStatus[] = [];
    (user as unknown as { on(e: string, cb: (c: { args: NodeStatus[] }) => void): void }).on('call:status', (c) => statuses.push(c.args[0]));
    await waitFor('user shows app-only', () => statuses.some((s) => /app-only/.test(String(s.text))) || /app-only/.test(String(user.connectorNode?.currentStatus().text)));
  });

  it('useConnector(missing id) answers undefined, red status "no connector" and one clear error', async () => {
    await helper.load([...allNodes, connectorUser], [{ id: 'u2', type: 'test-connector-user', connector: 'nope' } as unknown as NodeDef]);
    const user = helper.getNode('u2') as unknown as Node & { connectorNode?: ConnectorNode };
    assert.equal(user.connectorNode, undefined);
    await waitFor('error logged', () => helper.log().args.some((a: unknown[]) => /Missing Microsoft 365 connector/.test(JSON.stringify(a))));
  });
});
