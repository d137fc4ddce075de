/**
 * Microsoft's whole-second timestamps at a round boundary (issue 14 item 1): Outlook messages, contacts and drive
 * items carry `2026-12-02T17:18:53Z`, so an object created a few hundred milliseconds after a round started, in the
 * same second, has a date *before* that start. The simulator's clock is pinned half a second into a second
 * (`SimClock.freeze`) and moved by hand, so every case happens at the exact instant it names.
 *
 * Delta (messages, drive items): created after a round started, in its second → CREATED; created before the
 * previous round (also in that round's second, also when only the silent starting enumeration read it) → UPDATED;
 * nothing twice. `$filter` (contacts): created after the start in its second → emitted (CREATED), once; an update of
 * an older contact → UPDATED; the overlap window reads boundary objects again without repeating them.
 */
import assert from 'node:assert/strict';
import { simGraphClient, useSimulator } from '../../support/simulator';
import type { GraphClient } from '../../../src/core/graph/client';
import { pollResource, startCursor, type PollerCursor, type EngineContext } from '../../../src/core/changes';
import { parsePollerConfiguration, type ResourceConfig } from '../../../src/core/opencon/poller-config';
import { pollFilter, startFilter, type FilterCursor } from '../../../src/core/changes/filter-engine';
import { MAX_CREATED_LISTED } from '../../../src/core/changes/delta-engine';

