/**
 * ms365-webhook-in for a personal Microsoft account (the simulator's consumers-tenant user) on a real Node-RED
 * runtime (test helper): Graph sends personal accounts no lifecycle notifications (`reference/graph.md` §11.4), so
 * the node's renewal timer alone must keep the subscriptions alive. 30 simulated days: the process's timers and
 * wall clock are Node's mock timers (`node:test` `mock.timers`, `setTimeout` and `Date`), the simulator's clock
 * follows `Date`, and each step of the mock clock fires the node's renewal timer as the days would.
 */
import assert from 'node:assert/strict';
import { mock } from 'node:test';
import { performance } from 'node:perf_hooks';
import type { NodeMessage } from 'node-red';
import { helper, allNodes, useNodeRed } from '../support/node-red-helper';
import { useHttpNodeServer } from '../support/http-node';
import { useSimulator } from '../support/simulator';
import { connectorFlowNode } from '../support/connector';
import { CONSUMERS_TENANT_ID, subscriptionsOf } from '../../src/simulator/subscriptions';
import type { Ms365Event } from '../../src/core/events';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Real time passes (setImmediate turns, not the mocked setTimeout) until `condition` holds or `ms` of real time pass. */
async function realWait(ms: number, condition: () => boolean = () => false): Promise<boolean> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if (condition()) return true;
    await new Promise((resolve) => setImmediate(resolve));
  }
  return condition();
}

describe('ms365-webhook-in for a personal Microsoft account (node, against the simulator)', function () {
  this.timeout(120_000);
  const sim = useSimulator();
  useNodeRed();
  const { capture, base: baseUrl } = useHttpNodeServer();

  it('no lifecycle notification in 30 simulated days; renewals by timer alone keep both subscriptions; changes still arrive', async () => {
    const personal = sim().state.users.find((u) => u.driveType === 'personal')!;
    mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.now() });
    try {
      const { node: conn, credentials } = connectorFlowNode(sim(), { userId: personal.id });
      const flow = [
        conn,
        { id: 'w1', type: 'ms365-webhook-in', connector: conn.id, path: '/ms365/personal', notificationUrl: baseUrl(), subscriptions: JSON.stringify([{ resource: 'me/messages' }, { resource: 'me/drive/root' }]), fetchResource: false, wires: [['out1'], ['out2']] },
        { id: 'out1', type: 'helper' },
        { id: 'out2', type: 'helper' },
      ];
      const events: Ms365Event[] = [];
      const side: Array<{ topic: string; payload: Record<string, unknown> }> = [];
      await helper.load([capture, ...allNodes], flow, { ...credentials, w1: { clientState: 'personal-test' } });
      helper.getNode('out1').on('input', (msg: NodeMessage) => events.push(msg.payload as Ms365Event));
      helper.getNode('out2').on('input', (msg: NodeMessage) => side.push(msg as unknown as { topic: string; payload: Record<string, unknown> }));
      assert.ok(await realWait(15_000, () => side.filter((m) => m.topic === 'subscription/created').length === 2), JSON.stringify(side));
      const ids = side.filter((m) => m.topic === 'subscription/created').map((m) => String(m.payload.subscriptionId));

      const start = Date.now();
      while (Date.now() - start < 30 * DAY) {
        mock.timers.tick(12 * HOUR);
        await realWait(150); // the renewals the step fired reach Graph
        for (const id of ids) assert.ok(subscriptionsOf(sim().state).live(id), `subscription alive on day ${((Date.now() - start) / DAY).toFixed(2)}: ${JSON.stringify(side.slice(-3))}`);
      }
      assert.ok(!side.some((m) => m.topic.startsWith('lifecycle/')), 'no lifecycle notification');
      assert.ok(!side.some((m) => m.topic === 'subscription/failed' || m.topic === 'subscription/recreated'), JSON.stringify(side.filter((m) => m.topic !== 'subscription/renewed')));
      const renewed = side.filter((m) => m.topic === 'subscription/renewed').length;
      assert.ok(renewed >= 15, `renewed ${renewed} times in 30 days`);

      const message = sim().state.graph.store.createMessage(personal.id, { subject: 'day 30' });
      assert.ok(await realWait(10_000, () => events.some((e) => e.objectId === message.id)), 'a mail on day 30 still arrives');
      const event = events.find((e) => e.objectId === message.id)!;
      assert.equal((event.raw as { tenantId?: string }).tenantId, CONSUMERS_TENANT_ID);
    } finally {
      mock.timers.reset();
    }
  });
});
