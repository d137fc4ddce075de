/**
 * `core/webhooks/receiver` without Node-RED, against the simulated Graph (real GraphClient, real tokens): batches
 * given to `accept` as the route would after its 202. Cursors are kept in memory here (the adapter's state file is
 * tested by the node tests).
 */
import assert from 'node:assert/strict';
import axios from 'axios';
import { useSimulator } from '../../support/simulator';
import { waitFor } from '../../support/connector';
import { receiverOptions } from '../../support/webhook-receiver';
import type { Ms365Event } from '../../../src/core/events';
import type { PollerCursor } from '../../../src/core/changes';
import { WebhookReceiver, type WebhookCursors } from '../../../src/core/webhooks/receiver';
import type { NotificationItem } from '../../../src/core/webhooks/notifications';

function memoryCursors(): WebhookCursors & { map: Map<string, PollerCursor> } {
  const map = new Map<string, PollerCursor>();
  return {
    map,
    loaded: Promise.resolve(),
    get: (key) => map.get(key),
    note: (key, cursor) => void map.set(key, cursor),
    flush: async () => undefined,
    beforeSend: async (key, cursor) => void map.set(key, cursor),
    afterSend: async () => undefined,
    close: async () => undefined,
  };
}

describe('core/webhooks/receiver (against the simulator, no Node-RED)', function () {
  this.timeout(30_000);
  const sim = useSimulator();
  const user = () => sim().state.defaultUser.id;

  function receiver(specs: Array<{ resource: string; changeType: string }> = []) {
    const events: Ms365Event[] = [];
    const side: Array<{ topic: string; payload: unknown }> = [];
    const warnings: string[] = [];
    const errors: string[] = [];
    const statuses: string[] = [];
    let saved: unknown[] = [];
    const r = new WebhookReceiver(receiverOptions(sim(), {
      specs,
      cursors: memoryCursors(),
      saveSubscriptions: async (records) => {
        saved = records;
      },
      sendEvent: (event) => void events.push(event),
      sendSide: (topic, payload) => void side.push({ topic, payload }),
      status: (_fill, key, params) => void statuses.push(`${key} ${JSON.stringify(params ?? {})}`),
      warn: (message) => void warnings.push(message),
      error: (message) => void errors.push(message),
    }));
    return { r, events, side, warnings, errors, statuses, saved: () => saved };
  }
  const item = (patch: Partial<NotificationItem> & Record<string, unknown>): NotificationItem =>
    ({ subscriptionId: 'sub-1', clientState: 'unit-state', tenantId: sim().state.tenantId, changeType: 'updated', ...patch }) as NotificationItem;

  it('a drive notification is read through delta whatever resourceData holds; every later change comes out', async () => {
    const { r, events } = receiver();
    const resource = `users/${user()}/drive/root`;
    // The first notification starts the cursor (token=latest): what follows is after it.
    await r.accept({ items: [item({ resource, resourceData: null })], validationTokens: [] });
    const shapes: Array<Record<string, unknown>> = [{ resourceData: null }, {}, { resourceData: { '@odata.type': '#Microsoft.Graph.driveItem' } }];
    for (const [i, shape] of shapes.entries()) {
      const file = sim().state.graph.store.createDriveItem(user(), { name: `r${i}.txt`, content: 'x' });
      await r.accept({ items: [item({ resource, ...shape }), item({ resource, ...shape })], validationTokens: [] });
      assert.equal(events.filter((e) => e.objectId === file.id).length, 1, `shape ${JSON.stringify(shape)}: once`);
    }
    assert.ok(events.every((e) => e.objectType === 'driveItems' && e.source === 'webhook'));
  });

  it('Outlook items: a duplicate (same etag) is dropped, a new etag is a new event, an item without an etag is never taken for a duplicate', async () => {
    const { r, events } = receiver();
    const data = (etag?: string) => ({ '@odata.type': '#Microsoft.Graph.Message', id: 'm1', ...(etag ? { '@odata.etag': etag } : {}) });
    const resource = `Users/${user()}/Messages/m1`;
    await r.accept({ items: [item({ resource, resourceData: data('W/"1"') }), item({ resource, resourceData: data('W/"1"') })], validationTokens: [] });
    assert.equal(events.length, 1);
    await r.accept({ items: [item({ resource, resourceData: data('W/"2"') })], validationTokens: [] });
    assert.equal(events.length, 2);
    await r.accept({ items: [item({ resource, resourceData: data() }), item({ resource, resourceData: data() })], validationTokens: [] });
    assert.equal(events.length, 4);
  });

  it('a wrong clientState: dropped, warned once, counted in the status', async () => {
    const { r, events, warnings, statuses } = receiver();
    const wrong = item({ clientState: 'other', resource: 'Users/u/Messages/m', resourceData: { id: 'm', '@odata.etag': 'W/"x"' } });
    await r.accept({ items: [wrong, wrong], validationTokens: [] });
    assert.equal(events.length, 0);
    assert.equal(warnings.length, 1);
    assert.match(statuses.at(-1)!, /^receivedDropped .*"dropped":2\b/);
  });

  it('enqueue: nothing is done in the turn of the answer; the batches of one turn are handled after it, in arrival order', async () => {
    const { r, events } = receiver();
    const msg = (id: string) => item({ resource: `Users/u/Messages/${id}`, resourceData: { '@odata.type': '#Microsoft.Graph.Message', id, '@odata.etag': 'W/"1"' } });
    r.enqueue({ items: [msg('a'), msg('b')], validationTokens: [] });
    r.enqueue({ items: [msg('c')], validationTokens: [] });
    assert.equal(events.length, 0, 'no work before the answers of the turn are written');
    await new Promise((resolve) => setImmediate(resolve));
    await waitFor('the three events', () => events.length === 3);
    assert.deepEqual(events.map((e) => e.objectId), ['a', 'b', 'c']);
  });

  it('enqueue then close in the same turn: the queued batch (answered 202 already) is still handled; after close nothing is', async () => {
    const { r, events } = receiver();
    r.enqueue({ items: [item({ resource: 'Users/u/Messages/q', resourceData: { id: 'q', '@odata.etag': 'W/"1"' } })], validationTokens: [] });
    await r.close(false);
    assert.deepEqual(events.map((e) => e.objectId), ['q']);
    r.enqueue({ items: [item({ resource: 'Users/u/Messages/z', resourceData: { id: 'z', '@odata.etag': 'W/"1"' } })], validationTokens: [] });
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(events.map((e) => e.objectId), ['q']);
  });

  it('a rich batch without valid tokens is dropped whole, warned once, counted as invalid', async () => {
    const { r, events, warnings, statuses } = receiver();
    const rich = item({ resource: 'Users/u/Messages/m', resourceData: { id: 'm' }, encryptedContent: { data: 'x', dataSignature: 'y', dataKey: 'z' } });
    await r.accept({ items: [rich], validationTokens: [] });
    await r.accept({ items: [rich], validationTokens: ['not.a.jwt'] });
    assert.equal(events.length, 0);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /missing or empty/);
    assert.match(statuses.at(-1)!, /^receivedInvalid .*"invalid":2\b/);
  });

  it('start subscribes (a drive with changeType updated), close(removed) deletes the subscription', async () => {
    const server = await import('node:http').then((http) =>
      http.createServer((req, res) => {
        const token = new URL(req.url ?? '/', 'http://x').searchParams.get('validationToken');
        res.writeHead(token === null ? 202 : 200, { 'Content-Type': 'text/plain' }).end(token ?? '');
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as { port: number }).port;
      const events: string[] = [];
      const r = new WebhookReceiver(receiverOptions(sim(), {
        cursors: memoryCursors(),
        notificationUrl: `http://127.0.0.1:${port}/hook`,
        specs: [{ resource: `users/${user()}/drive/root`, changeType: 'updated' }],
        sendSide: (topic) => void events.push(topic),
      }));
      await r.start();
      assert.deepEqual(events, ['subscription/created']);
      const id = r.subscriptions[0]!.id;
      assert.equal((await axios.get(`${sim().controlUrl}/subscriptions`)).data.find((s: { id: string }) => s.id === id)?.changeType, 'updated');
      await r.close(true);
      await waitFor('deleted', async () => !(await axios.get(`${sim().controlUrl}/subscriptions`)).data.some((s: { id: string }) => s.id === id), 5000);
    } finally {
      server.close();
    }
  });
});
