/**
 * ms365-webhook-in on a real Node-RED runtime (test helper), with the simulator delivering notifications to the
 * helper's RED.httpNode app served on a real loopback port.
 */
import assert from 'node:assert/strict';
import axios from 'axios';
import type { NodeMessage } from 'node-red';
import { helper, allNodes, useNodeRed } from '../support/node-red-helper';
import { useHttpNodeServer } from '../support/http-node';
import { useSimulator } from '../support/simulator';
import { connectorFlowNode, waitFor } from '../support/connector';
import { subscriptionsOf } from '../../src/simulator/subscriptions';

interface Msg {
  topic: string;
  payload: Record<string, unknown> & { eventType?: string; objectId?: string; objectType?: string; raw?: Record<string, unknown> };
}

describe('ms365-webhook-in (node, against the simulator)', function () {
  this.timeout(30_000);
  const sim = useSimulator();
  useNodeRed();
  const { capture, base: baseUrl } = useHttpNodeServer();

  async function loadFlow(subscriptions: unknown[], extra: Record<string, unknown> = {}) {
    const { node: conn, credentials } = connectorFlowNode(sim());
    const flow = [
      conn,
      { id: 'w1', type: 'ms365-webhook-in', name: 'hook', connector: conn.id, path: '/ms365/hook', notificationUrl: baseUrl(), subscriptions: JSON.stringify(subscriptions), fetchResource: true, wires: [['out1'], ['out2']], ...extra },
      { id: 'out1', type: 'helper' },
      { id: 'out2', type: 'helper' },
    ];
    const events: Msg[] = [];
    const side: Msg[] = [];
    await helper.load([capture, ...allNodes], flow, { ...credentials, w1: { clientState: 'state-of-test' } });
    helper.getNode('out1').on('input', (msg: NodeMessage) => events.push(msg as unknown as Msg));
    helper.getNode('out2').on('input', (msg: NodeMessage) => side.push(msg as unknown as Msg));
    return { events, side };
  }

  it('creates the subscription at deploy (handshake through the route) and emits CREATED, UPDATED, DELETED for messages', async () => {
    const { events, side } = await loadFlow([{ resource: 'me/messages', changeType: 'created,updated,deleted' }]);
    await waitFor('subscription created', () => side.find((m) => m.topic === 'subscription/created'), 10_000);
    const subs = [...subscriptionsOf(sim().state).all.values()];
    assert.equal(subs.length, 1);
    assert.equal(subs[0].notificationUrl, `${baseUrl()}/ms365/hook`);
    assert.equal(subs[0].lifecycleNotificationUrl, `${baseUrl()}/ms365/hook`);
    assert.equal(subs[0].resource, `users/${sim().state.defaultUser.id}/messages`);

    const store = sim().state.graph.store;
    const user = sim().state.defaultUser.id;
    const message = store.createMessage(user, { subject: 'webhook hello' });
    const created = await waitFor('CREATED event', () => events.find((m) => m.payload.eventType === 'CREATED'), 10_000);
    assert.equal(created.topic, 'office365/messages/CREATED');
    assert.equal(created.payload.objectId, message.id);
    assert.equal(created.payload.source, 'webhook');
    assert.equal((created.payload.raw?.resource as { subject?: string }).subject, 'webhook hello');
    store.updateMessage(user, String(message.id), { isRead: true });
    await waitFor('UPDATED event', () => events.find((m) => m.payload.eventType === 'UPDATED'), 10_000);
    store.deleteMessage(user, String(message.id));
    const deleted = await waitFor('DELETED event', () => events.find((m) => m.payload.eventType === 'DELETED'), 10_000);
    assert.equal(deleted.payload.objectId, message.id);
    assert.ok(!JSON.stringify([events, side]).includes('state-of-test'), 'the clientState secret is in no message');
  });

  it('answers the handshake with the decoded token, 400 for malformed JSON, 413 when oversized, 202 + drop for a wrong clientState', async () => {
    const { events } = await loadFlow([]);
    const hs = await axios.post(`${baseUrl()}/ms365/hook?validationToken=Validation%3a+Testing+client`, '', { headers: { 'Content-Type': 'text/plain' }, validateStatus: () => true });
    assert.equal(hs.status, 200);
    assert.equal(hs.data, 'Validation: Testing client');
    assert.match(String(hs.headers['content-type']), /^text\/plain/);
    const bad = await axios.post(`${baseUrl()}/ms365/hook`, '{"value": [', { headers: { 'Content-Type': 'application/json' }, validateStatus: () => true });
    assert.equal(bad.status, 400);
    const big = await axios.post(`${baseUrl()}/ms365/hook`, 'x'.repeat(2 * 1024 * 1024), { headers: { 'Content-Type': 'application/json' }, validateStatus: () => true, maxBodyLength: Infinity });
    assert.equal(big.status, 413);
    const wrong = await axios.post(
      `${baseUrl()}/ms365/hook`,
      { value: [{ subscriptionId: 'x', clientState: 'not-ours', changeType: 'created', resource: 'Users/u/Messages/m', resourceData: { id: 'm', '@odata.type': '#Microsoft.Graph.Message' } }] },
      { validateStatus: () => true },
    );
    assert.equal(wrong.status, 202);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(events.length, 0);
    const alive = await axios.post(`${baseUrl()}/ms365/hook?validationToken=still`, '', { validateStatus: () => true });
    assert.equal(alive.data, 'still');
  });

  it('resolves a drive notification through delta into one event per changed item', async () => {
    const { events, side } = await loadFlow([{ resource: 'me/drive/root', changeType: 'updated' }]);
    await waitFor('subscription created', () => side.find((m) => m.topic === 'subscription/created'), 10_000);
    await new Promise((r) => setTimeout(r, 300));
    const item = sim().state.graph.store.createDriveItem(sim().state.defaultUser.id, { name: 'report.txt', content: 'x' });
    const ev = await waitFor('drive event', () => events.find((m) => m.payload.objectId === item.id), 10_000);
    assert.equal(ev.payload.objectType, 'driveItems');
    assert.equal(ev.payload.eventType, 'CREATED');
  });

  it('renews before expiry, recreates after a 404, and acts on subscriptionRemoved', async () => {
    const { side } = await loadFlow([{ resource: 'me/events', changeType: 'created,updated,deleted', expirationMinutes: 0.05 }]);
    const created = await waitFor('created', () => side.find((m) => m.topic === 'subscription/created'), 10_000);
    await waitFor('renewed', () => side.find((m) => m.topic === 'subscription/renewed'), 10_000);
    // Graph forgets the subscription (missed renewal): the next renewal gets 404 and recreates it.
    await axios.post(`${sim().controlUrl}/subscriptions/${String(created.payload.subscriptionId)}/expire`);
    const recreated = await waitFor('recreated', () => side.find((m) => m.topic === 'subscription/recreated'), 10_000);
    assert.notEqual(recreated.payload.subscriptionId, created.payload.subscriptionId);
    await axios.post(`${sim().controlUrl}/subscriptions/${String(recreated.payload.subscriptionId)}/lifecycle`, { event: 'subscriptionRemoved' });
    await waitFor('lifecycle/subscriptionRemoved on output 2', () => side.find((m) => m.topic === 'lifecycle/subscriptionRemoved'), 10_000);
    await waitFor('recreated again', () => side.filter((m) => m.topic === 'subscription/recreated').length >= 2, 10_000);
  });

  it('reauthorizationRequired → reauthorize; missed → a catch-up of the resource; both on output 2', async () => {
    const { side } = await loadFlow([{ resource: 'me/messages', changeType: 'created,updated,deleted' }]);
    const created = await waitFor('created', () => side.find((m) => m.topic === 'subscription/created'), 10_000);
    const id = String(created.payload.subscriptionId);
    await axios.post(`${sim().controlUrl}/subscriptions/${id}/lifecycle`, { event: 'reauthorizationRequired' });
    await waitFor('lifecycle/reauthorizationRequired', () => side.find((m) => m.topic === 'lifecycle/reauthorizationRequired'), 10_000);
    await waitFor('subscription/reauthorized', () => side.find((m) => m.topic === 'subscription/reauthorized'), 10_000);
    await axios.post(`${sim().controlUrl}/subscriptions/${id}/lifecycle`, { event: 'missed' });
    await waitFor('lifecycle/missed', () => side.find((m) => m.topic === 'lifecycle/missed'), 10_000);
    const catchUp = await waitFor('catch-up report', () => side.find((m) => m.topic === 'lifecycle/catchup'), 10_000);
    assert.equal(catchUp.payload.resource, `users/${sim().state.defaultUser.id}/messages`);
    assert.equal(catchUp.payload.events, 0, 'nothing changed: nothing emitted');
  });

  it('a resource that cannot be fetched (throttled beyond the retries): the event still goes out, with raw.resourceError and a warning', async () => {
    const { events, side } = await loadFlow([{ resource: 'me/messages', changeType: 'created,updated,deleted' }]);
    await waitFor('subscription created', () => side.find((m) => m.topic === 'subscription/created'), 10_000);
    // The client tries 5 times (maxRetries 4); every GET of the message answers 429 (Retry-After 0).
    sim().state.graph.faults.add({ kind: 'throttle', count: 5, retryAfterSeconds: 0, method: 'GET', path: '/[Mm]essages/' });
    const message = sim().state.graph.store.createMessage(sim().state.defaultUser.id, { subject: 'not fetchable' });
    const created = await waitFor('CREATED event', () => events.find((m) => m.payload.eventType === 'CREATED'), 10_000);
    assert.equal(created.payload.objectId, message.id);
    assert.equal(typeof created.payload.raw?.resource, 'string', "raw.resource stays the notification's resource path");
    assert.match(String(created.payload.raw?.resourceError), /429|throttl/i);
    const warn = (helper.getNode('w1') as unknown as { warn: { args: unknown[][] } }).warn;
    assert.ok(warn.args.some(([w]) => /could not be fetched .*goes out without raw\.resource/.test(String(w))), JSON.stringify(warn.args));
  });

  it('deletes its subscriptions when the node is removed', async () => {
    const { side } = await loadFlow([{ resource: 'me/messages', changeType: 'created' }]);
    const created = await waitFor('created', () => side.find((m) => m.topic === 'subscription/created'), 10_000);
    const { node: conn, credentials } = connectorFlowNode(sim());
    await helper.setFlows([conn], 'nodes', credentials);
    await waitFor('subscription deleted in the simulator', () => !subscriptionsOf(sim().state).live(String(created.payload.subscriptionId)), 10_000);
  });
});