describe('whole-second timestamps at a round boundary (engines against the simulator, clock pinned)', function () {
  this.timeout(20_000);
  const sim = useSimulator();
  let graph: GraphClient;

  before(() => {
    graph = simGraphClient(sim());
  });
  afterEach(() => sim().state.clock.reset());

  const store = () => sim().state.graph.store;
  const user = () => sim().state.defaultUser.id;
  const clock = () => sim().state.clock;
  /** Second 0 of this test (ms): ahead of real now and of every earlier test's objects (each moves it 100 s on). */
  let base = 0;
  let tests = 0;
  const at = (second: number, ms: number) => clock().set(base + second * 1000 + ms);
  beforeEach(() => {
    tests += 1;
    base = (Math.floor(Date.now() / 1000) + 600 + 100 * tests) * 1000;
    clock().freeze(base - 5000);
  });

  const config = (spec: Record<string, unknown> | '', elementKey: 'outlookemail' | 'onedrivev2' = 'outlookemail'): ResourceConfig =>
    parsePollerConfiguration(spec, { elementKey, timezone: 'UTC', mePath: `/users/${user()}` })[0]!;
  async function round(resource: ResourceConfig, cursor: PollerCursor | undefined) {
    const ctx: EngineContext = { graph, elementKey: 'outlookemail', instanceName: 'test', pollStart: clock().now() };
    return pollResource(ctx, resource, cursor);
  }
  const ids = (r: { events: Array<{ objectId: string; eventType: string }> }) => r.events.map((e) => [e.objectId, e.eventType]);

  /** The same story for any delta resource; `create` and `update` act on its objects and return their ids. */
  async function deltaBoundaries(resource: ResourceConfig, create: (name: string) => string, update: (id: string) => void) {
    at(0, 300);
    const old = create('before the start, in its second');
    at(0, 500);
    const start = await round(resource, undefined);
    assert.deepEqual(ids(start), [], 'the silent start emits nothing');
    at(0, 700);
    const a = create('after the start, in its second');
    assert.equal(createdAt.get(a), `${new Date(base).toISOString().slice(0, 19)}Z`, 'whole seconds, as Microsoft writes them');

    at(1, 300);
    const c = create('before round 1, in its second');
    update(old);
    at(1, 500);
    const r1 = await round(resource, start.cursor);
    assert.deepEqual(ids(r1), [[a, 'CREATED'], [c, 'CREATED'], [old, 'UPDATED']]);

    at(1, 700);
    const b = create('after round 1 started, in its second');
    update(c);
    at(2, 500);
    const r2 = await round(resource, r1.cursor);
    assert.deepEqual(ids(r2), [[b, 'CREATED'], [c, 'UPDATED']]);

    at(2, 700);
    update(b);
    update(a);
    at(3, 500);
    const r3 = await round(resource, r2.cursor);
    assert.deepEqual(ids(r3), [[b, 'UPDATED'], [a, 'UPDATED']]);
    at(4, 500);
    assert.deepEqual(ids(await round(resource, r3.cursor)), [], 'nothing twice');
  }
  /** `createdDateTime` as the simulator wrote it, per id. */
  const createdAt = new Map<string, unknown>();

  it('messages (delta): same-second creations are CREATED, older objects UPDATED, nothing twice', async () => {
    await deltaBoundaries(
      config(''),
      (subject) => {
        const m = store().createMessage(user(), { subject });
        createdAt.set(String(m.id), m.createdDateTime);
        return String(m.id);
      },
      (id) => void store().updateMessage(user(), id, { isRead: true }),
    );
  });

  it('drive items (delta): same-second creations are CREATED, older objects UPDATED, nothing twice', async () => {
    await deltaBoundaries(
      config('', 'onedrivev2'),
      (name) => {
        const item = store().createDriveItem(user(), { name: `${name}.txt`, content: name });
        createdAt.set(String(item.id), item.createdDateTime);
        return String(item.id);
      },
      (id) => void store().updateDriveItem(user(), id, { content: 'edited' }),
    );
  });

  it('contacts ($filter): a contact created after the start in its second is emitted once; older ones come out UPDATED', async () => {
    const resource = config({ contacts: { url: "/me/contacts?$filter=lastModifiedDateTime ge ${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}", idField: 'id' } });
    at(-2, 300);
    const old = String(store().createContact(user(), { displayName: 'Before Start' }).id);
    at(0, 500);
    const start = await round(resource, undefined);
    at(0, 700);
    const a = store().createContact(user(), { displayName: 'After Start' });
    assert.equal(a.createdDateTime, new Date(base).toISOString().replace('.000Z', 'Z'), 'whole seconds, as Microsoft writes them');
    at(1, 500);
    const r1 = await round(resource, start.cursor);
    assert.deepEqual(ids(r1), [[String(a.id), 'CREATED']]);
    at(1, 700);
    const b = String(store().createContact(user(), { displayName: 'After Round One' }).id);
    store().updateContact(user(), old, { jobTitle: 'edited' });
    at(2, 500);
    const r2 = await round(resource, r1.cursor);
    assert.deepEqual(ids(r2), [[old, 'UPDATED'], [b, 'CREATED']].sort(byId(r2)));
    at(9, 700);
    store().updateContact(user(), b, { jobTitle: 'edited' });
    at(10, 500);
    const r3 = await round(resource, r2.cursor);
    assert.deepEqual(ids(r3), [[b, 'UPDATED']]);
    at(11, 500);
    assert.deepEqual(ids(await round(resource, r3.cursor)), [], 'the overlap window reads them again; none is repeated');
  });

  it('contacts ($filter): a second change in the same whole second as an emitted one is not taken for a repeat', async () => {
    const resource = config({ contacts: { url: "/me/contacts?$filter=lastModifiedDateTime ge ${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}", idField: 'id' } });
    at(0, 500);
    const start = await round(resource, undefined);
    at(1, 100);
    const x = String(store().createContact(user(), { displayName: 'Twice In A Second' }).id);
    at(1, 500);
    const r1 = await round(resource, start.cursor);
    assert.deepEqual(ids(r1), [[x, 'CREATED']]);
    at(1, 900);
    const edited = store().updateContact(user(), x, { jobTitle: 'edited in the same second' });
    assert.equal(edited.lastModifiedDateTime, r1.events[0]!.raw && (r1.events[0]!.raw as { lastModifiedDateTime?: string }).lastModifiedDateTime, 'one date for both versions');
    at(2, 500);
    const r2 = await round(resource, r1.cursor);
    assert.deepEqual(ids(r2), [[x, 'CREATED']], 'the new version comes out (created ≈ modified: CREATED by the Open Connectors rule)');
    assert.notEqual(r2.events[0]!.eventId, r1.events[0]!.eventId, 'another version, another eventId');
    at(3, 500);
    assert.deepEqual(ids(await round(resource, r2.cursor)), [], 'then nothing twice');
  });

  it('$filter without overlap: an object dated in the second a window opens is remembered until that window has read it', async () => {
    const resource = config({ contacts: { url: "/me/contacts?$filter=lastModifiedDateTime ge ${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}", idField: 'id' } });
    const ctx = (): EngineContext => ({ graph, elementKey: 'outlookemail', instanceName: 'test', pollStart: clock().now() });
    at(0, 500);
    let cursor: FilterCursor = startFilter(ctx()).cursor;
    at(1, 200);
    const y = String(store().createContact(user(), { displayName: 'In The Window Second' }).id);
    at(1, 500);
    const r1 = await pollFilter(ctx(), resource, cursor, 0);
    assert.deepEqual(ids(r1), [[y, 'CREATED']]);
    cursor = r1.cursor;
    at(2, 500);
    const r2 = await pollFilter(ctx(), resource, cursor, 0); // its window opens in second 1: Graph returns y again
    assert.deepEqual(ids(r2), [], 'not repeated');
  });

  /**
   * A poller's recorded starting point in the same second as objects: what its first round reads dated in that second
   * comes out (whole seconds cannot tell the side: never lost, even if it was made just before the start); what
   * appears in that second after the round comes out too; each once.
   */
  async function startSecond(resource: ResourceConfig, create: (name: string) => string, update: (id: string) => void) {
    at(0, 300);
    const before = create('before the start, in its second');
    at(0, 500);
    const start = startCursor(clock().now());
    at(0, 600);
    const first = await round(resource, start);
    assert.deepEqual(ids(first), [[before, 'CREATED']], 'read in the second of the start: taken for a change after it');
    at(0, 700);
    const after = create('after the first round, in the second of the start');
    at(1, 500);
    const r1 = await round(resource, first.cursor);
    assert.deepEqual(ids(r1), [[after, 'CREATED']]);
    at(9, 500);
    update(before);
    at(10, 500);
    const r2 = await round(resource, r1.cursor);
    assert.deepEqual(ids(r2), [[before, 'UPDATED']]);
    at(11, 500);
    assert.deepEqual(ids(await round(resource, r2.cursor)), [], 'nothing twice');
  }

  it('a start cursor in the second of existing objects: messages (delta) and contacts ($filter)', async () => {
    await startSecond(
      config(''),
      (subject) => String(store().createMessage(user(), { subject }).id),
      (id) => void store().updateMessage(user(), id, { isRead: true }),
    );
    await startSecond(
      config({ contacts: { url: "/me/contacts?$filter=lastModifiedDateTime ge ${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}", idField: 'id' } }),
      (name) => String(store().createContact(user(), { displayName: name }).id),
      (id) => void store().updateContact(user(), id, { jobTitle: 'edited' }),
    );
  });

  it('delta: a cursor written before ids were hashed (createdSince: full ids and times) still classifies as before', async () => {
    const resource = config('');
    const create = (subject: string) => String(store().createMessage(user(), { subject }).id);
    at(0, 500);
    const start = await round(resource, undefined);
    at(1, 300);
    const c = create('before round 1, in its second');
    at(1, 500);
    const r1 = await round(resource, start.cursor);
    assert.deepEqual(ids(r1), [[c, 'CREATED']]);
    const written = r1.cursor as { created?: unknown; createdSince?: unknown; deltaLink: string; syncedAt: number };
    assert.equal(written.createdSince, undefined, 'new cursors hold hashes only');
    assert.ok(Array.isArray(written.created));
    assert.ok(!JSON.stringify(written.created).includes(c), 'no full id in the cursor');
    // The same cursor as an older version wrote it.
    const old = { mode: 'delta' as const, deltaLink: written.deltaLink, syncedAt: written.syncedAt, createdSince: [[c, base + 1000]] as Array<[string, number]> };
    at(1, 700);
    const b = create('after round 1 started, in its second');
    store().updateMessage(user(), c, { isRead: true });
    at(2, 500);
    const r2 = await round(resource, old);
    assert.deepEqual(ids(r2), [[b, 'CREATED'], [c, 'UPDATED']], 'c read by the old cursor: not CREATED twice');
    at(3, 500);
    assert.deepEqual(ids(await round(resource, r2.cursor)), [], 'nothing twice');
  });

  it(`delta: more than MAX_CREATED_LISTED (${MAX_CREATED_LISTED}) objects created in one second: state bounded, none CREATED twice, none lost`, async () => {
    const resource = config({ messages: { url: '/me/mailFolders/inbox/messages/delta', idField: 'id', pageSize: 1000 } });
    const burst = MAX_CREATED_LISTED + 200;
    at(0, 500);
    const start = await round(resource, undefined);
    at(1, 100);
    const made = Array.from({ length: burst }, (_, i) => String(store().createMessage(user(), { subject: `burst ${i}` }).id));
    at(1, 500);
    const r1 = await round(resource, start.cursor);
    assert.equal(r1.events.length, burst);
    assert.ok(r1.events.every((e) => e.eventType === 'CREATED'));
    const size = JSON.stringify(r1.cursor).length;
    assert.ok(size <= 40 * 1024, `cursor ${size} bytes, ≤ 40 KiB whatever the burst`);
    assert.deepEqual((r1.cursor as { createdUnlisted?: [number, number] }).createdUnlisted, [base + 1000, base + 1000], 'the second left unlisted');
    // The same second, after round 1 started: every object of the burst edited, and one more created.
    at(1, 700);
    for (const id of made) store().updateMessage(user(), id, { isRead: true });
    const late = String(store().createMessage(user(), { subject: 'after round 1 started, in the burst second' }).id);
    at(2, 500);
    const r2 = await round(resource, r1.cursor);
    const types = new Map(r2.events.map((e) => [e.objectId, e.eventType]));
    assert.equal(r2.events.length, burst + 1, 'every change once');
    assert.ok(made.every((id) => types.get(id) === 'UPDATED'), 'no object of the burst CREATED twice');
    // README known limits: beyond the cap, an object created in that second after the round started comes out UPDATED.
    assert.equal(types.get(late), 'UPDATED', 'the documented fall-back: emitted, as UPDATED');
    at(3, 500);
    assert.deepEqual(ids(await round(resource, r2.cursor)), [], 'nothing twice');
  });

  /** Sort expected pairs in the order the round emitted them (a `$filter` listing has its own order). */
  const byId = (r: { events: Array<{ objectId: string }> }) => (x: (string | undefined)[], y: (string | undefined)[]) =>
    r.events.findIndex((e) => e.objectId === x[0]) - r.events.findIndex((e) => e.objectId === y[0]);
});
