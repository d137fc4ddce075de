/**
 * The two callback examples on a real node-red process (packed package): the receiver example answers 204 to a
 * correctly signed notification, 401 to a bad signature and 400 to a body that is not JSON; the callback-out
 * example, pointed at that receiver with the same key, gets its sample event delivered (the journal records the
 * 2xx, nothing is left queued).
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
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
});
