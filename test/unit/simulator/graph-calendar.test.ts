/**
 * The simulated calendar as Graph serves it (`reference/graph.md` §11.2): recurring series expanded by calendarView
 * and its delta (occurrence stubs, exceptions in full, the master behind a switch), the window frozen in the token,
 * `@removed` for anything outside it, the 1825-day limit, and no delta on `/events`.
 */
import assert from 'node:assert/strict';
import axios from 'axios';
import { useSimulator } from '../../support/simulator';
import { deltaRound, delegatedToken, get, type Json } from './graph-helpers';

describe('simulated Graph: calendars and recurring series', () => {
  const sim = useSimulator();
  let token: string;
  const user = () => sim().state.defaultUser.id;
  const store = () => sim().state.graph.store;
  const window = 'startDateTime=2026-12-01T00:00:00Z&endDateTime=2027-01-01T00:00:00Z';
  const view = `/me/calendarView/delta?${window}`;
  /** Weekly on Mondays at 09:00 from 2026-11-02, ten occurrences: four of them (Dec 7 to 28) in the window. */
  const weekly = () =>
    store().createEvent(user(), { subject: 'Standup', start: '2026-11-02T09:00:00Z', end: '2026-11-02T09:30:00Z', recurrence: { type: 'weekly', daysOfWeek: ['monday'], numberOfOccurrences: 10 } });

  beforeEach(() => {
    sim().state.graph.reset();
    sim().state.clock.reset();
    token = delegatedToken(sim());
  });

  it('a series comes as occurrence stubs only (id, type, seriesMasterId, start, end), no master by default', async () => {
    const master = weekly();
    assert.equal(master.type, 'seriesMaster');
    assert.deepEqual(master.recurrence?.range, { type: 'numbered', startDate: '2026-11-02', endDate: '0001-01-01', recurrenceTimeZone: 'UTC', numberOfOccurrences: 10 });
    const { items } = await deltaRound(sim(), token, view);
    assert.deepEqual(items.map((i) => (i.start as Json).dateTime), ['2026-12-07T09:00:00.0000000', '2026-12-14T09:00:00.0000000', '2026-12-21T09:00:00.0000000', '2026-12-28T09:00:00.0000000']);
    for (const item of items) {
      assert.deepEqual(Object.keys(item).sort(), ['@odata.etag', '@odata.type', 'end', 'id', 'seriesMasterId', 'start', 'type']);
      assert.equal(item.type, 'occurrence');
      assert.equal(item.seriesMasterId, master.id);
      assert.deepEqual(item.end, { dateTime: `${String((item.start as Json).dateTime).slice(0, 11)}09:30:00.0000000`, timeZone: 'UTC' });
    }
    assert.equal(new Set(items.map((i) => i.id)).size, 4);
  });

  it('pages hold at most odata.maxpagesize items, also inside a series (the next page resumes there)', async () => {
    store().createEvent(user(), { subject: 'single', start: '2026-12-03T09:00:00Z', end: '2026-12-03T10:00:00Z' });
    const master = weekly();
    const daily = store().createEvent(user(), { subject: 'Daily', start: '2026-12-20T08:00:00Z', end: '2026-12-20T08:15:00Z', recurrence: { type: 'daily', numberOfOccurrences: 3 } });
    const sizes: number[] = [];
    let next: string | undefined = view;
    const ids: unknown[] = [];
    while (next) {
      const res = await get(sim(), token, next, { Prefer: 'odata.maxpagesize=3' });
      sizes.push((res.data.value as Json[]).length);
      ids.push(...(res.data.value as Json[]).map((i) => i.id));
      next = res.data['@odata.nextLink'] as string | undefined;
    }
    assert.ok(sizes.every((n) => n <= 3), JSON.stringify(sizes));
    assert.equal(ids.length, 1 + 4 + 3);
    assert.equal(new Set(ids).size, 8);
    store().updateEvent(user(), master.id!, { subject: 'edited' });
    store().updateEvent(user(), daily.id!, { subject: 'edited too' });
    const { items, deltaLink } = await deltaRound(sim(), token, view);
    const changed = await deltaRound(sim(), token, deltaLink, { Prefer: 'odata.maxpagesize=3' });
    assert.deepEqual(changed.items, [], 'nothing changed since');
    assert.equal(items.length, 8);
  });

  it('calendarSeriesMaster switch (control API): the master comes in full beside its occurrences', async () => {
    const put = await axios.put(`${sim().controlUrl}/graph/options`, { calendarSeriesMaster: true });
    assert.equal(put.data.calendarSeriesMaster, true);
    const master = weekly();
    const { items } = await deltaRound(sim(), token, view);
    const full = items.find((i) => i.id === master.id)!;
    assert.equal(full.type, 'seriesMaster');
    assert.equal(full.subject, 'Standup');
    assert.equal(items.filter((i) => i.type === 'occurrence').length, 4);
  });

  it('editing the master re-emits every occurrence; an edited occurrence is an exception in full; a deleted or cancelled one emits nothing', async () => {
    const master = weekly();
    const first = await deltaRound(sim(), token, view);
    const [a, b, c] = first.items.map((i) => String(i.id));

    store().updateEvent(user(), master.id!, { subject: 'Standup (new room)' });
    const edited = await deltaRound(sim(), token, first.deltaLink);
    assert.deepEqual(edited.items.map((i) => [i.id, i.type]), first.items.map((i) => [i.id, 'occurrence']));

    const exception = store().updateEvent(user(), a, { subject: 'Standup moved', start: '2026-12-07T10:00:00Z', end: '2026-12-07T10:30:00Z' });
    assert.equal(exception.id, a);
    const changed = await deltaRound(sim(), token, edited.deltaLink);
    assert.equal(changed.items.length, 1);
    assert.equal(changed.items[0].id, a);
    assert.equal(changed.items[0].type, 'exception');
    assert.equal(changed.items[0].seriesMasterId, master.id);
    assert.equal(changed.items[0].subject, 'Standup moved');
    assert.match(String(changed.items[0].lastModifiedDateTime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{1,7}Z$/);

    store().deleteEvent(user(), b);
    store().updateEvent(user(), c, { isCancelled: true });
    const silent = await deltaRound(sim(), token, changed.deltaLink);
    assert.deepEqual(silent.items, [], 'deleting or cancelling one occurrence is not reported (§11.2)');
    assert.equal((await get(sim(), token, `/me/events/${b}`)).status, 404);
    // ... but the series knows: the next master edit re-emits the occurrences left, the exception not among them.
    store().updateEvent(user(), master.id!, { body: 'agenda' });
    const after = await deltaRound(sim(), token, silent.deltaLink);
    assert.deepEqual(after.items.map((i) => i.id), [first.items[3].id]);
  });

  it('deleting a series: @removed for each occurrence in the window; daily series with an end date and without end', async () => {
    const daily = store().createEvent(user(), { subject: 'Daily', start: '2026-12-20T08:00:00Z', end: '2026-12-20T08:15:00Z', recurrence: { type: 'daily', interval: 2, endDate: '2026-12-26' } });
    const endless = store().createEvent(user(), { subject: 'Forever', start: '2025-01-01T12:00:00Z', end: '2025-01-01T13:00:00Z', recurrence: { type: 'weekly', daysOfWeek: ['tuesday', 'thursday'] } });
    const first = await deltaRound(sim(), token, view);
    const dailyIds = first.items.filter((i) => i.seriesMasterId === daily.id).map((i) => i.id);
    assert.equal(dailyIds.length, 4); // 20, 22, 24, 26
    assert.equal(first.items.filter((i) => i.seriesMasterId === endless.id).length, 10); // Tue/Thu of Dec 2026
    store().deleteEvent(user(), daily.id!);
    const second = await deltaRound(sim(), token, first.deltaLink);
    assert.deepEqual(second.items, dailyIds.map((id) => ({ '@odata.type': '#microsoft.graph.event', id, '@removed': { reason: 'deleted' } })));
  });

  it('the window is frozen in the token: changes outside it are @removed (deleted), whatever they are', async () => {
    const inside = store().createEvent(user(), { subject: 'inside', start: '2026-12-10T09:00:00Z', end: '2026-12-10T10:00:00Z' });
    const old = store().createEvent(user(), { subject: 'old', start: '2025-06-10T09:00:00Z', end: '2025-06-10T10:00:00Z' });
    const first = await deltaRound(sim(), token, view);
    assert.deepEqual(first.items.map((i) => i.id), [inside.id]);
    sim().state.clock.advance(800 * 86_400_000);
    token = delegatedToken(sim());
    const later = store().createEvent(user(), { subject: 'new, two years on' });
    store().updateEvent(user(), old.id!, { subject: 'old, edited' });
    const series = store().createEvent(user(), { subject: 'later series', recurrence: { type: 'daily', numberOfOccurrences: 3 } });
    const second = await deltaRound(sim(), token, first.deltaLink);
    const removed = (id: unknown) => ({ '@odata.type': '#microsoft.graph.event', id, '@removed': { reason: 'deleted' } });
    assert.deepEqual(second.items, [removed(later.id), removed(old.id), removed(series.id)]);
  });

  it('a window over 1825 days is 400 ErrorInvalidRequest; /events/delta is refused; the window is required', async () => {
    const long = await get(sim(), token, '/me/calendarView/delta?startDateTime=2024-01-01T00:00:00Z&endDateTime=2029-01-01T00:00:00Z');
    assert.equal(long.status, 400);
    assert.equal(long.data.error.code, 'ErrorInvalidRequest');
    assert.match(long.data.error.message, /1825 days/);
    const ok = await get(sim(), token, '/me/calendarView/delta?startDateTime=2024-01-01T00:00:00Z&endDateTime=2028-12-30T00:00:00Z');
    assert.equal(ok.status, 200);
    for (const path of ['/me/events/delta', '/me/calendar/events/delta']) {
      const res = await get(sim(), token, path);
      assert.equal(res.status, 400, path);
      assert.equal(res.data.error.message, "Unsupported request: Change tracking is not supported against 'microsoft.graph.event'.");
    }
  });

  it('calendarView lists occurrences in full; /events lists the master; an occurrence id can be read, edited and deleted', async () => {
    const master = weekly();
    const list = await get(sim(), token, `/me/calendarView?${window}&$top=50`);
    assert.equal(list.status, 200);
    const occurrences = list.data.value as Json[];
    assert.equal(occurrences.length, 4);
    assert.ok(occurrences.every((o) => o.type === 'occurrence' && o.subject === 'Standup' && o.seriesMasterId === master.id && o.recurrence === null));
    const events = await get(sim(), token, '/me/events');
    assert.deepEqual((events.data.value as Json[]).map((e) => [e.id, e.type]), [[master.id, 'seriesMaster']]);
    const one = await get(sim(), token, `/me/events/${occurrences[0].id}`);
    assert.equal(one.status, 200);
    assert.equal(one.data.type, 'occurrence');
    const gotMaster = await get(sim(), token, `/me/events/${master.id}`);
    assert.equal(gotMaster.data.type, 'seriesMaster');
    const del = await axios.delete(`${sim().graphBaseUrl}/me/events/${occurrences[0].id}`, { headers: { Authorization: `Bearer ${token}` }, validateStatus: () => true });
    assert.equal(del.status, 204);
    assert.equal((await get(sim(), token, `/me/events/${occurrences[0].id}`)).status, 404);
    const control = await axios.post(`${sim().controlUrl}/users/${user()}/events`, { subject: 'bad', recurrence: { type: 'monthly' } }, { validateStatus: () => true });
    assert.equal(control.status, 400);
    assert.match(control.data.error.message, /recurrence\.type/);
  });
});
