/**
 * ms365-poller on calendars (real Node-RED runtime through the test helper, simulated tenant that serves recurring
 * series and the frozen calendarView window as Graph does, §11.2): a series edit is one message, and a poller that
 * runs for 800 simulated days keeps seeing new events without inventing deletions; a window over Graph's limit is
 * refused at deploy.
 */
import assert from 'node:assert/strict';
import type { NodeMessage } from 'node-red';
import { helper, allNodes, useNodeRed } from '../support/node-red-helper';
import { useSimulator } from '../support/simulator';
import { connectorFlowNode, waitFor } from '../support/connector';
import type { Ms365Event } from '../../src/core/events';

const DAY = 86_400_000;

describe('ms365-poller on calendars (node, against the simulator)', function () {
  this.timeout(60_000);
  const sim = useSimulator();
  useNodeRed();
  const user = () => sim().state.defaultUser.id;
  const store = () => sim().state.graph.store;
  const iso = (ms: number) => new Date(ms).toISOString();
  afterEach(() => {
    sim().state.graph.reset(); // objects dated far ahead of the next test's deploy, faults
    sim().state.clock.reset();
  });

  async function loadPoller(configuration: unknown) {
    const { node: conn, credentials } = connectorFlowNode(sim(), { elementKey: 'office365' });
    const flow = [
      conn,
      { id: 'p1', type: 'ms365-poller', connector: conn.id, interval: 60, timezone: 'UTC', configuration: JSON.stringify(configuration), pollOnStart: false, wires: [['out']] },
      { id: 'out', type: 'helper' },
    ];
    const events: Ms365Event[] = [];
    await helper.load(allNodes, flow, credentials);
    helper.getNode('out').on('input', (msg: NodeMessage) => events.push(msg.payload as Ms365Event));
    const poller = helper.getNode('p1');
    /** One poll through the input; its end-of-round status says how many events it sent. */
    const poll = async (options: { failing?: boolean } = {}) => {
      const before = events.length;
      const announced = await new Promise<number>((resolve, reject) => {
        const emitter = poller as unknown as NodeJS.EventEmitter;
        const timeout = setTimeout(() => reject(new Error('poll did not finish in 15 s')), 15_000);
        const onStatus = (call: { args: Array<{ text?: string }> }) => {
          const text = call.args[0]?.text ?? '';
          if (!/^\d\d:\d\d:\d\d: \d+ event|^error \d/.test(text)) return;
          emitter.removeListener('call:status', onStatus);
          clearTimeout(timeout);
          if (text.startsWith('error') !== !!options.failing) reject(new Error(`poll ended with '${text}'`));
          else resolve(Number(/: (\d+) event/.exec(text)?.[1] ?? 0));
        };
        emitter.on('call:status', onStatus);
        poller.receive({ payload: 'poll' });
      });
      await waitFor(`${announced} events delivered`, () => events.length - before >= announced);
      return events.slice(before).map((e) => [e.eventType, e.objectId]);
    };
    return { poll, events };
  }

  it('a series edit is one UPDATED; over 800 days new events keep coming and nothing is DELETED that was not deleted', async () => {
    const now = () => sim().state.clock.now();
    const series = store().createEvent(user(), { subject: 'Weekly', start: iso(now() + DAY), end: iso(now() + DAY + 1_800_000), recurrence: { type: 'weekly' } });
    const single = store().createEvent(user(), { subject: 'Review', start: iso(now() + 3 * DAY) });
    const { poll, events } = await loadPoller({ events: { url: '/me/calendarView/delta', idField: 'id' } });
    assert.deepEqual(await poll(), [], 'the starting point');
    store().updateEvent(user(), series.id!, { subject: 'Weekly (new room)' });
    assert.deepEqual(await poll(), [['UPDATED', series.id]], 'one message for the series, not one per occurrence');
    // 800 days, a poll every 100 (the window is moved once less than a year of it is left).
    for (let day = 100; day <= 800; day += 100) {
      sim().state.clock.advance(100 * DAY);
      assert.deepEqual(await poll(), [], `day ${day}: nothing happened, nothing emitted`);
    }
    store().deleteEvent(user(), single.id!); // long past now: outside the window, not reported
    const late = store().createEvent(user(), { subject: 'Day 800', start: iso(now() + 2 * DAY) });
    store().updateEvent(user(), series.id!, { subject: 'Weekly (day 800)' });
    const seen = await poll();
    assert.deepEqual(seen.sort(), [['CREATED', late.id], ['UPDATED', series.id]].sort());
    store().deleteEvent(user(), late.id!);
    assert.deepEqual(await poll(), [['DELETED', late.id]]);
    assert.equal(events.filter((e) => e.eventType === 'DELETED').length, 1);
  });

  it('Graph down at deploy: a series created and one edited meanwhile come out once each, one message per series', async () => {
    const now = () => sim().state.clock.now();
    const existing = store().createEvent(user(), { subject: 'Existing', start: iso(now() + DAY), recurrence: { type: 'daily', numberOfOccurrences: 200 } });
    sim().state.clock.advance(2000);
    sim().state.graph.faults.add({ kind: 'unavailable', count: 1_000_000, path: '^/v1\\.0/', retryAfterSeconds: 0 });
    const { poll } = await loadPoller({ events: { url: '/me/calendarView/delta', idField: 'id' } });
    assert.deepEqual(await poll({ failing: true }), [], 'Graph answers 503');
    sim().state.clock.advance(10_000);
    const created = store().createEvent(user(), { subject: 'New weekly', start: iso(now() + 2 * DAY), recurrence: { type: 'weekly' } });
    store().updateEvent(user(), existing.id!, { subject: 'Existing, edited during the outage' });
    sim().state.clock.advance(10_000);
    sim().state.graph.faults.clear();
    assert.deepEqual((await poll()).sort(), [['CREATED', created.id], ['UPDATED', existing.id]].sort());
    sim().state.clock.advance(2000);
    assert.deepEqual(await poll(), [], 'each once');
  });

  it('a calendarView window over 1825 days is refused at deploy: red status and an error naming the limit', async () => {
    const { node: conn, credentials } = connectorFlowNode(sim(), { elementKey: 'office365' });
    const url = '/me/calendarView/delta?startDateTime=2025-01-01T00:00:00Z&endDateTime=2031-01-01T00:00:00Z';
    const flow = [conn, { id: 'p1', type: 'ms365-poller', connector: conn.id, interval: 15, timezone: 'UTC', configuration: JSON.stringify({ events: { url } }), pollOnStart: true, wires: [[]] }];
    await helper.load(allNodes, flow, credentials);
    const errors = await waitFor('error logged', () => {
      const logged = helper.log().args.map((a: unknown[]) => a[0] as { level?: number; msg?: unknown });
      const found = logged.filter((l) => l.level === 20).map((l) => String(l.msg));
      return found.some((e) => /configuration\.events\.url/.test(e)) && found;
    });
    assert.ok(errors.some((e) => /2191 days; Graph serves a calendarView window of at most 1825 days/.test(e)), JSON.stringify(errors));
    const statuses = (helper.getNode('p1') as unknown as { status: { args: Array<Array<{ fill?: string; text?: string }>> } }).status.args.map((a) => a[0]);
    assert.ok(statuses.some((st) => st.fill === 'red' && st.text === 'invalid configuration'), JSON.stringify(statuses));
  });
});
