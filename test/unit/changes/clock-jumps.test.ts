/**
 * Clock jumps and the change engines, against the simulated Graph (real GraphClient, real tokens): windows are on
 * Graph's clock (its `Date` header), so a jump of Graph's clock either way, or a round that started just after our
 * own clock jumped ahead, loses no change and classifies new objects as CREATED.
 */
import assert from 'node:assert/strict';
import { simGraphClient, useSimulator } from '../../support/simulator';
import type { GraphClient } from '../../../src/core/graph/client';
import { pollResource, type PollerCursor, type EngineContext } from '../../../src/core/changes';
import { parsePollerConfiguration, type ResourceConfig } from '../../../src/core/opencon/poller-config';

const HOUR = 3_600_000;

describe('clock jumps (change engines against the simulator)', function () {
  this.timeout(20_000);
  const sim = useSimulator();
  let graph: GraphClient;

  beforeEach(() => {
    graph = simGraphClient(sim());
  });

  const store = () => sim().state.graph.store;
  const user = () => sim().state.defaultUser.id;
  const contacts = (): ResourceConfig =>
    parsePollerConfiguration(
      { contacts: { url: "/me/contacts?$filter=lastModifiedDateTime ge ${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}", idField: 'id' } },
      { elementKey: 'outlookemail', timezone: 'UTC', mePath: `/users/${user()}` },
    )[0]!;
  const mail = (): ResourceConfig => parsePollerConfiguration('', { elementKey: 'outlookemail', timezone: 'UTC', mePath: `/users/${user()}` })[0]!;
  const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

  /** One round as the poller node runs it: its start on Graph's clock as known now, plus `ourClockAhead` ms. */
  async function round(resource: ResourceConfig, cursor: PollerCursor | undefined, ourClockAhead = 0) {
    const ctx: EngineContext = { graph, elementKey: 'outlookemail', instanceName: 'test', pollStart: graph.serverNow() + ourClockAhead };
    const result = await pollResource(ctx, resource, cursor);
    await wait(20);
    return result;
  }
  const ids = (r: { events: Array<{ objectId: string; eventType: string }> }) => r.events.map((e) => [e.objectId, e.eventType]);

  it("GraphClient.serverNow follows Graph's Date header, both ways", async () => {
    await graph.get(`/users/${user()}/contacts`);
    assert.ok(Math.abs(graph.serverNow() - Date.now()) < 1500);
    sim().state.clock.advance(2 * HOUR);
    await graph.get(`/users/${user()}/contacts`); // the access token expired on Graph's clock: 401, refreshed, then answered
    assert.ok(Math.abs(graph.serverNow() - sim().state.clock.now()) < 1500, 'two hours ahead');
    sim().state.clock.advance(-5 * HOUR);
    await graph.get(`/users/${user()}/contacts`);
    assert.ok(Math.abs(graph.serverNow() - sim().state.clock.now()) < 1500, 'three hours behind');
  });

  it('$filter: Graph clock jumps ahead, then back past the poller start: every contact change comes out once', async () => {
    const resource = contacts();
    await graph.get(`/users/${user()}/contacts`); // the clock is known, as after any earlier poll
    let cursor = (await round(resource, undefined)).cursor;
    cursor = (await round(resource, cursor)).cursor;
    sim().state.clock.advance(2 * HOUR);
    const ahead = store().createContact(user(), { displayName: 'after a jump ahead' });
    const r1 = await round(resource, cursor);
    assert.deepEqual(ids(r1), [[String(ahead.id), 'CREATED']]);
    sim().state.clock.advance(-3 * HOUR); // an hour before the poller started
    const r2 = await round(resource, r1.cursor); // nothing new; the window moves to Graph's time
    assert.deepEqual(ids(r2), []);
    const behind = store().createContact(user(), { displayName: 'after a jump back' });
    const r3 = await round(resource, r2.cursor);
    assert.deepEqual(ids(r3), [[String(behind.id), 'CREATED']]);
    const r4 = await round(resource, r3.cursor);
    assert.deepEqual(ids(r4), [], 'not again');
  });

  it('$filter: a round started just after our clock jumped an hour ahead does not move the window past later changes', async () => {
    const resource = contacts();
    await graph.get(`/users/${user()}/contacts`);
    let cursor = (await round(resource, undefined)).cursor;
    const r1 = await round(resource, cursor, HOUR); // pollStart an hour ahead: the offset was not corrected yet
    cursor = r1.cursor;
    const later = store().createContact(user(), { displayName: 'after our jump' });
    const r2 = await round(resource, cursor);
    assert.deepEqual(ids(r2), [[String(later.id), 'CREATED']]);
  });

  it('delta: Graph clock set back two hours: a new message is CREATED, its update UPDATED', async () => {
    const resource = mail();
    let cursor = (await round(resource, undefined)).cursor;
    cursor = (await round(resource, cursor)).cursor;
    sim().state.clock.advance(-2 * HOUR);
    const m = store().createMessage(user(), { subject: 'after the clock went back' });
    const r1 = await round(resource, cursor);
    assert.deepEqual(ids(r1), [[String(m.id), 'CREATED']]);
    sim().state.clock.advance(5000);
    store().updateMessage(user(), String(m.id), { isRead: true });
    const r2 = await round(resource, r1.cursor);
    assert.deepEqual(ids(r2), [[String(m.id), 'UPDATED']]);
  });

  it('delta: a round started just after our clock jumped ahead: the next new message is still CREATED', async () => {
    const resource = mail();
    let cursor = (await round(resource, undefined)).cursor;
    cursor = (await round(resource, cursor, HOUR)).cursor;
    const m = store().createMessage(user(), { subject: 'after our jump' });
    const r = await round(resource, cursor);
    assert.deepEqual(ids(r), [[String(m.id), 'CREATED']]);
  });
});
