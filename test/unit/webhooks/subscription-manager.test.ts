/**
 * `core/webhooks/subscription-manager` against the simulated Graph (real GraphClient, real tokens), its renewal timer
 * driven step by step with the simulator's clock: a personal Microsoft account (consumers tenant) gets no lifecycle
 * notifications from Graph ("Reduce missing subscriptions and change notifications": lifecycle events are for work or
 * school accounts; `reference/graph.md` §11.4), so renewal by timer alone must keep its subscriptions alive; 30
 * simulated days here.
 */
import assert from 'node:assert/strict';
import axios from 'axios';
import { useNotificationEndpoint } from '../../support/notification-endpoint';
import { simGraphClient, useSimulator } from '../../support/simulator';
import { waitFor } from '../../support/connector';
import { SubscriptionManager, type SubscriptionEvent, type SubscriptionRecord } from '../../../src/core/webhooks/subscription-manager';
import { CONSUMERS_TENANT_ID, subscriptionsOf } from '../../../src/simulator/subscriptions';

const DAY = 24 * 3600_000;

describe('core/webhooks/subscription-manager: a personal account kept alive by timer alone (30 simulated days)', function () {
  this.timeout(60_000);
  const sim = useSimulator();
  const endpoint = useNotificationEndpoint<{ value: Array<Record<string, unknown>> }>();
  const bodies = endpoint.bodies;

  it('no lifecycle notification ever arrives; renewals alone keep mail and drive subscriptions alive; changes still notify on day 30', async () => {
    const user = sim().state.users.find((u) => u.driveType === 'personal')!.id; // a Microsoft account (consumers tenant)
    let pending: { fn: () => void; ms: number } | undefined;
    const events: SubscriptionEvent[] = [];
    let saved: SubscriptionRecord[] = [];
    const manager = new SubscriptionManager({
      graph: simGraphClient(sim()),
      now: () => sim().state.clock.now(),
      notificationUrl: endpoint.url(),
      clientState: 'personal',
      specs: [
        { resource: `users/${user}/messages`, changeType: 'created,updated,deleted' },
        { resource: `users/${user}/drive/root`, changeType: 'updated' },
      ],
      load: async () => saved,
      save: async (records) => {
        saved = records;
      },
      onEvent: (event) => events.push(event),
      timers: {
        set: (fn, ms) => {
          pending = { fn, ms };
          return pending;
        },
        clear: (handle) => {
          if (pending === handle) pending = undefined;
        },
      },
    });
    await manager.start();
    const ids = manager.current.map((r) => r.id);
    assert.equal(ids.length, 2, JSON.stringify(events));
    for (const id of ids) {
      const refused = await axios.post(`${sim().controlUrl}/subscriptions/${id}/lifecycle`, { event: 'reauthorizationRequired' }, { validateStatus: () => true });
      assert.equal(refused.status, 409, 'the simulator sends a personal account no lifecycle notification');
    }
    const start = sim().state.clock.now();
    let renewals = 0;
    while (sim().state.clock.now() - start < 30 * DAY) {
      const timer = pending;
      assert.ok(timer, 'a renewal timer is always pending');
      pending = undefined;
      sim().state.clock.advance(timer.ms);
      const before = events.length;
      timer.fn();
      await waitFor('the next timer', () => pending !== undefined, 10_000);
      renewals += events.slice(before).filter((e) => e.kind === 'renewed').length;
      for (const id of ids) assert.ok(subscriptionsOf(sim().state).live(id), `subscription ${id} alive on day ${((sim().state.clock.now() - start) / DAY).toFixed(1)}`);
    }
    manager.stop();
    assert.deepEqual(manager.current.map((r) => r.id), ids, 'never recreated');
    assert.ok(!events.some((e) => e.kind === 'failed' || e.kind === 'recreated'), JSON.stringify(events.filter((e) => e.kind !== 'renewed')));
    assert.ok(renewals >= 30 * DAY / (4230 * 60_000), `renewed ${renewals} times`);

    bodies.length = 0;
    const message = sim().state.graph.store.createMessage(user, { subject: 'day 30' });
    const body = await waitFor('a notification on day 30', () => bodies.find((b) => b.value.some((i) => (i.resourceData as { id?: string } | undefined)?.id === message.id)), 10_000);
    assert.equal(body.value[0]!.tenantId, CONSUMERS_TENANT_ID, 'a personal account notifies from the consumers tenant');
    assert.ok(!bodies.some((b) => b.value.some((i) => i.lifecycleEvent)), 'no lifecycle notification at all');
  });
});
