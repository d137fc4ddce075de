/**
 * ms365-webhook-in whose connector names an `ms365-cluster` (issue 17 item 3) on a real Node-RED runtime (test helper),
 * a real redis-server and the simulated tenant: the notification dedupe set is shared by the instances. Another
 * instance is played by the test with its own shared-state client on the same Redis, claiming keys as its webhook-in
 * would; notifications are posted to the node's route over real HTTP. A notification another instance handled does
 * not come out here; one this instance handles comes out once and is claimed for the others; a cluster node that is
 * named but not deployed stops the node (no fall-back).
 */
import assert from 'node:assert/strict';
import axios from 'axios';
import type { NodeMessage } from 'node-red';
import { helper, allNodes, useNodeRed, useTempUserDir } from '../support/node-red-helper';
import { useHttpNodeServer } from '../support/http-node';
import { useSimulator } from '../support/simulator';
import { connectorFlowNode, waitFor } from '../support/connector';
import { useRedisServer, useRedisStates } from '../support/redis';
import { SHARED_DEDUPE_TTL_S } from '../../src/core/webhooks/receiver';

const clusterModule = require('../../src/nodes/ms365-cluster');

describe('ms365-webhook-in with a cluster: notification dedupe shared by the instances (node, redis-server, simulator)', function () {
  this.timeout(30_000);
  const redis = useRedisServer();
  const sim = useSimulator();
  useNodeRed();
  useTempUserDir('ms365-webhook-cluster-');
  const { capture, base } = useHttpNodeServer();
  const states = useRedisStates(redis, 'wc');

  async function load(withCluster = true) {
    const { node: conn, credentials } = connectorFlowNode(sim(), { cluster: 'cl1' });
    const flow: Array<Record<string, unknown>> = [
      conn,
      { id: 'w1', type: 'ms365-webhook-in', connector: conn.id, path: '/ms365/cluster-hook', notificationUrl: base(), subscriptions: '[]', fetchResource: false, wires: [['out1'], ['out2']] },
      { id: 'out1', type: 'helper' },
      { id: 'out2', type: 'helper' },
    ];
    if (withCluster) flow.unshift({ id: 'cl1', type: 'ms365-cluster', url: redis().url, prefix: states.prefix() });
    await helper.load([capture, clusterModule, ...allNodes], flow as never, { ...credentials, w1: { clientState: 'cluster-state' } });
    const events: Array<{ objectId: string; eventId: string }> = [];
    helper.getNode('out1').on('input', (msg: NodeMessage) => events.push(msg.payload as { objectId: string; eventId: string }));
    return { events };
  }

  const item = (id: string, etag = 'W/"1"') => ({
    subscriptionId: 'sub-c1', clientState: 'cluster-state', tenantId: sim().state.tenantId, changeType: 'updated',
    resource: `Users/${sim().state.defaultUser.id}/Messages/${id}`, resourceData: { '@odata.type': '#Microsoft.Graph.Message', id, '@odata.etag': etag },
  });
  const post = async (...items: unknown[]) => {
    const res = await axios.post(`${base()}/ms365/cluster-hook`, { value: items });
    assert.equal(res.status, 202);
  };
  const key = (id: string, etag = 'W/"1"') => `webhook-in:w1:sub-c1|updated|${id}|${etag}`;

  it('a notification another instance handled does not come out; one this instance handles comes out once and is claimed for the others', async () => {
    const other = await states.open('other-instance');
    const { events } = await load();
    // The other instance got m1 first (Graph retried it to us, or a load balancer sent a repeat here).
    assert.equal(await other.dedupe.claim(key('m1'), SHARED_DEDUPE_TTL_S), true);
    await post(item('m1'), item('m2'));
    await waitFor('m2 out', () => events.some((e) => e.objectId === 'm2'), 10_000);
    await post(item('m2'), item('m1'), item('m3'));
    await waitFor('m3 out', () => events.some((e) => e.objectId === 'm3'), 10_000);
    assert.deepEqual(events.map((e) => e.objectId), ['m2', 'm3']);
    // What this instance handled is claimed: the other instance would drop it.
    assert.equal(await other.dedupe.claim(key('m2'), SHARED_DEDUPE_TTL_S), false);
    assert.equal(await other.dedupe.claim(key('m3'), SHARED_DEDUPE_TTL_S), false);
    // A new version of m1 is a new change, wherever it arrives.
    await post(item('m1', 'W/"2"'));
    await waitFor('m1 v2 out', () => events.some((e) => e.objectId === 'm1'), 10_000);
  });

  it('a cluster named by the connector but not deployed: the node does not start (red status, readable error), nothing comes out', async () => {
    const { events } = await load(false);
    const errors = await waitFor('error', () => {
      const found = helper
        .log()
        .args.map((a: unknown[]) => a[0] as { level?: number; msg?: unknown; type?: string })
        .filter((e) => e && e.type === 'ms365-webhook-in' && e.level === 20)
        .map((e) => String(e.msg));
      return found.length ? found : undefined;
    });
    assert.match(errors[0]!, /the cluster node cl1 of its connector is not deployed/);
    const res = await axios.post(`${base()}/ms365/cluster-hook`, { value: [item('z1')] }, { validateStatus: () => true });
    assert.notEqual(res.status, 202, 'no route: the node did not start');
    assert.equal(events.length, 0);
  });
});
