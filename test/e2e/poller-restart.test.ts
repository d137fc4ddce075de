/**
 * The poller on a real Node-RED process (packed package, file context store): changes made while Node-RED is
 * stopped come out after the restart, and nothing emitted before the restart comes out again. Events are observed
 * at a loopback callback receiver through ms365-callback-out.
 */
import assert from 'node:assert/strict';
import { startNodeRed, waitUntil, type NodeRedProcess } from '../support/nodered-process';
import { useSimulator } from '../support/simulator';
import { connectorFlowNode, nextSecond } from '../support/connector';
import { startCallbackReceiver, type CallbackReceiver } from '../support/callback-receiver';

describe('e2e: ms365-poller across a Node-RED restart (Node-RED 4.1)', function () {
  this.timeout(120_000);
  const sim = useSimulator();
  let nr: NodeRedProcess;
  let receiver: CallbackReceiver;

  before(async () => {
    receiver = await startCallbackReceiver();
    nr = await startNodeRed({ version: 4 });
    await waitUntil('first flow start', () => /Started flows/.test(nr.log()));
  });
  after(async () => {
    await nr?.dispose();
    await receiver.close();
  });

  it('emits each change once: before, during and after a restart', async () => {
    const store = sim().state.graph.store;
    const user = sim().state.defaultUser.id;
    store.createMessage(user, { subject: 'existed before the poller' });
    await nextSecond(); // older than the poller's starting point (whole-second dates: README "Starting point")
    const events = () => receiver.events();
    await nr.deploy([
      { id: 'tab', type: 'tab', label: 'e2e' },
      (() => {
        const { node, credentials, id } = connectorFlowNode(sim(), { id: 'conn', name: 'E2E', elementKey: 'outlookemail', userId: user });
        return { ...node, credentials: credentials[id] };
      })(),
      { id: 'poll', type: 'ms365-poller', z: 'tab', connector: 'conn', interval: 0.02, timezone: 'UTC', configuration: '', pollOnStart: true, wires: [['out']] },
      { id: 'out', type: 'ms365-callback-out', z: 'tab', url: `${receiver.url}/events`, batchSize: 1, retries: 5, wires: [[], []] },
    ]);
    // Wait for the starting point (the first poll), then make a change.
    await waitUntil('first poll', () => sim().state.graph.requests.list(/messages\/delta/).length >= 1, 20_000);
    const first = store.createMessage(user, { subject: 'first' });
    await waitUntil('first CREATED', () => events().some((e) => e.objectId === first.id), 20_000);

    await nr.stop();
    const during = store.createMessage(user, { subject: 'while stopped' });
    store.updateMessage(user, String(first.id), { isRead: true });
    await nr.restart();
    await waitUntil('change made while stopped', () => events().some((e) => e.objectId === during.id), 30_000);
    await waitUntil('update made while stopped', () => events().some((e) => e.objectId === first.id && e.eventType === 'UPDATED'), 30_000);
    // A few more polls: nothing repeats.
    const polls = sim().state.graph.requests.list(/messages\/delta/).length;
    await waitUntil('three more polls', () => sim().state.graph.requests.list(/messages\/delta/).length >= polls + 3, 20_000);

    const summary = events().map((e) => `${e.eventType} ${e.objectId}`);
    assert.deepEqual(summary.sort(), [`CREATED ${first.id}`, `CREATED ${during.id}`, `UPDATED ${first.id}`].sort());
    assert.equal(new Set(events().map((e) => e.eventId)).size, events().length);
  });
});
