/**
 * ms365-webhook-in catch-up of Outlook resources (`core/webhooks/catch-up.ts`) on a real Node-RED runtime (test
 * helper) against the simulator: a subscription Graph forgot is re-created and the mail that arrived in the gap comes
 * out once; after a restart that lost the subscription ids (memory context), the new subscription catches up from the
 * bookmark in the state file; versions already delivered by a notification are never emitted twice.
 */
import assert from 'node:assert/strict';
import axios from 'axios';
import type { NodeMessage } from 'node-red';
import { helper, allNodes, useNodeRed, useTempUserDir } from '../support/node-red-helper';
import { useHttpNodeServer } from '../support/http-node';
import { useSimulator } from '../support/simulator';
import { connectorFlowNode, waitFor } from '../support/connector';
import type { Ms365Event } from '../../src/core/events';

interface Side { topic: string; payload: Record<string, unknown> }

describe('ms365-webhook-in catch-up of Outlook resources (node, against the simulator)', function () {
  this.timeout(30_000);
  const sim = useSimulator();
  useNodeRed();
  const { capture, base: baseUrl } = useHttpNodeServer();
  useTempUserDir('ms365-webhook-catchup-');

  const user = () => sim().state.defaultUser.id;
  const store = () => sim().state.graph.store;

  async function load(subscription: Record<string, unknown>) {
    const { node: conn, credentials } = connectorFlowNode(sim());
    const flow = [
      conn,
      { id: 'w1', type: 'ms365-webhook-in', connector: conn.id, path: '/ms365/catchup', notificationUrl: baseUrl(), subscriptions: JSON.stringify([subscription]), fetchResource: true, wires: [['out1'], ['out2']] },
      { id: 'out1', type: 'helper' },
      { id: 'out2', type: 'helper' },
    ];
    const events: Ms365Event[] = [];
    const side: Side[] = [];
    await helper.load([capture, ...allNodes], flow, { ...credentials, w1: { clientState: 'catch-up-test' } });
    helper.getNode('out1').on('input', (msg: NodeMessage) => events.push(msg.payload as Ms365Event));
    helper.getNode('out2').on('input', (msg: NodeMessage) => side.push(msg as unknown as Side));
    const created = await waitFor('subscription created', () => side.find((m) => m.topic === 'subscription/created'), 10_000);
    return { events, side, created };
  }
  const count = (events: Ms365Event[], id: unknown, type: string) => events.filter((e) => e.objectId === String(id) && e.eventType === type).length;

  it('a subscription Graph forgot is re-created and the mail of the gap comes out once (earlier mail not repeated)', async () => {
    const { events, side, created } = await load({ resource: 'me/messages', changeType: 'created,updated,deleted', expirationMinutes: 0.05 });
    const before = store().createMessage(user(), { subject: 'notified' });
    await waitFor('the notified mail', () => count(events, before.id, 'CREATED') === 1, 10_000);
    await axios.post(`${sim().controlUrl}/subscriptions/${String(created.payload.subscriptionId)}/expire`);
    const inGap = store().createMessage(user(), { subject: 'in the gap' });
    await waitFor('recreated', () => side.find((m) => m.topic === 'subscription/recreated'), 10_000);
    const report = await waitFor('catch-up report', () => side.find((m) => m.topic === 'lifecycle/catchup'), 10_000);
    assert.equal(report.payload.events, 1);
    await waitFor('the mail of the gap', () => count(events, inGap.id, 'CREATED') === 1, 10_000);
    const gapEvent = events.find((e) => e.objectId === String(inGap.id));
    assert.equal(gapEvent?.source, 'webhook');
    const after = store().createMessage(user(), { subject: 'after' });
    await waitFor('the next mail, notified', () => count(events, after.id, 'CREATED') === 1, 10_000);
    assert.equal(count(events, before.id, 'CREATED'), 1, 'the mail notified before the gap is not repeated');
    assert.equal(count(events, inGap.id, 'CREATED'), 1);
  });

  it('restart with memory context: the new subscription catches up from the bookmark; late notifications do not repeat', async () => {
    const first = await load({ resource: 'me/messages', changeType: 'created,updated,deleted' });
    const before = store().createMessage(user(), { subject: 'before the stop' });
    await waitFor('the first mail', () => count(first.events, before.id, 'CREATED') === 1, 10_000);
    await helper.unload(); // graceful: subscription kept at Graph, bookmark saved; memory context (subscription ids) gone
    const whileStopped = store().createMessage(user(), { subject: 'while stopped' });
    const second = await load({ resource: 'me/messages', changeType: 'created,updated,deleted' });
    await waitFor('the mail made while stopped', () => count(second.events, whileStopped.id, 'CREATED') === 1, 10_000);
    assert.equal(count(second.events, before.id, 'CREATED'), 0, 'nothing from before the stop is repeated');
    const after = store().createMessage(user(), { subject: 'after the restart' });
    await waitFor('the next mail', () => count(second.events, after.id, 'CREATED') === 1, 10_000);
    await new Promise((r) => setTimeout(r, 500)); // retried deliveries to the old subscription, if any, arrive
    assert.equal(count(second.events, whileStopped.id, 'CREATED'), 1, 'the old subscription\'s retried notification did not repeat it');
    assert.equal(count(second.events, after.id, 'CREATED'), 1, 'two live subscriptions, one event');
  });
});
