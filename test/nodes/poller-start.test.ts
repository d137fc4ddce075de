/**
 * The starting point of an `ms365-poller` is its first start, not its first successful poll (CONTRACT "ms365-poller",
 * issue 14 item 2), on a real Node-RED runtime (test helper with a user directory) against the simulated tenant:
 * the starting point is in the state file before any Graph call; Graph then answers 503 for the first 30 simulated
 * seconds after deploy, while a mail, a file, an event and a contact are created and an older mail is edited; once
 * Graph answers again, each of those comes out exactly once with its type, from delta and `$filter` resources alike,
 * and nothing older than the deploy ever does. The simulator's clock is moved, nothing sleeps.
 */
import assert from 'node:assert/strict';
import axios from 'axios';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { NodeMessage } from 'node-red';
import { helper, allNodes, useNodeRed, useTempUserDir } from '../support/node-red-helper';
import { useSimulator } from '../support/simulator';
import { connectorFlowNode, waitFor } from '../support/connector';
import type { Ms365Event } from '../../src/core/events';
import type { PollerState } from '../../src/core/changes/poller-state';

type Spied = NodeJS.EventEmitter & { receive(msg: Record<string, unknown>): void };
interface StatusArg { fill?: string; text?: string }

const CONFIGURATION = {
  messages: { url: '/me/mailFolders/inbox/messages/delta', idField: 'id' },
  driveItems: { url: '/me/drive/root/delta', idField: 'id' },
  events: { url: '/me/calendarView/delta', idField: 'id' },
  contacts: { url: "/me/contacts?$filter=lastModifiedDateTime ge ${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}", idField: 'id' },
};

