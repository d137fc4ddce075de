/**
 * Imported flows run: each Open Connectors fixture, imported with the connector pointed at the simulator
 * (client_credentials, so no browser sign-in), loads into a real Node-RED runtime and the connector gets a
 * token from the simulated identity platform (CONTRACT "Migration from Open Connectors": "import into a working flow").
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import type { NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { subscriptionsOf } from '../../../src/simulator/subscriptions';
import { helper, allNodes, useNodeRed } from '../../support/node-red-helper';
import { useSimulator } from '../../support/simulator';
import { nextSecond, waitFor } from '../../support/connector';
import { importInstance, type FlowNode } from '../../../src/core/opencon/instance-import';
import { SIM_CLIENT_ID, SIM_CLIENT_SECRET } from '../../../src/simulator/identity';
import type { ConnectorNode } from '../../../src/nodes/shared/connector-api';

const FIXTURES = path.join(__dirname, '..', '..', 'fixtures', 'open-connectors');
const coreNodes = [
  require('@node-red/nodes/core/common/21-debug.js'),
  require('@node-red/nodes/core/common/90-comment.js'),
];

/** Node-RED's flow import carries credentials on the node; the test helper takes them as a map by id. */
function splitCredentials(flow: FlowNode[]): { nodes: NodeDef[]; credentials: Record<string, unknown> } {
  const credentials: Record<string, unknown> = {};
  const nodes = flow.map((n) => {
    const { credentials: creds, ...rest } = n as FlowNode & { credentials?: unknown };
    if (creds !== undefined) credentials[n.id] = creds;
    return rest as unknown as NodeDef;
  });
  return { nodes, credentials };
}

describe('imported Open Connectors flows load and authenticate against the simulator', () => {
  useNodeRed();
  const sim = useSimulator();

  for (const file of fs.readdirSync(FIXTURES).filter((f) => !f.includes('malformed'))) {
    it(`${file}: every imported node is created and the connector obtains a token`, async () => {
      const { flow } = importInstance(fs.readFileSync(path.join(FIXTURES, file), 'utf8'), {
        authorityHost: sim().authorityHost,
        graphBaseUrl: sim().graphBaseUrl,
        tenant: sim().state.tenantId,
        grantType: 'client_credentials',
        userId: sim().state.defaultUser.id,
        notificationUrl: 'https://example.invalid/hooks',
      });
      const { nodes, credentials } = splitCredentials(flow);
      const connectorDef = flow.find((n) => n.type === 'ms365-connector');
      assert.ok(connectorDef, 'a connector');
      assert.ok(credentials[connectorDef.id], 'the connector carries credentials');
      // The fixtures' client ids are documentation placeholders: use the simulator's registered app.
      credentials[connectorDef.id] = { clientId: SIM_CLIENT_ID, clientSecret: SIM_CLIENT_SECRET };
      await helper.load([...allNodes, ...coreNodes], nodes, credentials);
      for (const n of flow) if (n.type !== 'tab') assert.ok(helper.getNode(n.id), `${n.type} ${n.id} created`);
      const conn = helper.getNode(connectorDef.id) as unknown as ConnectorNode;
      const token = await waitFor('a token from the simulator', async () => {
        try {
          return await conn.graph.options.tokens.getAccessToken();
        } catch {
          return undefined;
        }
      });
      assert.equal(sim().state.accessTokens.check(`Bearer ${token}`).ok, true);
    });
  }
});

