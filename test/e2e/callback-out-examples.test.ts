/**
 * The two callback examples on a real node-red process (packed package): the receiver example answers 204 to a
 * correctly signed notification, 401 to a bad signature and 400 to a body that is not JSON; the callback-out
 * example, pointed at that receiver with the same key, gets its sample event delivered (the journal records the
 * 2xx, nothing is left queued). A second copy of both, on a tab whose environment sets MS365_SIGNING to
 * standard-webhooks and a whsec_ key, does the same with Standard Webhooks signatures (made by the reference
 * library) and refuses a replayed (stale) request and a request carrying only the Open Connectors signature.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Webhook } from 'standardwebhooks';
import { startNodeRed, waitUntil, ROOT, type NodeRedProcess } from '../support/nodered-process';

const KEY = 'e2e-receiver-example-key';

type FlowNode = Record<string, unknown> & { id: string; type: string };

function example(name: string): FlowNode[] {
  return JSON.parse(fs.readFileSync(path.join(ROOT, 'examples', name), 'utf8')) as FlowNode[];
}

describe('e2e: callback examples (sender and signature-checking receiver) on Node-RED 4', function () {
  this.timeout(120_000);
  let nr: NodeRedProcess;

  before(async () => {
    nr = await startNodeRed({ version: 4, env: { MS365_SIGNATURE_KEY: KEY } });
  });
  after(async () => {
    await nr?.dispose();
  });

  it('the receiver example answers 204 to a signed notification, 401 to a bad signature, 400 to non-JSON', async () => {
    const tab = { id: 'e2eextab0000001', type: 'tab', label: 'examples' };
    const receiver = example('ms365-callback-receiver.json').map((n) => ({ ...n, z: tab.id }));
    const sender = example('ms365-callback-out.json').map((n) => {
      const node: FlowNode = { ...n, z: tab.id };
      if (node.type === 'ms365-callback-out') Object.assign(node, { url: `${nr.httpNodeUrl}ms365/callback-receiver`, credentials: { signatureKey: KEY } });
      return node;
    });
    // The runtime's own first flow start must be over, or it could replace the deployed flows (the harness may
    // return as soon as the flows file is named in the log).
    await waitUntil('the initial flows started', () => /Started flows/.test(nr!.log()));
    await nr.deploy([tab, ...receiver, ...sender]);
    const route = `${nr.httpNodeUrl}ms365/callback-receiver`;

    const body = JSON.stringify({ message: { eventId: 'n1', instanceName: 'I', elementKey: 'outlookemail', events: [], raw: { objectType: 'messages', messages: [] } } });
    const signature = 'sha256=' + createHmac('sha256', KEY).update(body).digest('base64');
    const post = (data: string, sig: string) => nr.admin.post(route, data, { headers: { 'Content-Type': 'application/json', 'Elements-Webhook-Signature': sig }, transformRequest: [(d: unknown) => d] });
    // An unsigned empty POST answers 404 until the route exists, then 401 (bad signature).
    await waitUntil('the receiver route', async () => (await post('', '')).status !== 404);
    const first = await post(body, signature);
    assert.equal(first.status, 204, `${first.status} ${JSON.stringify(first.data)}\n${nr.log()}`);
    const tampered = signature.slice(0, 7) + (signature[7] === 'A' ? 'B' : 'A') + signature.slice(8);
    assert.equal((await post(body, tampered)).status, 401);
    assert.equal((await post(body + ' ', signature)).status, 401);
    const notJson = 'not json';
    assert.equal((await post(notJson, 'sha256=' + createHmac('sha256', KEY).update(notJson).digest('base64'))).status, 400);

    const cb = sender.find((n) => n.type === 'ms365-callback-out')!;
    const inject = sender.find((n) => n.type === 'inject' && n.name === 'sample event')!;
    assert.equal((await nr.admin.post(`inject/${inject.id}`)).status, 200);
    const journal = path.join(nr.userDir, '.ms365-events', `outbox-${cb.id}.jsonl`);
    await waitUntil('the sample event delivered (ok record)', () => fs.existsSync(journal) && fs.readFileSync(journal, 'utf8').includes('"op":"ok"'));
    assert.doesNotMatch(nr.log(), /bad signature|\[error\]/);
    assert.ok(!nr.log().includes(KEY));
  });

  it('with MS365_SIGNING=standard-webhooks the receiver example accepts the reference signature, refuses a replay; callback-out on "both" gets through', async () => {
    const secret = 'whsec_' + Buffer.from('e2e standard webhooks secret, 32 bytes').toString('base64');
    const tab = {
      id: 'e2eextab0000002', type: 'tab', label: 'standard webhooks',
      env: [{ name: 'MS365_SIGNING', value: 'standard-webhooks', type: 'str' }, { name: 'MS365_SIGNATURE_KEY', value: secret, type: 'str' }],
    };
    const rename = (id: string) => `sw-${id}`;
    const copy = (nodes: FlowNode[]): FlowNode[] =>
      nodes.map((n) => ({ ...n, id: rename(n.id), z: tab.id, ...(Array.isArray(n.wires) ? { wires: (n.wires as string[][]).map((w) => w.map(rename)) } : {}) }));
    const receiver = copy(example('ms365-callback-receiver.json')).map((n) => (n.type === 'http in' ? { ...n, url: '/ms365/callback-receiver-sw' } : n));
    const route = `${nr.httpNodeUrl}ms365/callback-receiver-sw`;
    const sender = copy(example('ms365-callback-out.json')).map((n): FlowNode =>
      n.type === 'ms365-callback-out' ? { ...n, url: route, signing: 'both', credentials: { signatureKey: secret } } : n,
    );
    await waitUntil('the initial flows started', () => /Started flows/.test(nr!.log()));
    const current = (await nr.admin.get('flows')).data as FlowNode[];
    await nr.deploy([...current.filter((n) => n.z !== tab.id && n.id !== tab.id), tab, ...receiver, ...sender]);

    const body = JSON.stringify({ message: { eventId: 'n2', instanceName: 'I', elementKey: 'outlookemail', events: [], raw: { objectType: 'messages', messages: [] } } });
    const post = (data: string, headers: Record<string, string>) =>
      nr.admin.post(route, data, { headers: { 'Content-Type': 'application/json', ...headers }, transformRequest: [(d: unknown) => d] });
    const signed = (at: Date, id = 'n2', data = body) => ({
      'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': new Webhook(secret).sign(id, at, data),
    });
    await waitUntil('the standard-webhooks receiver route', async () => (await post('', {})).status !== 404);
    const ok = await post(body, signed(new Date()));
    assert.equal(ok.status, 204, `${ok.status} ${JSON.stringify(ok.data)}\n${nr.log()}`);
    const replay = await post(body, signed(new Date(Date.now() - 6 * 60_000), 'n3'));
    assert.deepEqual([replay.status, replay.data], [401, 'stale timestamp']);
    assert.equal((await post(body.replace('n2', 'n4'), signed(new Date()))).status, 401);
    const elementsOnly = { 'Elements-Webhook-Signature': 'sha256=' + createHmac('sha256', secret).update(body).digest('base64') };
    assert.equal((await post(body, elementsOnly)).status, 401);

    const cb = sender.find((n) => n.type === 'ms365-callback-out')!;
    const inject = sender.find((n) => n.type === 'inject' && n.name === 'sample event')!;
    assert.equal((await nr.admin.post(`inject/${inject.id}`)).status, 200);
    const journal = path.join(nr.userDir, '.ms365-events', `outbox-${cb.id}.jsonl`);
    await waitUntil('the sample event delivered with both signatures (ok record)', () => fs.existsSync(journal) && fs.readFileSync(journal, 'utf8').includes('"op":"ok"'));
    assert.ok(!nr.log().includes(secret));
  });
});
