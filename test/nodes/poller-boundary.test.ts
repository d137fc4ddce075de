/**
 * Whole-second dates at a round boundary through the `ms365-poller` node (issue 14 item 1), on a real Node-RED
 * runtime against the simulated tenant with its clock pinned half a second into a second: a mail and a file created
 * after a round started, in its second, come out CREATED; objects created before the previous round (in that round's
 * second too, also those read by the starting enumeration) come out UPDATED; nothing twice.
 * The pinned clock is some seconds behind ours, so the deploy's starting point (our clock: Graph's is not known yet)
 * is after every object here and only the delta rounds decide.
 */
import assert from 'node:assert/strict';
import type { NodeMessage } from 'node-red';
import { helper, allNodes, useNodeRed } from '../support/node-red-helper';
import { useSimulator } from '../support/simulator';
import { connectorFlowNode, waitFor } from '../support/connector';
import type { Ms365Event } from '../../src/core/events';

type Spied = NodeJS.EventEmitter & { receive(msg: Record<string, unknown>): void };
interface StatusArg { fill?: string; text?: string }

describe('ms365-poller at a whole-second boundary (node, against the simulator, clock pinned)', function () {
  this.timeout(30_000);
  const sim = useSimulator();
  useNodeRed();
  const user = () => sim().state.defaultUser.id;
  const store = () => sim().state.graph.store;
  const clock = () => sim().state.clock;
  afterEach(() => clock().reset());

  it('messages and drive items: same-second creations CREATED, older objects UPDATED, each once', async () => {
    const base = (Math.floor(Date.now() / 1000) - 10) * 1000;
    const at = (second: number, ms: number) => clock().freeze(base + second * 1000 + ms);
    const configuration = { messages: { url: '/me/mailFolders/inbox/messages/delta', idField: 'id' }, driveItems: { url: '/me/drive/root/delta', idField: 'id' } };
    const { node: conn, credentials } = connectorFlowNode(sim(), { elementKey: 'office365' });
    const flow = [
      conn,
      { id: 'p1', type: 'ms365-poller', connector: conn.id, interval: 60, timezone: 'UTC', configuration: JSON.stringify(configuration), pollOnStart: false, wires: [['out']] },
      { id: 'out', type: 'helper' },
    ];
    const create = (name: string) => [String(store().createMessage(user(), { subject: name }).id), String(store().createDriveItem(user(), { name: `${name}.txt` }).id)];
    const update = (ids: string[]) => {
      store().updateMessage(user(), ids[0]!, { isRead: true });
      store().updateDriveItem(user(), ids[1]!, { content: 'edited' });
    };

    at(0, 300);
    const old = create('old');
    await helper.load(allNodes, flow, credentials);
    const events: Ms365Event[] = [];
    helper.getNode('out').on('input', (msg: NodeMessage) => events.push(msg.payload as Ms365Event));
    const poller = helper.getNode('p1') as unknown as Spied;
    const statuses: StatusArg[] = [];
    poller.on('call:status', (call: { args: StatusArg[] }) => statuses.push(call.args[0] ?? {}));
    const round = async () => {
      const seen = statuses.length;
      const from = events.length;
      poller.receive({});
      await waitFor('end of a poll round', () => statuses.slice(seen).some((s) => /^\d\d:\d\d:\d\d: \d+ event/.test(s.text ?? '')), 15_000);
      return events.slice(from).map((e) => [e.objectId, e.eventType]);
    };

    at(0, 500);
    assert.deepEqual(await round(), [], 'the start: older than the deploy');
    at(0, 700);
    const a = create('a');
    at(1, 300);
    const c = create('c');
    update(old);
    at(1, 500);
    assert.deepEqual(await round(), [[a[0], 'CREATED'], [c[0], 'CREATED'], [old[0], 'UPDATED'], [a[1], 'CREATED'], [c[1], 'CREATED'], [old[1], 'UPDATED']]);
    at(1, 700);
    const b = create('b');
    update(c);
    at(2, 500);
    assert.deepEqual(await round(), [[b[0], 'CREATED'], [c[0], 'UPDATED'], [b[1], 'CREATED'], [c[1], 'UPDATED']]);
    at(3, 500);
    assert.deepEqual(await round(), [], 'nothing twice');
  });
});
