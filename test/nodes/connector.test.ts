import assert from 'node:assert/strict';
import type { NodeStatus } from 'node-red';
import { helper, allNodes, useNodeRed } from '../support/node-red-helper';
import { useSimulator } from '../support/simulator';
import { connectorFlowNode, waitFor } from '../support/connector';
import type { ConnectorNode } from '../../src/nodes/shared/connector-api';

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