describe('ms365-poller starting point: its first start, not its first successful poll (node, against the simulator)', function () {
  this.timeout(30_000);
  const sim = useSimulator();
  useNodeRed();
  const userDir = useTempUserDir('ms365-poller-start-');

  const user = () => sim().state.defaultUser.id;
  const store = () => sim().state.graph.store;
  const clock = () => sim().state.clock;
  const stateFile = () => path.join(userDir(), '.ms365-events', 'poller-p1.json');
  afterEach(() => {
    sim().state.graph.reset(); // objects (some dated ahead of the next test's deploy), faults, request log
    clock().reset();
  });

  async function load(configuration: Record<string, unknown> = CONFIGURATION, pollOnStart = true) {
    const { node: conn, credentials } = connectorFlowNode(sim(), { elementKey: 'office365' });
    const flow = [
      conn,
      { id: 'p1', type: 'ms365-poller', connector: conn.id, interval: 60, timezone: 'UTC', configuration: JSON.stringify(configuration), pollOnStart, wires: [['out']] },
      { id: 'out', type: 'helper' },
    ];
    const statuses: StatusArg[] = [];
    await helper.load(allNodes, flow, credentials);
    const events: Ms365Event[] = [];
    helper.getNode('out').on('input', (msg: NodeMessage) => events.push(msg.payload as Ms365Event));
    const poller = helper.getNode('p1') as unknown as Spied;
    poller.on('call:status', (call: { args: StatusArg[] }) => statuses.push(call.args[0] ?? {}));
    /** Resolves at the next end-of-round status with its text. */
    const roundEnd = () => waitFor('end of a poll round', () => {
      const i = statuses.findIndex((s) => /^\d\d:\d\d:\d\d: \d+ event|^error \d/.test(s.text ?? ''));
      return i >= 0 && statuses.splice(0, i + 1)[i]!.text;
    }, 15_000);
    const round = async () => {
      poller.receive({});
      return roundEnd();
    };
    return { events, roundEnd, round };
  }

  it('Graph down for 30 s after deploy: changes made meanwhile come out once each with their type; older objects never', async () => {
    // Older than the deploy (two seconds back on Graph's clock: whole-second dates, another second than the deploy's).
    clock().advance(-2000);
    const oldMail = String(store().createMessage(user(), { subject: 'old mail' }).id);
    const oldMailEdited = String(store().createMessage(user(), { subject: 'old mail, edited during the outage' }).id);
    store().createDriveItem(user(), { name: 'old.txt', content: 'old' });
    store().createEvent(user(), { subject: 'old event' });
    store().createContact(user(), { displayName: 'Old Contact' });
    clock().advance(2000);
    // Graph answers 503 (Retry-After: 0, so the client's retries are quick) from the deploy on.
    sim().state.graph.faults.add({ kind: 'unavailable', count: 1_000_000, path: '^/v1\\.0/', retryAfterSeconds: 0 });

    const deployedAt = Date.now();
    const { events, roundEnd, round } = await load();
    const recorded = await waitFor('the starting point in the state file', async () => {
      const text = await fsp.readFile(stateFile(), 'utf8').catch(() => undefined);
      return text ? (JSON.parse(text) as PollerState) : undefined;
    });
    assert.deepEqual(Object.keys(recorded.cursors).sort(), ['contacts', 'driveItems', 'events', 'messages']);
    for (const cursor of Object.values(recorded.cursors)) {
      assert.equal(cursor.mode, 'start');
      assert.ok(cursor.mode === 'start' && Math.abs(cursor.startedAt - deployedAt) < 5000, JSON.stringify(cursor));
    }
    assert.match(await roundEnd(), /^error/, 'the poll at deploy fails: Graph answers 503');

    clock().advance(10_000);
    const mail = String(store().createMessage(user(), { subject: 'new mail' }).id);
    const file = String(store().createDriveItem(user(), { name: 'new.txt', content: 'new' }).id);
    const event = String(store().createEvent(user(), { subject: 'new event' }).id);
    const contact = String(store().createContact(user(), { displayName: 'New Contact' }).id);
    store().updateMessage(user(), oldMailEdited, { isRead: true });
    assert.match(await round(), /^error/, 'still down');
    const stillStart = JSON.parse(await fsp.readFile(stateFile(), 'utf8')) as PollerState;
    assert.ok(Object.values(stillStart.cursors).every((c) => c.mode === 'start'), 'a failed round keeps the starting point');

    clock().advance(20_000);
    sim().state.graph.faults.clear(); // Graph is back, 30 s after the deploy
    assert.match(await round(), /: 5 events$/);
    const got = events.map((e) => [e.objectType, e.objectId, e.eventType]).sort();
    const want = [
      ['contacts', contact, 'CREATED'],
      ['driveItems', file, 'CREATED'],
      ['events', event, 'CREATED'],
      ['messages', mail, 'CREATED'],
      ['messages', oldMailEdited, 'UPDATED'],
    ].sort();
    assert.deepEqual(got, want);
    assert.ok(!events.some((e) => e.objectId === oldMail), 'an object older than the deploy is never emitted');

    clock().advance(2000);
    assert.match(await round(), /: 0 events$/, 'each once');
    clock().advance(1000);
    const later = String(store().createMessage(user(), { subject: 'later' }).id);
    clock().advance(1000);
    assert.match(await round(), /: 1 event$/);
    assert.deepEqual(events.slice(5).map((e) => [e.objectId, e.eventType]), [[later, 'CREATED']]);
  });

  it('the identity platform refusing tokens after deploy: a mail made meanwhile still comes out once', async () => {
    const identityFaults = `${sim().controlUrl}/identity/faults`;
    await axios.post(identityFaults, { kind: 'tokenError', error: 'temporarily_unavailable', status: 503, count: 1000 });
    try {
      const { events, roundEnd, round } = await load({ messages: CONFIGURATION.messages });
      assert.match(await roundEnd(), /^error/, 'no token: the poll at deploy fails (after the token manager\'s own backoff, a few real seconds)');
      clock().advance(5000);
      const mail = String(store().createMessage(user(), { subject: 'while tokens were refused' }).id);
      await axios.delete(identityFaults);
      assert.match(await round(), /: 1 event$/);
      assert.deepEqual(events.map((e) => [e.objectId, e.eventType]), [[mail, 'CREATED']]);
    } finally {
      await axios.delete(identityFaults);
    }
  });

  it('a restart during the outage keeps the recorded starting point: the change made before it still comes out once', async () => {
    sim().state.graph.faults.add({ kind: 'unavailable', count: 1_000_000, path: '^/v1\\.0/', retryAfterSeconds: 0 });
    const first = await load();
    const recorded = await waitFor('the starting point in the state file', async () => {
      const text = await fsp.readFile(stateFile(), 'utf8').catch(() => undefined);
      return text ? (JSON.parse(text) as PollerState) : undefined;
    });
    assert.match(await first.roundEnd(), /^error/);
    clock().advance(5000);
    const mail = String(store().createMessage(user(), { subject: 'before the restart' }).id);
    await helper.unload(); // memory-only context: only the state file remembers the starting point
    const second = await load();
    assert.match(await second.roundEnd(), /^error/, 'still down after the restart');
    const kept = JSON.parse(await fsp.readFile(stateFile(), 'utf8')) as PollerState;
    assert.deepEqual(kept.cursors, recorded.cursors, 'the restart did not take a new starting point');
    sim().state.graph.faults.clear();
    assert.match(await second.round(), /: 1 event$/);
    assert.deepEqual(second.events.map((e) => [e.objectId, e.eventType]), [[mail, 'CREATED']]);
  });

  it('a resource added to the configuration starts at that redeploy; the others keep their cursors', async () => {
    // Graph's clock 5 s behind ours: a new connector takes the starting point on our clock (README), so objects made
    // on Graph's clock before the redeploy are before it.
    clock().advance(-5000);
    const first = await load({ messages: CONFIGURATION.messages });
    assert.match(await first.roundEnd(), /: 0 events$/);
    await helper.unload();
    clock().advance(1000);
    const mail = String(store().createMessage(user(), { subject: 'while redeploying' }).id);
    store().createContact(user(), { displayName: 'Before The Contacts Resource' });
    const redeployedAt = Date.now();
    const second = await load({ messages: CONFIGURATION.messages, contacts: CONFIGURATION.contacts }, false);
    const state = await waitFor('the new resource recorded', async () => {
      const saved = JSON.parse(await fsp.readFile(stateFile(), 'utf8')) as PollerState;
      return saved.cursors.contacts && saved;
    });
    assert.equal(state.cursors.messages?.mode, 'delta', 'kept');
    assert.ok(state.cursors.contacts?.mode === 'start' && state.cursors.contacts.startedAt >= redeployedAt - 1000);
    assert.match(await second.round(), /: 1 event$/);
    assert.deepEqual(second.events.map((e) => [e.objectType, e.objectId, e.eventType]), [['messages', mail, 'CREATED']]);
  });

  it('msg.reset records a new starting point at once, before any Graph call', async () => {
    const { round } = await load();
    await waitFor('the first starting point', () => fsp.readFile(stateFile(), 'utf8').catch(() => undefined));
    assert.match(await round(), /event/);
    sim().state.graph.faults.add({ kind: 'unavailable', count: 1_000_000, path: '^/v1\\.0/', retryAfterSeconds: 0 });
    const poller = helper.getNode('p1') as unknown as Spied;
    const resetAt = Date.now();
    poller.receive({ reset: true });
    const reset = await waitFor('the reset starting point in the state file', async () => {
      const state = JSON.parse(await fsp.readFile(stateFile(), 'utf8')) as PollerState;
      return Object.values(state.cursors).every((c) => c.mode === 'start' && c.startedAt >= resetAt - 1000) && state;
    });
    assert.equal(Object.keys(reset.cursors).length, 4);
  });
});
