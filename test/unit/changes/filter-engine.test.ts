/**
 * The filter engine against the simulated Graph (real GraphClient, real tokens): overlap window + id/date dedupe
 * (late-visible items and same-second boundaries neither lost nor repeated) and bounded dedupe state.
 */
import assert from 'node:assert/strict';
import { simGraphClient, useSimulator } from '../../support/simulator';
import type { GraphClient } from '../../../src/core/graph/client';
import { pollResource, type PollerCursor, type EngineContext } from '../../../src/core/changes';
import { MAX_SEEN, dedupeKey } from '../../../src/core/changes/filter-engine';
import { parsePollerConfiguration, type ResourceConfig } from '../../../src/core/opencon/poller-config';

describe('filter engine (against the simulator)', function () {
  this.timeout(20_000);
  const sim = useSimulator();
  let graph: GraphClient;
  let resource: ResourceConfig;

  before(() => {
    graph = simGraphClient(sim());
  });
  beforeEach(() => {
    const mePath = `/users/${sim().state.defaultUser.id}`;
    [resource] = parsePollerConfiguration(
      { messages: { url: "/me/messages?$filter=lastModifiedDateTime ge ${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}", idField: 'id', pageSize: 50 } },
      { elementKey: 'outlookemail', timezone: 'UTC', mePath },
    ) as [ResourceConfig];
  });

  const store = () => sim().state.graph.store;
  const user = () => sim().state.defaultUser.id;
  const ctx = (): EngineContext => ({ graph, elementKey: 'outlookemail', instanceName: 'test', pollStart: sim().state.clock.now() });

  async function round(cursor: PollerCursor | undefined) {
    return pollResource(ctx(), resource, cursor);
  }

  it('pollResource: objects before the first round are not emitted; 120 created after it come out once each, paged by $top', async () => {
    store().createMessages(user(), 5, { subject: 'before' });
    sim().state.clock.advance(1000);
    const first = await round(undefined);
    assert.equal(first.events.length, 0);
    sim().state.clock.advance(1000);
    store().createMessages(user(), 120, { subject: 'after' });
    sim().state.clock.advance(1000);
    const second = await round(first.cursor);
    assert.equal(second.events.length, 120);
    assert.equal(new Set(second.events.map((e) => e.objectId)).size, 120);
    assert.ok(second.events.every((e) => e.eventType === 'CREATED' && e.source === 'polling'));
    assert.ok(second.requests >= 3, `paged: ${second.requests} requests`);
    sim().state.clock.advance(1000);
    const third = await round(second.cursor);
    assert.equal(third.events.length, 0, 'the overlap window re-reads them; dedupe drops them');
  });

  it('a "new mail" resource (receivedDateTime as both dates): a mail marked read inside the overlap window is not CREATED again', async () => {
    const mePath = `/users/${sim().state.defaultUser.id}`;
    const [newMail] = parsePollerConfiguration(
      {
        messages: {
          url: "/me/mailFolders/inbox/messages?$filter=receivedDateTime ge ${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}",
          idField: 'id',
          datesConfiguration: { updatedDateField: 'receivedDateTime', createdDateField: 'receivedDateTime' },
          filterByUpdatedDate: false,
        },
      },
      { elementKey: 'outlookemail', timezone: 'UTC', mePath },
    ) as [ResourceConfig];
    sim().state.clock.advance(60_000);
    let { cursor } = await pollResource(ctx(), newMail, undefined);
    sim().state.clock.advance(2000);
    const mail = store().createMessage(user(), { subject: 'arrives' });
    sim().state.clock.advance(2000);
    const first = await pollResource(ctx(), newMail, cursor);
    assert.deepEqual(first.events.map((e) => [e.objectId, e.eventType]), [[mail.id, 'CREATED']]);
    cursor = first.cursor;
    sim().state.clock.advance(2000);
    store().updateMessage(user(), mail.id!, { isRead: true }); // new etag and lastModifiedDateTime, same receivedDateTime
    sim().state.clock.advance(2000);
    const second = await pollResource(ctx(), newMail, cursor);
    assert.deepEqual(second.events, [], 'the watched date did not change: the same mail is not new again');
  });

  it('pollResource: an item late-visible and sharing the boundary second is emitted once, in the round it appears', async () => {
    sim().state.clock.advance(60_000);
    let { cursor } = await round(undefined);
    sim().state.clock.advance(1000);
    const seen = store().createMessage(user(), { subject: 'visible' });
    const late = store().createMessage(user(), { subject: 'late' }, { lateVisibleSeconds: 30 });
    const first = await round(cursor);
    assert.deepEqual(first.events.map((e) => e.objectId), [String(seen.id)]);
    cursor = first.cursor;
    sim().state.clock.advance(60_000);
    const second = await round(cursor);
    assert.deepEqual(second.events.map((e) => e.objectId), [String(late.id)]);
    const update = store().updateMessage(user(), String(seen.id), { isRead: true });
    assert.ok(update);
    sim().state.clock.advance(5_000);
    const third = await round(second.cursor);
    assert.deepEqual(third.events.map((e) => [e.objectId, e.eventType]), [[String(seen.id), 'UPDATED']]);
  });

  it('dedupe state keeps only ids inside the overlap window: empty once the window has passed', async () => {
    sim().state.clock.advance(3_600_000);
    let { cursor } = await round(undefined);
    sim().state.clock.advance(1000);
    store().createMessages(user(), 200, { subject: 'burst' });
    sim().state.clock.advance(1000);
    const burst = await round(cursor);
    assert.equal(burst.events.length, 200);
    assert.equal(burst.cursor.mode, 'filter');
    assert.equal(burst.cursor.mode === 'filter' && burst.cursor.seen.length, 200);
    cursor = burst.cursor;
    sim().state.clock.advance(10 * 60_000);
    const later = await round(cursor);
    assert.equal(later.events.length, 0);
    assert.equal(later.cursor.mode === 'filter' && later.cursor.seen.length, 0);
    assert.ok(JSON.stringify(later.cursor).length < 200);
  });

  it('a burst of 3,000 changes inside one window: all emitted once, dedupe state capped at MAX_SEEN and ≤ 64 KiB, nothing repeated', async () => {
    resource = { ...resource, pageSize: 1000 };
    sim().state.clock.advance(7_200_000);
    const { cursor } = await round(undefined);
    for (let i = 0; i < 3; i += 1) {
      sim().state.clock.advance(1000);
      store().createMessages(user(), 1000, { subject: `burst ${i}` });
    }
    sim().state.clock.advance(1000);
    const burst = await round(cursor);
    assert.equal(burst.events.length, 3000);
    assert.equal(new Set(burst.events.map((e) => e.objectId)).size, 3000);
    assert.ok(burst.cursor.mode === 'filter' && burst.cursor.seen.length <= MAX_SEEN);
    const size = Buffer.byteLength(JSON.stringify(burst.cursor));
    assert.ok(size <= 64 * 1024, `cursor ${size} bytes`);
    sim().state.clock.advance(1000);
    const again = await round(burst.cursor);
    assert.equal(again.events.length, 0, 'the window re-reads the burst; none repeated');
    sim().state.clock.advance(1000);
    const m = store().createMessage(user(), { subject: 'after the burst' });
    sim().state.clock.advance(1000);
    const next = await round(again.cursor);
    assert.deepEqual(next.events.map((e) => e.objectId), [String(m.id)]);
  });

  it('a cursor written with plain id|date keys is still honored (keys are hashed on read)', async () => {
    sim().state.clock.advance(7_200_000);
    const { cursor } = await round(undefined);
    sim().state.clock.advance(1000);
    store().createMessage(user(), { subject: 'once' });
    sim().state.clock.advance(1000);
    const first = await round(cursor);
    assert.equal(first.events.length, 1);
    assert.ok(first.cursor.mode === 'filter');
    const [event] = first.events;
    const at = Date.parse(event!.date);
    assert.deepEqual(first.cursor.seen, [[dedupeKey(event!.objectId, at, String((event!.raw as Record<string, unknown>)['@odata.etag'])), at]]);
    const legacy: PollerCursor = { ...first.cursor, seen: [[`${event!.objectId}|${at}`, at]] };
    sim().state.clock.advance(1000);
    assert.equal((await round(legacy)).events.length, 0);
  });
});
