/**
 * ms365-poller on a real Node-RED runtime (test helper) against the simulated tenant: the delta and filter engines,
 * exactly-once events, deletions, late-visible items, throttling, expired delta tokens, idle cost, bad configuration.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { NodeMessage } from 'node-red';
import { helper, allNodes, useNodeRed } from '../support/node-red-helper';
import { useSimulator } from '../support/simulator';
import { connectorFlowNode, nextSecond, waitFor } from '../support/connector';
import type { Ms365Event } from '../../src/core/events';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'open-connectors');

describe('ms365-poller (node, against the simulator)', function () {
  this.timeout(30_000);
  const sim = useSimulator();
  useNodeRed();

  const user = () => sim().state.defaultUser.id;
  const store = () => sim().state.graph.store;

  async function loadPoller(elementKey: string, configuration: unknown, extra: Record<string, unknown> = {}) {
    await nextSecond(); // objects made before are older than this poller's starting point (whole-second dates)
    const { node: conn, credentials } = connectorFlowNode(sim(), { elementKey });
    const flow = [
      conn,
      { id: 'p1', type: 'ms365-poller', name: 'poll', connector: conn.id, interval: 60, timezone: 'UTC', configuration: typeof configuration === 'string' ? configuration : JSON.stringify(configuration), pollOnStart: false, wires: [['out']], ...extra },
      { id: 'out', type: 'helper' },
    ];
    const events: Ms365Event[] = [];
    const topics: string[] = [];
    await helper.load(allNodes, flow, credentials);
    helper.getNode('out').on('input', (msg: NodeMessage) => {
      events.push(msg.payload as Ms365Event);
      topics.push(String(msg.topic));
    });
    const poller = helper.getNode('p1');
    /** Trigger one poll through the input and wait for its done(). */
    /** Trigger one poll through the input; a round ends with a green or red status. */
    const poll = async (msg: Record<string, unknown> = {}) => {
      const before = events.length;
      const announced = await new Promise<number>((resolve, reject) => {
        const emitter = poller as unknown as NodeJS.EventEmitter;
        const timeout = setTimeout(() => reject(new Error('poll did not finish in 15 s')), 15_000);
        const onStatus = (call: { args: Array<{ text?: string }> }) => {
          // Only the poller's own end-of-round status (the connector also sets statuses on its users).
          const text = call.args[0]?.text ?? '';
          if (!/^\d\d:\d\d:\d\d: \d+ event|^error \d/.test(text)) return;
          emitter.removeListener('call:status', onStatus);
          clearTimeout(timeout);
          // The status of a finished round says how many events it sent ("hh:mm:ss: N events").
          resolve(Number(/: (\d+) event/.exec(call.args[0]?.text ?? '')?.[1] ?? 0));
        };
        emitter.on('call:status', onStatus);
        poller.receive({ payload: 'poll', ...msg });
      });
      // Messages reach the helper node asynchronously after the round's status.
      await waitFor(`${announced} events delivered`, () => events.length - before >= announced);
      return events.slice(before);
    };
    return { events, topics, poll, poller };
  }

  it('delta (outlookemail default, inbox): first poll is the starting point; then CREATED, UPDATED, DELETED exactly once each', async () => {
    store().createMessage(user(), { subject: 'old mail' });
    const { poll, topics } = await loadPoller('outlookemail', '');
    assert.deepEqual(await poll(), [], 'objects that existed before are not emitted');
    const m = store().createMessage(user(), { subject: 'new mail' });
    const created = await poll();
    assert.deepEqual(created.map((e) => [e.eventType, e.objectId, e.objectType]), [['CREATED', m.id, 'messages']]);
    assert.equal(created[0].source, 'polling');
    assert.equal(created[0].elementKey, 'outlookemail');
    assert.match(String(created[0].pollDate), /Z$/);
    assert.deepEqual(await poll(), [], 'nothing repeated');
    store().updateMessage(user(), String(m.id), { isRead: true });
    assert.deepEqual((await poll()).map((e) => e.eventType), ['UPDATED']);
    store().deleteMessage(user(), String(m.id));
    const deleted = await poll();
    assert.deepEqual(deleted.map((e) => [e.eventType, e.objectId]), [['DELETED', m.id]]);
    assert.equal(topics[topics.length - 1], 'outlookemail/messages/DELETED');
  });

  it('an idle poll costs exactly one Graph request', async () => {
    const { poll } = await loadPoller('outlookemail', '');
    await poll();
    sim().state.graph.requests.clear();
    await poll();
    const graphRequests = sim().state.graph.requests.list(/\/v1\.0\//);
    assert.equal(graphRequests.length, 1, JSON.stringify(graphRequests));
  });

  it('drive delta (onedrivev2 default) starts at token=latest and reports file creation and deletion', async () => {
    store().createDriveItem(user(), { name: 'before.txt' });
    const { poll } = await loadPoller('onedrivev2', '');
    assert.deepEqual(await poll(), []);
    const file = store().createDriveItem(user(), { name: 'after.txt', content: 'x' });
    assert.deepEqual((await poll()).map((e) => [e.eventType, e.objectId, e.objectType]), [['CREATED', file.id, 'driveItems']]);
    store().deleteDriveItem(user(), String(file.id));
    assert.deepEqual((await poll()).map((e) => e.eventType), ['DELETED']);
  });

  it('calendar (office365 default, calendarView delta): a new meeting is CREATED, a cancelled one DELETED', async () => {
    const { poll } = await loadPoller('office365', '');
    await poll();
    const ev = store().createEvent(user(), { subject: 'Planning' });
    assert.deepEqual((await poll()).map((e) => [e.eventType, e.objectType]), [['CREATED', 'events']]);
    store().deleteEvent(user(), String(ev.id));
    assert.deepEqual((await poll()).map((e) => e.eventType), ['DELETED']);
  });

  it('the outlookemail Open Connectors fixture (hub URL, ${gmtDate} macro, PascalCase dates) emits a new mail once, also when it became visible late', async () => {
    const instance = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'outlookemail-polling.json'), 'utf8'));
    const { poll } = await loadPoller('outlookemail', instance.configuration['event.poller.configuration']);
    await poll();
    const m = store().createMessage(user(), { subject: 'fixture mail' });
    const late = store().createMessage(user(), { subject: 'late mail' }, { lateVisibleSeconds: 1 });
    const first = await poll();
    assert.deepEqual(first.map((e) => [e.eventType, e.objectId]), [['CREATED', m.id]]);
    await new Promise((r) => setTimeout(r, 1200));
    const second = await poll();
    assert.deepEqual(second.map((e) => [e.eventType, e.objectId]), [['CREATED', late.id]], 'late-visible mail seen once');
    assert.deepEqual(await poll(), [], 'nothing repeated');
  });

  it('the office365 Open Connectors fixture (hub messages URL, updatedAt*/createdAt* keys, hub date names) emits a new mail CREATED once', async () => {
    const instance = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'office365-polling.json'), 'utf8'));
    const { poll } = await loadPoller('office365', instance.configuration['event.poller.configuration']);
    const before = store().createMessage(user(), { subject: 'before the poller' });
    // A change in the very millisecond the first poll starts counts as after it (nothing lost): step past it.
    await waitFor('clock past the last change', () => Date.now() > Date.parse(String(before.lastModifiedDateTime)));
    await poll();
    const m = store().createMessage(user(), { subject: 'office365 fixture mail' });
    assert.deepEqual((await poll()).map((e) => [e.eventType, e.objectType, e.objectId]), [['CREATED', 'messages', m.id]]);
    assert.deepEqual(await poll(), [], 'nothing repeated');
  });

  it('the onedrivev2 Open Connectors fixture (no poller configuration: drive delta default) emits a new file CREATED once', async () => {
    const instance = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'onedrivev2-polling.json'), 'utf8'));
    const { poll } = await loadPoller('onedrivev2', instance.configuration['event.poller.configuration'] ?? '');
    await poll();
    const file = store().createDriveItem(user(), { name: 'fixture.txt', content: 'x' });
    assert.deepEqual((await poll()).map((e) => [e.eventType, e.objectId]), [['CREATED', file.id]]);
    assert.deepEqual(await poll(), [], 'nothing repeated');
  });

  it('429 with Retry-After and 503 are retried: the change still comes out once', async () => {
    const { poll } = await loadPoller('outlookemail', '');
    await poll();
    const m = store().createMessage(user(), { subject: 'throttled' });
    sim().state.graph.faults.add({ kind: 'throttle', count: 1, retryAfterSeconds: 1 });
    sim().state.graph.faults.add({ kind: 'unavailable', count: 1 });
    assert.deepEqual((await poll()).map((e) => e.objectId), [m.id]);
  });

  it('an expired delta token (410) resyncs and emits only what changed since the last poll', async () => {
    store().createMessage(user(), { subject: 'old' });
    const { poll } = await loadPoller('outlookemail', '');
    await poll();
    const m = store().createMessage(user(), { subject: 'during the gap' });
    sim().state.graph.faults.add({ kind: 'deltaGone', count: 1 });
    const events = await poll();
    assert.deepEqual(events.map((e) => e.objectId), [m.id]);
  });

  it('msg.reset forgets the cursor: the next poll is a new starting point', async () => {
    const { poll } = await loadPoller('outlookemail', '');
    await poll();
    store().createMessage(user(), { subject: 'before reset' });
    await nextSecond(); // in an earlier second than the reset (whole-second dates)
    assert.deepEqual(await poll({ reset: true }), []);
  });

  it('an invalid configuration shows a red status and a readable error naming the resource and key', async () => {
    const { node: conn, credentials } = connectorFlowNode(sim(), { elementKey: 'outlookemail' });
    const flow = [conn, { id: 'p1', type: 'ms365-poller', connector: conn.id, interval: 15, timezone: 'UTC', configuration: JSON.stringify({ messages: { url: '/hubs/general/messages?where=Subject like \'x\'' } }), pollOnStart: true, wires: [[]] }];
    await helper.load(allNodes, flow, credentials);
    const messages = await waitFor('error logged', () => {
      const logged = helper.log().args.map((a: unknown[]) => a[0] as { level?: number; msg?: unknown });
      const errors = logged.filter((l) => l.level === 20).map((l) => String(l.msg));
      return errors.some((e) => /configuration\.messages\.url/.test(e)) && errors;
    });
    assert.ok(messages.length >= 1);
    const statuses = (helper.getNode('p1') as unknown as { status: { args: Array<Array<{ fill?: string; text?: string }>> } }).status.args.map((a) => a[0]);
    assert.ok(statuses.some((st) => st.fill === 'red' && st.text === 'invalid configuration'), JSON.stringify(statuses));
  });
});
