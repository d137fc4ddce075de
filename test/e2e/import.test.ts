/**
 * Issue 7 end to end: each Open Connectors instance in test/fixtures/open-connectors is turned into a flow by the
 * installed `ms365-events import` command (pointed at the simulator, client credentials so nobody signs in),
 * deployed on a real Node-RED 4.1 process (packed package), and produces events: a new object in the simulated
 * tenant reaches a loopback callback receiver through the imported ms365-callback-out.
 * (CONTRACT "Migration from Open Connectors": an imported instance is a working flow.)
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startCallbackReceiver, type CallbackReceiver } from '../support/callback-receiver';
import { startNodeRed, waitUntil, ROOT, PACKAGE_NAME, type NodeRedProcess } from '../support/nodered-process';
import { useSimulator } from '../support/simulator';
import { subscriptionsOf } from '../../src/simulator/subscriptions';
import { SIM_CLIENT_ID, SIM_CLIENT_SECRET } from '../../src/simulator/identity';

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'open-connectors');

interface FlowNode {
  id: string;
  type: string;
  [key: string]: unknown;
}

describe('e2e: Open Connectors fixtures imported with the ms365-events CLI run on Node-RED 4.1', function () {
  this.timeout(120_000);
  const sim = useSimulator();
  let nr: NodeRedProcess;
  /** Records events per callback path (one path per fixture). */
  let receiver: CallbackReceiver;
  let receiverUrl = '';

  before(async () => {
    receiver = await startCallbackReceiver();
    receiverUrl = receiver.url;
    nr = await startNodeRed({ version: 4 });
    await waitUntil('first flow start', () => /Started flows/.test(nr.log()));
  });
  after(async () => {
    await nr?.dispose();
    await receiver.close();
  });

  /** Runs the CLI installed with the package in Node-RED's user directory (falls back to the build). */
  function importWithCli(file: string): FlowNode[] {
    const installed = path.join(nr.userDir, 'node_modules', ...PACKAGE_NAME.split('/'), 'dist', 'cli.js');
    const cli = fs.existsSync(installed) ? installed : path.join(ROOT, 'dist', 'cli.js');
    const s = sim();
    const out = execFileSync(
      process.execPath,
      [cli, 'import', path.join(FIXTURES, file), '--authority-host', s.authorityHost, '--graph-base-url', s.graphBaseUrl,
        '--tenant', s.state.tenantId, '--client-credentials', '--user-id', s.state.defaultUser.id,
        '--notification-url', nr.httpNodeUrl.replace(/\/$/, '')],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 },
    );
    const flow = JSON.parse(out) as FlowNode[];
    for (const n of flow) {
      // The fixtures' client ids are documentation placeholders: use the simulator's registered app.
      if (n.type === 'ms365-connector') n.credentials = { clientId: SIM_CLIENT_ID, clientSecret: SIM_CLIENT_SECRET };
      if (n.type === 'ms365-poller') n.interval = 0.02;
      // No network beyond loopback: the imported callback URL is replaced by the local receiver.
      if (n.type === 'ms365-callback-out') {
        n.url = `${receiverUrl}/${file}`;
        n.batchSize = 1;
      }
    }
    if (!flow.some((n) => n.type === 'ms365-callback-out')) {
      // Notifications disabled in the instance: observe its events through a callback-out added here.
      const source = flow.find((n) => n.type === 'ms365-poller' || n.type === 'ms365-webhook-in');
      assert.ok(source, `${file}: an event source`);
      const id = `${source.id}-e2e-out`;
      (source.wires as string[][])[0].push(id);
      flow.push({ id, type: 'ms365-callback-out', z: source.z, url: `${receiverUrl}/${file}`, batchSize: 1, retries: 5, wires: [[], []] });
    }
    return flow;
  }

  it('each fixture imports, the flows deploy together, and a change in the tenant reaches each callback receiver', async () => {
    const files = fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.json') && !f.includes('malformed')).sort();
    assert.ok(files.length >= 4, `fixtures found: ${files.join(', ')}`);
    const flows = files.flatMap((f) => importWithCli(f));
    assert.equal(new Set(flows.map((n) => n.id)).size, flows.length, 'node ids are unique across imported instances');
    for (const f of files) {
      assert.ok(flows.some((n) => n.type === 'ms365-callback-out' && n.url === `${receiverUrl}/${f}`), `${f}: a callback-out`);
    }
    await nr.deploy(flows);

    const s = sim();
    const store = s.state.graph.store;
    const user = s.state.defaultUser.id;
    const pollers = files.filter((f) => f.includes('polling'));
    const webhooks = files.filter((f) => f.includes('webhooks'));
    // Starting points: every poller has polled once, every webhook instance has its subscription.
    await waitUntil('first polls', () => s.state.graph.requests.list(/messages/).length >= 2 && s.state.graph.requests.list(/drive/).length >= 1, 30_000);
    await waitUntil('webhook subscriptions', () => subscriptionsOf(s.state).all.size >= webhooks.length, 30_000);
    assert.ok(!/\[error\]/.test(nr.log()), `no error in the Node-RED log:\n${nr.log().split('\n').filter((l) => l.includes('[error]')).join('\n')}`);

    const message = store.createMessage(user, { subject: 'imported e2e' });
    const file = store.createDriveItem(user, { name: 'imported-e2e.txt' });
    const event = store.createEvent(user, { subject: 'imported e2e' });
    const expected: Record<string, string> = {
      'outlookemail-polling.json': String(message.id),
      'office365-polling.json': String(message.id),
      'onedrivev2-polling.json': String(file.id),
      'microsoftgraph-webhooks.json': String(event.id),
    };
    for (const f of [...pollers, ...webhooks]) {
      const id = expected[f];
      if (id === undefined) continue; // a fixture added later without a scripted change here
      const got = await waitUntil(`${f}: CREATED ${id} at the receiver`, () => receiver.events(`/${f}`).find((e) => e.objectId === id), 30_000);
      assert.equal(got.eventType, 'CREATED');
    }
  });
});
