/**
 * ms365-poller given a URL Graph cannot serve (issue 14, `core/opencon/graph-limits.ts`): a red status and a
 * node.error naming the limit and what to use instead, at deploy, and no Graph request; a drive item that is a file
 * is refused on the first poll, naming the limit, without a delta request.
 */
import assert from 'node:assert/strict';
import { helper, allNodes, useNodeRed } from '../support/node-red-helper';
import { useSimulator } from '../support/simulator';
import { connectorFlowNode, waitFor } from '../support/connector';

describe('ms365-poller: URLs Graph cannot serve (node, against the simulator)', function () {
  this.timeout(30_000);
  const sim = useSimulator();
  useNodeRed();

  beforeEach(() => {
    sim().state.graph.reset();
    sim().state.clock.reset();
  });

  async function deploy(elementKey: 'outlookemail' | 'onedrivev2', url: string) {
    const { node: conn, credentials } = connectorFlowNode(sim(), { elementKey });
    const statuses: Array<{ fill?: string; text?: string }> = [];
    const errors: string[] = [];
    const flow = [
      conn,
      { id: 'p1', type: 'ms365-poller', connector: conn.id, interval: 1 / 60, timezone: 'UTC', configuration: JSON.stringify({ items: { url } }), pollOnStart: true, wires: [[]] },
    ];
    // Listeners on the prototype's calls are attached once the node exists: record from its construction on.
    sim().state.graph.requests.clear();
    await helper.load(allNodes, flow, credentials);
    const poller = helper.getNode('p1') as unknown as NodeJS.EventEmitter & { status: (s: unknown) => void; error: (e: unknown) => void };
    poller.on('call:status', (call: { args: Array<{ fill?: string; text?: string }> }) => statuses.push(call.args[0] ?? {}));
    poller.on('call:error', (call: { args: unknown[] }) => errors.push(String(call.args[0])));
    return { statuses, errors, poller };
  }

  it('/me/messages/delta: red status and node.error naming the limit at deploy; no Graph request', async () => {
    const { node: conn, credentials } = connectorFlowNode(sim(), { elementKey: 'outlookemail' });
    sim().state.graph.requests.clear();
    const flow = [
      conn,
      { id: 'p1', type: 'ms365-poller', connector: conn.id, interval: 1 / 60, timezone: 'UTC', configuration: JSON.stringify({ mail: { url: '/me/messages/delta' } }), pollOnStart: true, wires: [[]] },
    ];
    await helper.load(allNodes, flow, credentials);
    // The refusal happens in the constructor: read what the runtime recorded on the node's spies.
    // The helper's spies are shared by every node: keep the calls made on this one.
    type Spy = { getCalls(): Array<{ thisValue: unknown; args: unknown[] }> };
    const poller = helper.getNode('p1') as unknown as { status: Spy; error: Spy };
    const own = (spy: Spy) => spy.getCalls().filter((c) => c.thisValue === poller).map((c) => c.args[0]);
    const status = own(poller.status) as Array<{ fill?: string; text?: string }>;
    const errors = own(poller.error).map(String);
    // The connector shows its status on registration; the poller's red one comes last and stays.
    assert.deepEqual(status[status.length - 1], { fill: 'red', shape: 'ring', text: 'invalid configuration' });
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /configuration\.mail\.url: \/me\/messages\/delta: Graph has no mailbox-wide message delta/);
    assert.match(errors[0]!, /use \/me\/mailFolders\/\{folder\}\/messages\/delta, e\.g\. \/me\/mailFolders\/inbox\/messages\/delta/);
    // A second of intervals later: not one Graph request (the poller never started).
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.deepEqual(sim().state.graph.requests.list().map((r) => r.path), []);
    const later = own(poller.status);
    assert.deepEqual(later[later.length - 1], { fill: 'red', shape: 'ring', text: 'invalid configuration' }, `the red status stays (no poll, no connector status over it): ${JSON.stringify(later)}`);
  });

  it('a drive item that is a file: the first poll shows red and a node.error naming the limit; no delta request', async () => {
    const user = sim().state.defaultUser.id;
    const file = sim().state.graph.store.createDriveItem(user, { name: 'q1.xlsx', content: 'abc' });
    const { statuses, errors } = await deploy('onedrivev2', `/me/drive/items/${file.id}/delta`);
    await waitFor('the error naming the limit', () => errors.length > 0);
    assert.match(errors[0]!, /drive item .+ is a file: Graph's drive delta tracks the root and folders only/);
    await waitFor('a red status', () => statuses.some((s) => s.fill === 'red'));
    assert.equal(sim().state.graph.requests.list(/\/delta/).length, 0, 'no delta request');
  });

  it('a drive item that is a file is not asked again at later intervals (until redeploy): requests stop, status stays red', async () => {
    const user = sim().state.defaultUser.id;
    const file = sim().state.graph.store.createDriveItem(user, { name: 'q2.xlsx', content: 'abc' });
    const { statuses, errors } = await deploy('onedrivev2', `/me/drive/items/${file.id}/delta`);
    await waitFor('the error naming the limit', () => errors.length > 0);
    await waitFor('a red status', () => statuses.some((s) => s.fill === 'red'));
    const graphRequests = () => sim().state.graph.requests.list(/^\/v1\.0\//).length;
    const afterFirst = graphRequests();
    assert.ok(afterFirst >= 1 && afterFirst <= 3, `the first poll asks about the item (${afterFirst} requests)`);
    const polls = statuses.filter((s) => s.text === 'polling').length;
    // Three more intervals of one second.
    await waitFor('three more polls', () => statuses.filter((s) => s.text === 'polling').length >= polls + 3, 10_000);
    assert.equal(graphRequests(), afterFirst, `no Graph request after the refusal: ${JSON.stringify(sim().state.graph.requests.list().map((r) => r.path))}`);
    assert.equal(errors.length, 1, 'logged once');
    assert.equal(statuses[statuses.length - 1]!.fill, 'red', 'the status stays red');
  });
});