describe('imported microsoftgraph webhook instance produces events end to end', function () {
  this.timeout(30_000);
  useNodeRed();
  const sim = useSimulator();
  let nodeApp: Express | undefined;
  const capture = (RED: NodeAPI): void => {
    nodeApp = RED.httpNode as unknown as Express;
  };
  const received: Array<Record<string, unknown>> = [];
  let front: http.Server;
  let receiver: http.Server;
  const listen = async (server: http.Server): Promise<string> => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  let frontUrl = '';
  let receiverUrl = '';

  before(async () => {
    // Microsoft (the simulator) reaches Node-RED's HTTP node root through this loopback server.
    front = http.createServer((req, res) => {
      if (nodeApp === undefined) {
        res.statusCode = 503;
        res.end();
        return;
      }
      nodeApp(req as never, res as never);
    });
    // The Open Connectors callback receiver.
    receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        try {
          received.push(JSON.parse(body) as Record<string, unknown>);
        } catch {
          /* ignored: the assertion below fails if nothing parses */
        }
        res.statusCode = 200;
        res.end('{}');
      });
    });
    frontUrl = await listen(front);
    receiverUrl = `${await listen(receiver)}/events`;
  });
  after(async () => {
    await new Promise<void>((resolve) => front.close(() => resolve()));
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  });

  it('microsoftgraph-webhooks.json: subscription on the default calendar; a new event reaches the debug node and the callback URL', async () => {
    const { flow } = importInstance(fs.readFileSync(path.join(FIXTURES, 'microsoftgraph-webhooks.json'), 'utf8'), {
      authorityHost: sim().authorityHost,
      graphBaseUrl: sim().graphBaseUrl,
      tenant: sim().state.tenantId,
      grantType: 'client_credentials',
      userId: sim().state.defaultUser.id,
      notificationUrl: frontUrl,
    });
    const callback = flow.find((n) => n.type === 'ms365-callback-out');
    assert.ok(callback, 'notifications enabled → a callback-out');
    assert.equal(callback.url, 'https://mycoolapp.com/events');
    callback.url = receiverUrl; // no network beyond loopback in tests
    const { nodes, credentials } = splitCredentials(flow);
    const connectorId = flow.find((n) => n.type === 'ms365-connector')?.id ?? '';
    credentials[connectorId] = { clientId: SIM_CLIENT_ID, clientSecret: SIM_CLIENT_SECRET };
    await helper.load([capture, ...allNodes, ...coreNodes], nodes, credentials);
    const debugId = flow.find((n) => n.type === 'debug')?.id ?? '';
    const atDebug: Array<{ topic?: string; payload?: { eventType?: string; objectId?: string } }> = [];
    helper.getNode(debugId).on('input', (msg: NodeMessage) => atDebug.push(msg as unknown as (typeof atDebug)[number]));

    await waitFor('subscription created', () => subscriptionsOf(sim().state).all.size === 1 || undefined, 10_000);
    const [sub] = [...subscriptionsOf(sim().state).all.values()];
    assert.match(sub.resource, /events$/);
    const created = sim().state.graph.store.createEvent(sim().state.defaultUser.id, { subject: 'Imported flow works' });

    const msg = await waitFor('CREATED at the debug node', () => atDebug.find((m) => m.payload?.eventType === 'CREATED'), 10_000);
    assert.equal(msg.topic, 'microsoftgraph/events/CREATED');
    assert.equal(msg.payload?.objectId, created.id);
    const body = await waitFor('callback delivered', () => received.find((b) => JSON.stringify(b).includes(String(created.id))), 15_000);
    const message = body.message as { events?: Array<{ eventType?: string }> };
    assert.equal(message.events?.[0]?.eventType, 'CREATED');
  });
});

describe('imported Open Connectors polling instances produce events', function () {
  this.timeout(30_000);
  useNodeRed();
  const sim = useSimulator();

  const cases: Array<[string, (userId: string) => string]> = [
    ['outlookemail-polling.json', (u) => String(sim().state.graph.store.createMessage(u, { subject: 'imported outlookemail' }).id)],
    ['office365-polling.json', (u) => String(sim().state.graph.store.createMessage(u, { subject: 'imported office365' }).id)],
    ['onedrivev2-polling.json', (u) => String(sim().state.graph.store.createDriveItem(u, { name: 'imported.txt' }).id)],
  ];
  for (const [file, change] of cases) {
    it(`${file}: after the starting point, a new object comes out of the imported poller as one CREATED event`, async () => {
      const user = sim().state.defaultUser.id;
      const { flow } = importInstance(fs.readFileSync(path.join(FIXTURES, file), 'utf8'), {
        authorityHost: sim().authorityHost,
        graphBaseUrl: sim().graphBaseUrl,
        tenant: sim().state.tenantId,
        grantType: 'client_credentials',
        userId: user,
      });
      const { nodes, credentials } = splitCredentials(flow);
      const connectorDef = flow.find((n) => n.type === 'ms365-connector') as FlowNode;
      const pollerDef = nodes.find((n) => n.type === 'ms365-poller') as NodeDef & { wires: string[][]; pollOnStart?: boolean };
      credentials[connectorDef.id] = { clientId: SIM_CLIENT_ID, clientSecret: SIM_CLIENT_SECRET };
      pollerDef.pollOnStart = false;
      pollerDef.wires = [['sink']];
      await nextSecond(); // the objects of the cases before are older than this poller's starting point
      await helper.load([...allNodes, ...coreNodes], [...nodes, { id: 'sink', type: 'helper' } as unknown as NodeDef], credentials);
      const received: Array<{ eventType: string; objectId: string }> = [];
      helper.getNode('sink').on('input', (msg: NodeMessage) => received.push(msg.payload as { eventType: string; objectId: string }));
      const poller = helper.getNode(pollerDef.id);
      const pollOnce = () =>
        new Promise<void>((resolve) => {
          const emitter = poller as unknown as NodeJS.EventEmitter;
          const onStatus = (call: { args: Array<{ text?: string }> }) => {
            if (!/^\d\d:\d\d:\d\d: \d+ event|^error/.test(call.args[0]?.text ?? '')) return;
            emitter.removeListener('call:status', onStatus);
            resolve();
          };
          emitter.on('call:status', onStatus);
          poller.receive({ payload: 'poll' });
        });
      await pollOnce();
      const id = change(user);
      await pollOnce();
      const event = await waitFor('the imported poller emits the new object', () => received.find((e) => e.objectId === id));
      assert.equal(event.eventType, 'CREATED');
      assert.equal(received.length, 1);
    });
  }
});
