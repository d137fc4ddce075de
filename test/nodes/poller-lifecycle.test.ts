/**
 * ms365-poller lifecycle on a real Node-RED runtime (test helper) against the simulated tenant: a missing connector
 * starts nothing, a failed poll triggered by a message reaches done(err) with that message (Catch nodes), close aborts
 * an in-flight request without sending or saving anything, and msg.reset arriving during a poll still resets.
 */
import assert from 'node:assert/strict';
import type { NodeMessage } from 'node-red';
import { helper, allNodes, useNodeRed } from '../support/node-red-helper';
import { useSimulator } from '../support/simulator';
import { connectorFlowNode, nextSecond, waitFor } from '../support/connector';
import type { Ms365Event } from '../../src/core/events';

type Spied = NodeJS.EventEmitter & { receive(msg: Record<string, unknown>): void };
interface StatusArg { fill?: string; text?: string }

describe('ms365-poller lifecycle (node, against the simulator)', function () {
  this.timeout(30_000);
  const sim = useSimulator();
  useNodeRed();

  const user = () => sim().state.defaultUser.id;
  const store = () => sim().state.graph.store;
  const graphRequests = () => sim().state.graph.requests.count;
  /** The injected delay fault was taken by a request (the request log records a request only when it ends). */
  const faultTaken = () => sim().state.graph.faults.list().length === 0 || undefined;

  async function load(configuration: unknown, extra: Record<string, unknown> = {}) {
    await nextSecond(); // the mails of earlier tests are older than this poller's starting point (whole-second dates)
    const { node: conn, credentials } = connectorFlowNode(sim(), { elementKey: 'outlookemail' });
    const flow = [
      conn,
      { id: 'p1', type: 'ms365-poller', connector: conn.id, interval: 60, timezone: 'UTC', configuration: JSON.stringify(configuration), pollOnStart: false, wires: [['out']], ...extra },
      { id: 'out', type: 'helper' },
    ];
    await helper.load(allNodes, flow, credentials);
    const events: Ms365Event[] = [];
    helper.getNode('out').on('input', (msg: NodeMessage) => events.push(msg.payload as Ms365Event));
    const poller = helper.getNode('p1') as unknown as Spied;
    const statuses: StatusArg[] = [];
    poller.on('call:status', (call: { args: StatusArg[] }) => statuses.push(call.args[0] ?? {}));
    /** Resolves at the next end-of-round status ("hh:mm:ss: N events" or "error hh:mm:ss"). */
    const roundEnd = () => waitFor('end of a poll round', () => {
      const i = statuses.findIndex((s) => /^\d\d:\d\d:\d\d: \d+ event|^error \d/.test(s.text ?? ''));
      return i >= 0 && statuses.splice(0, i + 1)[i];
    }, 15_000);
    return { poller, events, statuses, roundEnd };
  }

  it('missing connector: red "no connector" status, one error, and no Graph request ever', async () => {
    const before = graphRequests();
    const flow = [{ id: 'p1', type: 'ms365-poller', connector: 'nope', interval: 0.01, timezone: 'UTC', configuration: '', pollOnStart: true, wires: [[]] }];
    await helper.load(allNodes, flow);
    const poller = helper.getNode('p1') as unknown as { status: { args: StatusArg[][] }; error: { args: unknown[][] } };
    assert.ok(poller.status.args.some(([s]) => s?.fill === 'red' && s.text === 'no connector'), JSON.stringify(poller.status.args));
    assert.match(String(poller.error.args[0]?.[0]), /Missing Microsoft 365 connector/);
    // interval 0.01 min = 600 ms: had a timer been armed it would have fired by the time a mailbox change is polled.
    store().createMessage(user(), { subject: 'unseen' });
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(graphRequests(), before);
    assert.equal(poller.error.args.length, 1);
  });

  it('a poll triggered by a message that fails → done(err) with that message (Catch nodes) and a red status', async () => {
    const { poller, roundEnd } = await load({ messages: { url: '/me/mailFolders/no-such-folder/messages/delta' } });
    const errored = new Promise<unknown[]>((resolve) => poller.once('call:error', (call: { args: unknown[] }) => resolve(call.args)));
    poller.receive({ payload: 'go', marker: 42 });
    const end = await roundEnd();
    assert.equal(end.fill, 'red');
    const [err, msg] = await errored;
    assert.match(String(err), /messages/);
    assert.equal((msg as { marker?: number } | undefined)?.marker, 42, 'the error carries the triggering message');
  });

  it('close during an in-flight poll: the request is aborted, close completes, nothing is sent', async () => {
    const { poller, events, roundEnd } = await load({});
    poller.receive({});
    await roundEnd(); // starting point
    store().createMessage(user(), { subject: 'in flight' });
    sim().state.graph.faults.add({ kind: 'delay', count: 1, delayMs: 20_000 });
    poller.receive({});
    await waitFor('the delayed request reached the simulator', faultTaken);
    const unloaded = helper.unload().then(() => 'closed');
    const outcome = await Promise.race([unloaded, new Promise((r) => setTimeout(() => r('still open'), 10_000))]);
    assert.equal(outcome, 'closed', 'close did not wait for the 20 s response');
    assert.deepEqual(events, []);
  });

  it('msg.reset during a running poll still resets: its starting point is the reset, the running round does not overwrite it', async () => {
    const { poller, events, roundEnd } = await load({});
    poller.receive({});
    await roundEnd(); // starting point
    const faults = sim().state.graph.faults;
    store().createMessage(user(), { subject: 'before reset' });
    faults.add({ kind: 'delay', count: 1, delayMs: 1500 });
    poller.receive({}); // slow round: emits "before reset"
    await waitFor('the slow round started', faultTaken);
    await nextSecond(); // the reset comes in a later second than the mails before it (whole-second dates)
    faults.add({ kind: 'delay', count: 1, delayMs: 500 }); // slows the round that follows the reset
    poller.receive({ reset: true }); // arrives while the slow round runs
    await roundEnd(); // the slow round
    await waitFor('the round after the reset started', faultTaken);
    // CONTRACT: the starting point is taken when msg.reset arrives, not when the round after it succeeds. A second
    // later (whole-second dates: the reset's own second is taken for before it), a mail is a change after it.
    sim().state.clock.advance(1500);
    store().createMessage(user(), { subject: 'after the reset, before its round read the mailbox' });
    await roundEnd(); // the reset round: from the reset's starting point
    poller.receive({});
    await roundEnd();
    store().createMessage(user(), { subject: 'after reset' });
    poller.receive({});
    await roundEnd();
    await waitFor('the new mail delivered', () => events.some((e) => (e.raw as { subject?: string }).subject === 'after reset') || undefined);
    const subjects = events.map((e) => (e.raw as { subject?: string }).subject);
    assert.deepEqual(subjects, ['before reset', 'after the reset, before its round read the mailbox', 'after reset']);
  });
});
