/**
 * ms365-poller when Graph refuses a permission (`reference/graph.md` §11.6): the status and node.error name the
 * permission Microsoft documents for the request, and the poller backs off instead of asking every interval.
 */
import assert from 'node:assert/strict';
import { helper, allNodes, useNodeRed } from '../support/node-red-helper';
import { useSimulator } from '../support/simulator';
import { connectorFlowNode, waitFor } from '../support/connector';
import { identityOf } from '../../src/simulator/identity';

describe('ms365-poller: missing Graph permission (node, against the simulator)', function () {
  this.timeout(30_000);
  const sim = useSimulator();
  useNodeRed();

  it('an app without a mail role: "missing permission Mail.ReadBasic.All" on the status and in node.error, a bounded number of requests', async () => {
    // Admin consent for calendars and users only: no application permission that reads mail.
    const app = identityOf(sim().state).registerApp({ appRoles: ['Calendars.Read', 'User.Read.All'] });
    const { node: conn, credentials } = connectorFlowNode(sim(), { elementKey: 'outlookemail' }, { clientId: app.clientId, clientSecret: app.clientSecret });
    sim().state.graph.requests.clear();
    const statuses: string[] = [];
    const errors: string[] = [];
    const flow = [
      conn,
      // One poll a second (1/60 minute), first at once.
      { id: 'p1', type: 'ms365-poller', connector: conn.id, interval: 1 / 60, timezone: 'UTC', configuration: '', pollOnStart: true, wires: [[]] },
    ];
    await helper.load(allNodes, flow, credentials);
    const poller = helper.getNode('p1') as unknown as NodeJS.EventEmitter;
    poller.on('call:status', (call: { args: Array<{ text?: string }> }) => statuses.push(call.args[0]?.text ?? ''));
    poller.on('call:error', (call: { args: unknown[] }) => errors.push(String(call.args[0])));

    await waitFor('the status naming the permission', () => statuses.includes('missing permission Mail.ReadBasic.All'));
    assert.match(errors[0] ?? '', /^ms365-poller: messages: missing permission Mail\.ReadBasic\.All \(the application permission/);
    assert.doesNotMatch(errors[0], /sim-at-|client_secret|Bearer/i, 'no secret in the error');

    // Eight more intervals: polls go on (the status is set every interval), the refused resource is asked for
    // only after 1, then 3, then 7 skipped intervals.
    const deltaRequests = () => sim().state.graph.requests.list(/\/messages\/delta/).length;
    const polls = () => statuses.filter((s) => s === 'polling').length;
    await waitFor('9 polls', () => polls() >= 9, 20_000);
    const asked = deltaRequests();
    assert.ok(asked >= 2 && asked <= 3, `${asked} delta requests over ${polls()} polls (expected 2–3: polls 1, 3, 7)`);
    assert.ok(sim().state.graph.requests.list(/\/messages\/delta/).every((r) => r.status === 403));
    assert.equal(statuses[statuses.length - 1] === 'polling' ? statuses[statuses.length - 2] : statuses[statuses.length - 1], 'missing permission Mail.ReadBasic.All');
    assert.ok(errors.length <= asked, 'one node.error per refused request, none for skipped intervals');
  });
});
