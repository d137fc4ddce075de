/**
 * The delta engine on calendarView against the simulated Graph, which serves series as Graph does (occurrence stubs,
 * master not returned by default, window frozen in the token, `@removed` for anything outside it; §11.2): one event
 * per series edit, dated at the master's change; no DELETED for what only left the window; the window moved on
 * before it runs out (clock 800 days on).
 */
import assert from 'node:assert/strict';
import { simGraphClient, useSimulator } from '../../support/simulator';
import type { GraphClient } from '../../../src/core/graph/client';
import { pollResource, startCursor, type PollerCursor, type EngineContext, type DeltaCursor } from '../../../src/core/changes';
import { parsePollerConfiguration, type ResourceConfig } from '../../../src/core/opencon/poller-config';
import { calendarViewStart } from '../../../src/core/changes/calendar-view';
import { initialDeltaUrl } from '../../../src/core/changes/delta-engine';
import { pages } from '../../../src/core/changes/shared';

const DAY = 86_400_000;

describe('calendarView delta engine (against the simulator)', function () {
  this.timeout(30_000);
  const sim = useSimulator();
  let graph: GraphClient;

  before(() => {
    graph = simGraphClient(sim());
  });
  beforeEach(() => {
    sim().state.graph.reset();
  });

  const store = () => sim().state.graph.store;
  const user = () => sim().state.defaultUser.id;
  const now = () => sim().state.clock.now();
  const iso = (ms: number) => new Date(ms).toISOString();
  const calendar = (configured?: string): ResourceConfig =>
    parsePollerConfiguration(configured ? { events: { url: configured } } : '', { elementKey: 'office365', timezone: 'UTC', mePath: `/users/${user()}` })[0]!;
  async function round(resource: ResourceConfig, cursor: PollerCursor | undefined) {
    sim().state.clock.advance(1000);
    const ctx: EngineContext = { graph, elementKey: 'office365', instanceName: 'test', pollStart: now() };
    const result = await pollResource(ctx, resource, cursor);
    sim().state.clock.advance(1000);
    return result;
  }
  const summary = (events: Array<{ objectId: string; eventType: string }>) => events.map((e) => [e.objectId, e.eventType]);
  const weekly = (subject: string) =>
    store().createEvent(user(), { subject, start: iso(now() + 2 * DAY), end: iso(now() + 2 * DAY + 3_600_000), recurrence: { type: 'weekly' } });

  for (const withMaster of [false, true]) {
    it(`a series edit is ONE event for the series, dated at the master's change (master ${withMaster ? 'returned' : 'fetched'})`, async () => {
      sim().state.graph.calendarSeriesMaster = withMaster;
      const cal = calendar();
      const series = weekly('Weekly sync');
      const start = await round(cal, undefined);
      assert.equal(start.events.length, 0);
      const edited = store().updateEvent(user(), series.id!, { subject: 'Weekly sync (moved room)' });
      const pollStart = now() + 1000;
      sim().state.graph.requests.clear();
      const one = await round(cal, start.cursor);
      const pagesRead = sim().state.graph.requests.list(/calendarView\/delta/).length;
      const mastersRead = sim().state.graph.requests.list(/\/events\//).length;
      assert.deepEqual(summary(one.events), [[series.id, 'UPDATED']]);
      assert.equal((one.events[0].raw as { subject?: string }).subject, 'Weekly sync (moved room)');
      assert.equal(Date.parse(one.events[0].date), Date.parse(String(edited.lastModifiedDateTime)));
      assert.ok(Date.parse(one.events[0].date) < pollStart, 'dated at the change, not at the poll');
      assert.equal(pagesRead, 2, 'about 104 occurrences in the window: two pages of 100');
      assert.equal(mastersRead, withMaster ? 0 : 1, 'one GET of the master when Graph does not return it');
      assert.equal(one.requests, pagesRead + mastersRead);
    });
  }

  it('a new series is one CREATED; an edited occurrence is one UPDATED for the exception; a deleted series one DELETED', async () => {
    const cal = calendar();
    const start = await round(cal, undefined);
    const series = weekly('Planning');
    const created = await round(cal, start.cursor);
    assert.deepEqual(summary(created.events), [[series.id, 'CREATED']]);

    const view = await graph.get<{ value: Array<{ id: string }> }>(`/users/${user()}/calendarView?startDateTime=${iso(now())}&endDateTime=${iso(now() + 30 * DAY)}`);
    const occurrence = view.value[1].id;
    store().updateEvent(user(), occurrence, { subject: 'Planning (extended)', end: iso(now() + 9 * DAY + 7_200_000) });
    store().updateEvent(user(), series.id!, { body: 'agenda' });
    const both = await round(cal, created.cursor);
    assert.deepEqual(summary(both.events).sort(), [[occurrence, 'UPDATED'], [series.id, 'UPDATED']].sort());

    store().deleteEvent(user(), view.value[2].id);
    const silent = await round(cal, both.cursor);
    assert.deepEqual(silent.events, [], 'Graph does not report a deleted occurrence (§11.2)');

    store().deleteEvent(user(), series.id!);
    const deleted = await round(cal, silent.cursor);
    assert.deepEqual(summary(deleted.events), [[series.id, 'DELETED']], 'its exception goes with it: one event');
  });

  it('out of the window: a change there is silent, an event moved out is UPDATED (not DELETED), a real deletion is DELETED', async () => {
    const cal = calendar();
    const old = store().createEvent(user(), { subject: 'two years ago', start: iso(now() - 700 * DAY), end: iso(now() - 700 * DAY + 3_600_000) });
    const moving = store().createEvent(user(), { subject: 'will move', start: iso(now() + 5 * DAY) });
    const doomed = store().createEvent(user(), { subject: 'will go', start: iso(now() + 6 * DAY) });
    const start = await round(cal, undefined);
    store().updateEvent(user(), old.id!, { subject: 'edited long after' });
    store().createEvent(user(), { subject: 'far future', start: iso(now() + 1000 * DAY) });
    store().updateEvent(user(), moving.id!, { start: iso(now() + 900 * DAY), end: iso(now() + 900 * DAY + 3_600_000) });
    store().deleteEvent(user(), doomed.id!);
    const result = await round(cal, start.cursor);
    assert.deepEqual(summary(result.events).sort(), [[doomed.id, 'DELETED'], [moving.id, 'UPDATED']].sort());
    const idle = await round(cal, result.cursor);
    assert.deepEqual([idle.events.length, idle.requests], [0, 1]);
  });

  it('800 days on: the window has moved, new events are CREATED, nothing old is DELETED or repeated', async () => {
    const cal = calendar();
    const early = store().createEvent(user(), { subject: 'soon', start: iso(now() + 10 * DAY) });
    const series = weekly('Forever weekly');
    const start = await round(cal, undefined);
    const first = (start.cursor as DeltaCursor).calendar!;
    assert.equal(first.rolling, true);

    sim().state.clock.advance(800 * DAY);
    const later = store().createEvent(user(), { subject: 'new, 800 days on', start: iso(now() + DAY) });
    const moved = await round(cal, start.cursor);
    assert.deepEqual(summary(moved.events), [[later.id, 'CREATED']], 'seen although outside the first window; nothing invented');
    const window = (moved.cursor as DeltaCursor).calendar!;
    assert.ok(window.start > first.start + 700 * DAY && window.end > now() + 700 * DAY, 'a fresh window around now');

    store().deleteEvent(user(), early.id!); // long past, outside the new window: not ours to report
    store().updateEvent(user(), series.id!, { subject: 'Forever weekly, new time' });
    const after = await round(cal, moved.cursor);
    assert.deepEqual(summary(after.events), [[series.id, 'UPDATED']]);
    store().deleteEvent(user(), later.id!);
    const deleted = await round(cal, after.cursor);
    assert.deepEqual(summary(deleted.events), [[later.id, 'DELETED']]);
    const idle = await round(cal, deleted.cursor);
    assert.deepEqual([idle.events.length, idle.requests], [0, 1]);
    assert.ok(JSON.stringify(idle.cursor).length < 2000, 'the cursor stays small');
  });

  it('410 on the deltaLink: a fresh window, emitting only what changed since the last poll (a series once)', async () => {
    const cal = calendar();
    const quiet = weekly('Quiet series');
    const busy = weekly('Busy series');
    store().createEvent(user(), { subject: 'unchanged', start: iso(now() + 4 * DAY) });
    const start = await round(cal, undefined);
    const fresh = store().createEvent(user(), { subject: 'in the gap', start: iso(now() + 5 * DAY) });
    store().updateEvent(user(), busy.id!, { subject: 'Busy series, edited in the gap' });
    sim().state.graph.faults.add({ kind: 'deltaGone', count: 1 });
    const resynced = await round(cal, start.cursor);
    assert.equal(resynced.resynced, true);
    assert.deepEqual(summary(resynced.events).sort(), [[busy.id, 'UPDATED'], [fresh.id, 'CREATED']].sort());
    assert.ok(!summary(resynced.events).some(([id]) => id === quiet.id));
    const idle = await round(cal, resynced.cursor);
    assert.deepEqual([idle.events.length, idle.requests], [0, 1]);
  });

  it('a cursor saved before calendar tracking (no window state) carries on: changes once, nothing invented', async () => {
    const cal = calendar();
    const series = weekly('Old cursor series');
    const kept = store().createEvent(user(), { subject: 'kept', start: iso(now() + 3 * DAY) });
    const start = await round(cal, undefined);
    const { calendar: _dropped, ...oldCursor } = start.cursor as DeltaCursor;
    store().updateEvent(user(), series.id!, { subject: 'edited' });
    const doomed = store().createEvent(user(), { subject: 'doomed', start: iso(now() + 4 * DAY) });
    const first = await round(cal, oldCursor);
    assert.deepEqual(summary(first.events).sort(), [[doomed.id, 'CREATED'], [series.id, 'UPDATED']].sort());
    assert.ok((first.cursor as DeltaCursor).calendar, 'the window state is built');
    store().deleteEvent(user(), doomed.id!);
    store().updateEvent(user(), kept.id!, { subject: 'kept, edited' });
    const second = await round(cal, first.cursor);
    assert.deepEqual(summary(second.events).sort(), [[doomed.id, 'DELETED'], [kept.id, 'UPDATED']].sort());
  });

  it('calendarViewStart with a starting point: only what changed since, one item per series', async () => {
    const cal = calendar();
    weekly('Before');
    store().createEvent(user(), { subject: 'before', start: iso(now() + 2 * DAY) });
    sim().state.clock.advance(5000);
    const since = now();
    sim().state.clock.advance(1000);
    const series = weekly('After');
    const single = store().createEvent(user(), { subject: 'after', start: iso(now() + 3 * DAY) });
    const ctx: EngineContext = { graph, elementKey: 'office365', instanceName: 'test', pollStart: now() };
    const url = initialDeltaUrl(cal, now());
    const items = new Map<string, Record<string, unknown>>();
    for await (const page of pages(ctx, url)) for (const item of page.value ?? []) items.set(String(item.id), item);
    const first = await calendarViewStart(ctx, cal, url, items, since);
    assert.deepEqual([...first!.items.keys()].sort(), [series.id, single.id].sort());
    assert.equal(first!.requests, 2, 'one read of each series master');
    assert.equal(first!.state.rolling, true);
    const silent = await calendarViewStart(ctx, cal, url, items);
    assert.deepEqual([silent!.items.size, silent!.requests], [0, 0]);
  });

  it('first enumeration after a starting point: an occurrence edited since is UPDATED, as in change rounds (never CREATED)', async () => {
    const cal = calendar();
    const series = weekly('Standup');
    sim().state.clock.advance(5000);
    const from = startCursor(now());
    sim().state.clock.advance(2000);
    const view = await graph.get<{ value: Array<{ id: string }> }>(`/users/${user()}/calendarView?startDateTime=${iso(now())}&endDateTime=${iso(now() + 30 * DAY)}`);
    const occurrence = view.value[1].id;
    const exception = store().updateEvent(user(), occurrence, { subject: 'Standup (moved)' });
    assert.equal(exception.type, 'exception');
    assert.ok(Date.parse(String(exception.createdDateTime)) > from.startedAt + 1000, 'the exception is dated after the starting point');
    const first = await round(cal, from);
    assert.deepEqual(summary(first.events), [[occurrence, 'UPDATED']], 'an edit of a series that existed');
    assert.notEqual(series.id, occurrence);
  });

  it('a window given in the URL is kept as given (not moved)', async () => {
    const s = iso(now() - 10 * DAY);
    const e = iso(now() + 100 * DAY);
    const cal = calendar(`/me/calendarView/delta?startDateTime=${s}&endDateTime=${e}`);
    const start = await round(cal, undefined);
    assert.deepEqual((start.cursor as DeltaCursor).calendar?.rolling, false);
    sim().state.clock.advance(400 * DAY);
    store().createEvent(user(), { subject: 'after the window' });
    const result = await round(cal, start.cursor);
    assert.deepEqual(result.events, []);
    assert.equal((result.cursor as DeltaCursor).calendar?.end, Date.parse(e));
  });
});
