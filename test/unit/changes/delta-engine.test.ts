/**
 * The delta engine against the simulated Graph (real GraphClient, real tokens): the silent starting point,
 * last-wins merge within a round, drive CREATED / UPDATED / DELETED, and 410 resync without flooding.
 */
import assert from 'node:assert/strict';
import { simGraphClient, useSimulator } from '../../support/simulator';
import type { GraphClient } from '../../../src/core/graph/client';
import { pollResource, startCursor, type PollerCursor, type EngineContext } from '../../../src/core/changes';
import { parsePollerConfiguration, type ResourceConfig } from '../../../src/core/opencon/poller-config';

describe('delta engine (against the simulator)', function () {
  this.timeout(20_000);
  const sim = useSimulator();
  let graph: GraphClient;

  before(() => {
    graph = simGraphClient(sim());
  });

  const store = () => sim().state.graph.store;
  const user = () => sim().state.defaultUser.id;
  const resourceOf = (elementKey: 'outlookemail' | 'onedrivev2'): ResourceConfig =>
    parsePollerConfiguration('', { elementKey, timezone: 'UTC', mePath: `/users/${user()}` })[0]!;
  /** One round, a second after the last change (a change in the very millisecond a round starts counts as "since"). */
  async function round(resource: ResourceConfig, cursor: PollerCursor | undefined) {
    sim().state.clock.advance(1000);
    const ctx: EngineContext = { graph, elementKey: 'outlookemail', instanceName: 'test', pollStart: sim().state.clock.now() };
    const result = await pollResource(ctx, resource, cursor);
    sim().state.clock.advance(1000);
    return result;
  }

  it('messages: existing mail is not emitted; created then updated within one round is one CREATED; a deletion is DELETED', async () => {
    const mail = resourceOf('outlookemail');
    store().createMessages(user(), 3, { subject: 'existing' });
    const start = await round(mail, undefined);
    assert.equal(start.events.length, 0);
    const m = store().createMessage(user(), { subject: 'new' });
    store().updateMessage(user(), String(m.id), { isRead: true });
    const created = await round(mail, start.cursor);
    assert.deepEqual(created.events.map((e) => [e.objectId, e.eventType]), [[String(m.id), 'CREATED']]);
    store().deleteMessage(user(), String(m.id));
    const deleted = await round(mail, created.cursor);
    assert.deepEqual(deleted.events.map((e) => [e.objectId, e.eventType]), [[String(m.id), 'DELETED']]);
    const idle = await round(mail, deleted.cursor);
    assert.deepEqual([idle.events.length, idle.requests], [0, 1]);
  });

  it('drive: a silent enumerating start (not token=latest); a file comes out CREATED, then UPDATED, then DELETED', async () => {
    const drive = resourceOf('onedrivev2');
    store().createDriveItem(user(), { name: 'old.txt' });
    const start = await round(drive, undefined);
    assert.equal(start.events.length, 0);
    const file = store().createDriveItem(user(), { name: 'a.txt', content: 'x' });
    const created = await round(drive, start.cursor);
    assert.deepEqual(created.events.map((e) => [e.objectId, e.eventType]), [[String(file.id), 'CREATED']]);
    store().updateDriveItem(user(), String(file.id), { name: 'b.txt' });
    const updated = await round(drive, created.cursor);
    assert.deepEqual(updated.events.map((e) => [e.objectId, e.eventType]), [[String(file.id), 'UPDATED']]);
    store().deleteDriveItem(user(), String(file.id));
    const deleted = await round(drive, updated.cursor);
    assert.deepEqual(deleted.events.map((e) => [e.objectId, e.eventType]), [[String(file.id), 'DELETED']]);
  });

  it('410 on the deltaLink: resynced, only objects changed since the last round are emitted', async () => {
    const mail = resourceOf('outlookemail');
    store().createMessages(user(), 20, { subject: 'old' });
    const start = await round(mail, undefined);
    const m = store().createMessage(user(), { subject: 'in the gap' });
    sim().state.graph.faults.add({ kind: 'deltaGone', count: 1 });
    const resynced = await round(mail, start.cursor);
    assert.equal(resynced.resynced, true);
    assert.deepEqual(resynced.events.map((e) => e.objectId), [String(m.id)]);
    const after = await round(mail, resynced.cursor);
    assert.equal(after.events.length, 0);
  });
  it('an object created after a round started but read by it is CREATED once: its update in the next round is UPDATED', async () => {
    // The round starts (pollStart), then the message is created, then Graph reads the feed: the round reports it
    // CREATED, and the next round (whose "since" is that start) must not report its update as CREATED again.
    const mail = resourceOf('outlookemail');
    const start = await round(mail, undefined);
    sim().state.clock.advance(1000);
    const pollStart = sim().state.clock.now();
    sim().state.clock.advance(200);
    const m = store().createMessage(user(), { subject: 'created mid-round' });
    const first = await pollResource({ graph, elementKey: 'outlookemail', instanceName: 'test', pollStart }, mail, start.cursor);
    assert.deepEqual(first.events.map((e) => [e.objectId, e.eventType]), [[String(m.id), 'CREATED']]);
    sim().state.clock.advance(1000);
    store().updateMessage(user(), String(m.id), { isRead: true });
    const second = await round(mail, first.cursor);
    assert.deepEqual(second.events.map((e) => [e.objectId, e.eventType]), [[String(m.id), 'UPDATED']]);
    const fresh = store().createMessage(user(), { subject: 'new in the third round' });
    const third = await round(mail, second.cursor);
    assert.deepEqual(third.events.map((e) => [e.objectId, e.eventType]), [[String(fresh.id), 'CREATED']]);
  });

  it('a start cursor: the first enumeration, however late, emits what changed after the starting point, never older objects', async () => {
    const mail = resourceOf('outlookemail');
    const drive = resourceOf('onedrivev2');
    const oldMail = store().createMessage(user(), { subject: 'before the start' });
    const oldFile = store().createDriveItem(user(), { name: 'before.txt' });
    sim().state.clock.advance(2000);
    const start = startCursor(sim().state.clock.now());
    sim().state.clock.advance(30_000); // Graph unreachable meanwhile: nothing read
    const newMail = store().createMessage(user(), { subject: 'after the start' });
    store().updateDriveItem(user(), String(oldFile.id), { content: 'edited after the start' });
    const newFile = store().createDriveItem(user(), { name: 'after.txt' });
    const mailRound = await round(mail, start);
    assert.deepEqual(mailRound.events.map((e) => [e.objectId, e.eventType]), [[String(newMail.id), 'CREATED']]);
    const driveRound = await round(drive, start);
    assert.deepEqual(driveRound.events.map((e) => [e.objectId, e.eventType]), [[String(oldFile.id), 'UPDATED'], [String(newFile.id), 'CREATED']]);
    assert.ok(!mailRound.events.some((e) => e.objectId === String(oldMail.id)));
    assert.deepEqual([(await round(mail, mailRound.cursor)).events.length, (await round(drive, driveRound.cursor)).events.length], [0, 0], 'once');
  });
});
