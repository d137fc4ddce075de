/**
 * ms365-poller and ms365-connector with an `ms365-cluster` (issue 17) on a real Node-RED runtime (test helper), a
 * real redis-server and the simulated tenant. The other instances of the cluster are played by the test with their
 * own shared-state clients (other owner ids) on the same Redis: they hold leases and write records as a Node-RED
 * instance would. Covered: the starting point recorded in Redis at deploy, before any Graph call; cursor and pending
 * events stored before the send; standby while another instance owns the resource; a take-over resends the pending
 * events (same eventIds) and continues from the cursor; a stale owner's write is refused and nothing is sent; the
 * token in Redis (sealed, versioned), no token file; a missing cluster node or an unreachable Redis is a red status
 * and an error, never the file mode.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { NodeMessage, NodeStatus } from 'node-red';
import { helper, allNodes, useNodeRed, useTempUserDir } from '../support/node-red-helper';
import { useSimulator } from '../support/simulator';
import { connectorFlowNode, waitFor } from '../support/connector';
import { freePort, useRedisServer, useRedisStates } from '../support/redis';
import type { Ms365Event } from '../../src/core/events';
import { leaseNames, StaleFenceError, type RedisSharedState } from '../../src/core/state';
import { startCursor } from '../../src/core/changes';
import type { ConnectorNode } from '../../src/nodes/shared/connector-api';

const clusterModule = require('../../src/nodes/ms365-cluster');
const LEASE_MS = 3_000;

type Spied = NodeJS.EventEmitter & { receive(msg: Record<string, unknown>): void };

describe('ms365-poller and ms365-connector with a cluster (node, real redis-server, simulator)', function () {
  this.timeout(40_000);
  const redis = useRedisServer();
  const sim = useSimulator();
  useNodeRed();
  const userDir = useTempUserDir('ms365-poller-cluster-');
  const states = useRedisStates(redis, 'pc');
  beforeEach(() => helper.settings({ userDir: userDir(), ms365ClusterLeaseMs: LEASE_MS } as unknown as Parameters<typeof helper.settings>[0]));

  const user = () => sim().state.defaultUser.id;
  const store = () => sim().state.graph.store;
  const name = leaseNames.poller('p1', 'messages');
  const deltaPolls = () => sim().state.graph.requests.list(/messages\/delta/).length;

  async function load(options: { clusterUrl?: string; withCluster?: boolean; interval?: number } = {}) {
    const { node: conn, credentials } = connectorFlowNode(sim(), { elementKey: 'outlookemail', cluster: 'cl1' });
    const flow: Array<{ id: string; type: string; [key: string]: unknown }> = [
      conn,
      { id: 'p1', type: 'ms365-poller', connector: conn.id, interval: options.interval ?? 60, timezone: 'UTC', configuration: '', pollOnStart: false, wires: [['out']] },
      { id: 'out', type: 'helper' },
    ];
    if (options.withCluster !== false) flow.unshift({ id: 'cl1', type: 'ms365-cluster', url: options.clusterUrl ?? redis().url, prefix: states.prefix() });
    await helper.load([clusterModule, ...allNodes], flow, credentials);
    const events: Ms365Event[] = [];
    helper.getNode('out').on('input', (msg: NodeMessage) => events.push(msg.payload as Ms365Event));
    const poller = helper.getNode('p1') as unknown as Spied;
    const statuses: NodeStatus[] = [];
    poller.on('call:status', (call: { args: NodeStatus[] }) => statuses.push(call.args[0] ?? {}));
    /** The poll the take-over of the resource starts by itself. */
    const firstPoll = () => waitFor('first poll as owner', () => statuses.some((s) => /^\d\d:\d\d:\d\d: \d+ event/.test(String(s.text ?? ''))), 10_000);
    const round = async () => {
      const seen = statuses.length;
      poller.receive({});
      await waitFor('end of a poll round', () => statuses.slice(seen).some((s) => /^\d\d:\d\d:\d\d: \d+ event|^error \d|^standby|^cluster unavailable/.test(String(s.text ?? ''))), 15_000);
    };
    return { poller, events, statuses, round, firstPoll };
  }

  /** Token files (the key file of a runtime without a credentialSecret aside). */
  const tokenFiles = () => {
    const dir = path.join(userDir(), '.ms365-events', 'tokens');
    return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f !== '.key') : [];
  };

  /** Another instance of the cluster (its own owner id) on the same Redis. */
  const other = (): Promise<RedisSharedState> => states.open('other-instance');

  it('records the starting point in Redis at deploy before any Graph call, stores cursor and events before the send; the token lives in Redis, sealed', async () => {
    const observer = await other();
    const { events, round, firstPoll } = await load();
    const start = await waitFor('start cursor in Redis', async () => (await observer.cursors.read(name))?.value);
    assert.equal(start.cursor?.mode, 'start');
    assert.deepEqual(start.pending, []);
    await firstPoll();
    const firstCall = sim().state.graph.requests.list(/messages\/delta/)[0]!;
    assert.ok(start.cursor.mode === 'start' && start.cursor.startedAt <= Date.parse(String(firstCall.at)), 'the starting point was taken before the first Graph call');
    const holder = await observer.leases.holder(name);
    assert.ok(holder && holder.owner !== 'other-instance');

    const made = store().createMessage(user(), { subject: 'cluster 1' });
    await round();
    assert.deepEqual(events.map((e) => [e.objectId, e.eventType]), [[String(made.id), 'CREATED']]);
    const after = (await observer.cursors.read(name))?.value;
    assert.equal(after?.cursor?.mode, 'delta');
    assert.deepEqual(after?.pending, [], 'pending cleared after the send');

    const token = await observer.tokens.read('ms365conn1');
    assert.ok(token && token.version >= 1, 'token record in Redis with a version');
    const conn = helper.getNode('ms365conn1') as unknown as ConnectorNode;
    assert.ok(conn.cluster, 'the connector exposes its cluster');
    assert.ok(!token.value.includes('sim-at-'), 'the access token is sealed in Redis (simulator tokens start with sim-at-)');
    assert.deepEqual(tokenFiles(), [], 'no token file in cluster mode');
    assert.ok(!fs.existsSync(path.join(userDir(), '.ms365-events', 'poller-p1.json')), 'no poller state file in cluster mode');
  });

  it('standby while another instance owns the resource; on take-over resends its pending events (same eventIds), then continues from its cursor', async () => {
    // A first deploy makes a real cursor and a real event; then "another instance" owns the record with that event pending.
    const observer = await other();
    const first = await load();
    await first.firstPoll();
    const made = store().createMessage(user(), { subject: 'left pending by the other instance' });
    await first.round();
    // (Objects of earlier tests made in the starting point's second come out too: main's rule for that second.)
    const pendingEvent = first.events.find((e) => e.objectId === String(made.id));
    assert.ok(pendingEvent);
    const record = (await observer.cursors.read(name))!.value;
    await helper.unload(); // a graceful stop releases the lease
    const lease = await waitFor('the lease released', () => observer.leases.acquire(name, 60_000), 1_000);
    await observer.cursors.save(lease, { cursor: record.cursor, pending: [pendingEvent] });

    const second = await load();
    await second.round();
    const standby = second.statuses.at(-1);
    assert.deepEqual(standby, { fill: 'grey', shape: 'ring', text: 'standby (owner: other-instance)' });
    assert.equal(second.events.length, 0, 'a non-owner emits nothing');

    const later = store().createMessage(user(), { subject: 'after the take-over' });
    await observer.leases.release(lease);
    await waitFor('pending resent by the new owner', () => second.events.length >= 1, 10_000);
    assert.deepEqual(second.events[0], pendingEvent, 'the pending event first, same eventId');
    await waitFor('the change made meanwhile', () => second.events.some((e) => e.objectId === String(later.id)), 10_000);
    const again = second.events.filter((e) => e.objectId === String(made.id));
    assert.deepEqual([...new Set(again.map((e) => e.eventId))], [pendingEvent.eventId], 'continues from the cursor (no new starting point, no new event)');
  });

  it('a stale owner: its write is refused, it sends nothing, re-acquires and resends what the new owner left pending', async () => {
    const observer = await other();
    const { events, round, firstPoll } = await load();
    await firstPoll();
    // Its lease lapses and another instance takes over (as after a pause longer than the TTL).
    await observer.client.del(observer.keys.lease(name));
    const lease = await observer.leases.acquire(name, 60_000);
    assert.ok(lease);
    const made = store().createMessage(user(), { subject: 'seen by the stale owner' });
    await round();
    assert.equal(events.length, 0, 'nothing sent after the refused write');
    const stored = (await observer.cursors.read(name))!;
    assert.equal(stored.fence, lease.fence - 1, 'the stale owner did not write');
    assert.equal(stored.value.cursor?.mode, 'delta', 'cursor not moved by the refused write');
    assert.deepEqual(stored.value.pending, []);
    await observer.leases.release(lease);
    await waitFor('taken back, the change emitted', () => events.some((e) => e.objectId === String(made.id)), 10_000);
    assert.equal(new Set(events.filter((e) => e.objectId === String(made.id)).map((e) => e.eventId)).size, 1, 'one event (a repeat only with its eventId)');
  });

  it('msg.reset on a standby instance resets the resource in Redis for the cluster: the owner\'s next write is refused (reason reset)', async () => {
    const observer = await other();
    const lease = (await observer.leases.acquire(name, 60_000))!;
    const delta = { mode: 'delta', deltaLink: 'https://graph.microsoft.com/v1.0/old-delta' } as const;
    await observer.cursors.save(lease, { cursor: delta as never, pending: [] });
    const { poller, round, statuses } = await load();
    await round();
    assert.ok(statuses.some((s) => s.text === 'standby (owner: other-instance)'), 'standing by');
    const before = Date.now();
    poller.receive({ reset: true });
    const reset = await waitFor('the reset in Redis', async () => {
      const stored = await observer.cursors.read(name);
      return stored?.value.cursor?.mode === 'start' ? stored : undefined;
    });
    assert.ok(reset.value.cursor?.mode === 'start' && Math.abs(reset.value.cursor.startedAt - before) < 5_000, 'a new starting point, now');
    assert.ok(reset.fence > lease.fence, 'written with a fresh fencing number');
    await assert.rejects(observer.cursors.save(lease, { cursor: delta as never, pending: [] }), (err: unknown) => err instanceof StaleFenceError && err.reason === 'reset');
    assert.equal((await observer.cursors.read(name))!.value.cursor?.mode, 'start', 'the owner\'s late cursor did not land');
  });

  it('msg.reset reaching another instance: the owner sends nothing of its round, takes the lease again and goes on from the new starting point', async () => {
    const observer = await other();
    const { events, round, firstPoll, poller } = await load();
    await firstPoll();
    const warnings: string[] = [];
    (poller as unknown as NodeJS.EventEmitter).on('call:warn', (call: { args: unknown[] }) => warnings.push(String(call.args[0])));
    const ownerFence = (await observer.leases.holder(name))!.fence;
    const old = store().createMessage(user(), { subject: 'before the reset' });
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // a later second (dates are whole seconds)
    await observer.cursors.reset(name, { cursor: startCursor(Date.now()), pending: [] }); // what another instance's msg.reset writes
    const later = store().createMessage(user(), { subject: 'after the reset' });
    await round();
    await waitFor('the change after the reset', () => events.some((e) => e.objectId === String(later.id)), 10_000);
    assert.equal(events.filter((e) => e.objectId === String(old.id)).length, 0, 'nothing from before the reset');
    assert.ok((await observer.leases.holder(name))!.fence > ownerFence, 'the lease taken again with a higher fencing number');
    assert.deepEqual(warnings, [], 'a reset is no error');
  });

  it('a connector whose cluster node is missing: red "cluster node missing" and an error; no token file', async () => {
    await load({ withCluster: false });
    const conn = helper.getNode('ms365conn1') as unknown as ConnectorNode;
    assert.deepEqual(conn.currentStatus(), { fill: 'red', shape: 'ring', text: 'cluster node missing' });
    assert.deepEqual(tokenFiles(), []);
  });

  it('a connector whose Redis is unreachable: red "cluster unavailable" and one readable error, no fall-back to files', async () => {
    const port = await freePort();
    const polls = deltaPolls();
    const { round, statuses } = await load({ clusterUrl: `redis://127.0.0.1:${port}` });
    await round();
    assert.deepEqual(statuses.at(-1), { fill: 'red', shape: 'ring', text: 'cluster unavailable' }, 'the poller: red, not a standby or a poll');
    const conn = helper.getNode('ms365conn1') as unknown as ConnectorNode;
    await waitFor('red status', () => conn.currentStatus().text === 'cluster unavailable', 10_000);
    const errors = helper
      .log()
      .args.map((a: unknown[]) => a[0] as { level?: number; msg?: unknown; type?: string })
      .filter((e: { level?: number; type?: string }) => e?.type === 'ms365-connector' && e.level === 20)
      .map((e: { msg?: unknown }) => String(e.msg));
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /^ms365-connector: the cluster's Redis is not usable: Redis at redis:\/\/127\.0\.0\.1:\d+ is unreachable/);
    assert.deepEqual(tokenFiles(), []);
    assert.ok(!fs.existsSync(path.join(userDir(), '.ms365-events', 'poller-p1.json')), 'no poller state file');
    assert.equal(deltaPolls(), polls, 'no Graph call');
  });
});
