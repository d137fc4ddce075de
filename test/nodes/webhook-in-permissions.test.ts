/**
 * ms365-webhook-in when Graph refuses the subscription for a missing permission (403 `ExtensionError`,
 * `reference/graph.md` §11.6): the status and node.error name the permission; the node does not retry the create.
 */
import assert from 'node:assert/strict';
import { helper, allNodes, useNodeRed } from '../support/node-red-helper';
import { useHttpNodeServer } from '../support/http-node';
import { useSimulator } from '../support/simulator';
import { connectorFlowNode, waitFor } from '../support/connector';
import { identityOf } from '../../src/simulator/identity';
import { subscriptionsOf } from '../../src/simulator/subscriptions';

describe('ms365-webhook-in: missing Graph permission (node, against the simulator)', function () {
  this.timeout(30_000);
  const sim = useSimulator();
  useNodeRed();
  const { capture, base: baseUrl } = useHttpNodeServer();

  it('an app that may only read drives cannot subscribe to a drive root: "missing permission Files.ReadWrite.All"', async () => {
    const app = identityOf(sim().state).registerApp({ appRoles: ['Files.Read.All', 'User.Read.All'] });
    const { node: conn, credentials } = connectorFlowNode(sim(), { elementKey: 'onedrivev2' }, { clientId: app.clientId, clientSecret: app.clientSecret });
    sim().state.graph.requests.clear();
    const flow = [
      conn,
      { id: 'w1', type: 'ms365-webhook-in', connector: conn.id, path: '/ms365/perm', notificationUrl: baseUrl(), subscriptions: JSON.stringify([{ resource: 'me/drive/root', changeType: 'updated' }]), fetchResource: true, wires: [[], []] },
    ];
    await helper.load([capture, ...allNodes], flow, { ...credentials, w1: { clientState: 'state-of-test' } });
    const node = helper.getNode('w1') as unknown as NodeJS.EventEmitter;
    const statuses: string[] = [];
    const errors: string[] = [];
    node.on('call:status', (call: { args: Array<{ text?: string }> }) => statuses.push(call.args[0]?.text ?? ''));
    node.on('call:error', (call: { args: unknown[] }) => errors.push(String(call.args[0])));
    await waitFor('the status naming the permission', () => statuses.includes('missing permission Files.ReadWrite.All'), 10_000);
    assert.match(errors.join('\n'), /subscription for users\/[^ ]+\/drive\/root failed: missing permission Files\.ReadWrite\.All \(the application permission/);
    assert.match(errors.join('\n'), /ExtensionError/);
    assert.equal(subscriptionsOf(sim().state).all.size, 0);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const creates = sim().state.graph.requests.list(/\/subscriptions$/).filter((r) => r.method === 'POST');
    assert.equal(creates.length, 1, 'the refused create is not retried');
    assert.equal(creates[0].status, 403);
  });
});
