/**
 * ms365-poller state file (`core/changes/poller-state.ts`) on a real Node-RED runtime (test helper with a user
 * directory) against the simulated tenant: the cursor reaches `<userDir>/.ms365-events/poller-<id>.json` and node
 * context; a restart with memory-only context resumes from the file (no new starting point, nothing missed); events
 * a crash left pending are sent again first, with their eventIds; a graceful stop clears them; an unreadable file
 * is reported and the context is used.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { NodeMessage } from 'node-red';
import { helper, allNodes, useNodeRed, useTempUserDir } from '../support/node-red-helper';
import { useSimulator } from '../support/simulator';
import { connectorFlowNode, nextSecond, waitFor } from '../support/connector';
import type { Ms365Event } from '../../src/core/events';
import type { PollerState } from '../../src/core/changes/poller-state';

type Spied = NodeJS.EventEmitter & { receive(msg: Record<string, unknown>): void; warn: { args: unknown[][] } };
interface StatusArg { fill?: string; text?: string }

describe('ms365-poller state file (node, against the simulator)', function () {
  this.timeout(30_000);
  const sim = useSimulator();
  useNodeRed();
  const userDir = useTempUserDir('ms365-poller-state-');

  const user = () => sim().state.defaultUser.id;
  const store = () => sim().state.graph.store;
  const stateFile = () => path.join(userDir(), '.ms365-events', 'poller-p1.json');
  const readState = async () => JSON.parse(await fsp.readFile(stateFile(), 'utf8')) as PollerState & { format: number };

  async function load() {
    await nextSecond(); // the mails of earlier tests are older than this poller's starting point (whole-second dates)
    const { node: conn, credentials } = connectorFlowNode(sim(), { elementKey: 'outlookemail' });
    const flow = [
      conn,
      { id: 'p1', type: 'ms365-poller', connector: conn.id, interval: 60, timezone: 'UTC', configuration: '', pollOnStart: false, wires: [['out']] },
      { id: 'out', type: 'helper' },
    ];
    await helper.load(allNodes, flow, credentials);
    const events: Ms365Event[] = [];
    helper.getNode('out').on('input', (msg: NodeMessage) => events.push(msg.payload as Ms365Event));
    const poller = helper.getNode('p1') as unknown as Spied;
    const statuses: StatusArg[] = [];
    poller.on('call:status', (call: { args: StatusArg[] }) => statuses.push(call.args[0] ?? {}));
    const round = async () => {
      const seen = statuses.length;
      poller.receive({});
      await waitFor('end of a poll round', () => statuses.slice(seen).some((s) => /^\d\d:\d\d:\d\d: \d+ event|^error \d/.test(s.text ?? '')), 15_000);
    };
    return { poller, events, round };
  }

  it('a poll writes the cursor to the state file and to node context, with the same seq', async () => {
    const { round } = await load();
    await round();
    const saved = await readState();
    assert.equal(saved.format, 1);
    assert.ok(saved.seq >= 1);
    assert.equal(saved.cursors.messages?.mode, 'delta');
    const context = helper.getNode('p1').context().get('pollerState') as { seq: number; cursors: Record<string, unknown> };
    assert.equal(context.seq, saved.seq);
    assert.deepEqual(context.cursors, saved.cursors);
  });

  it('restart with memory-only context: resumes from the file, so a change made while stopped comes out', async () => {
    const first = await load();
    await first.round(); // starting point
    await helper.unload(); // memory context is gone
    const made = store().createMessage(user(), { subject: 'while stopped' });
    const second = await load();
    await second.round();
    assert.deepEqual(second.events.map((e) => [e.objectId, e.eventType]), [[String(made.id), 'CREATED']]);
  });

  it('events left pending by a crash are sent again first (same eventIds), then polling resumes from the cursor', async () => {
    const first = await load();
    await first.round(); // starting point
    store().createMessage(user(), { subject: 'sent, then crash' });
    await first.round();
    assert.equal(first.events.length, 1);
    const sent = first.events[0] as Ms365Event;
    await helper.unload(); // a graceful stop clears pending…
    assert.deepEqual((await readState()).pending, []);
    // …a crash between the save and the send leaves them in the file: write that file.
    const crashed = await readState();
    await fsp.writeFile(stateFile(), JSON.stringify({ ...crashed, pending: [sent] }));
    const later = store().createMessage(user(), { subject: 'after the crash' });
    const second = await load();
    await waitFor('the pending event sent again', () => second.events.length >= 1);
    assert.equal(second.events[0]?.eventId, sent.eventId);
    await second.round();
    assert.deepEqual(second.events.slice(1).map((e) => [e.objectId, e.eventType]), [[String(later.id), 'CREATED']]);
  });

  it('an unreadable state file: a readable warning, the context cursor (none here) is used: a new starting point', async () => {
    await fsp.mkdir(path.dirname(stateFile()), { recursive: true });
    await fsp.writeFile(stateFile(), '{"format":1,"seq":3,"cur');
    const { poller, events, round } = await load();
    await round();
    assert.ok(poller.warn.args.some(([w]) => /poller state file .* is not JSON; using the cursor in node context/.test(String(w))), JSON.stringify(poller.warn.args));
    assert.deepEqual(events, []);
    assert.equal((await readState()).cursors.messages?.mode, 'delta', 'the next save replaces the unreadable file');
  });
});
