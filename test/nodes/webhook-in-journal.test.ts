/**
 * ms365-webhook-in's notification journal on a real Node-RED runtime (test helper) with a user directory: a batch is
 * in `<userDir>/.ms365-events/webhook-journal-<id>.jsonl` before its 202; the journal as a SIGKILL right after the 202
 * would leave it is replayed when the node starts again (same eventId); a journal that cannot be written gives 503
 * (Graph sends the batch again); removing the node deletes the file; the clientState is never in it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import type { NodeMessage } from 'node-red';
import { helper, allNodes, useNodeRed, useTempUserDir } from '../support/node-red-helper';
import { useHttpNodeServer } from '../support/http-node';
import { useSimulator } from '../support/simulator';
import { connectorFlowNode, waitFor } from '../support/connector';

const CLIENT_STATE = 'journal-node-test-state';

describe('ms365-webhook-in notification journal (node, user directory)', function () {
  this.timeout(20_000);
  const sim = useSimulator();
  useNodeRed();
  const userDir = useTempUserDir('ms365-webhook-journal-');
  const { capture, base } = useHttpNodeServer();
  const journalFile = () => path.join(userDir(), '.ms365-events', 'webhook-journal-w1.jsonl');

  async function load() {
    const { node: conn, credentials } = connectorFlowNode(sim());
    const flow = [
      conn,
      { id: 'w1', type: 'ms365-webhook-in', connector: conn.id, path: '/ms365/journal', notificationUrl: base(), subscriptions: '[]', fetchResource: false, wires: [['out1'], []] },
      { id: 'out1', type: 'helper' },
    ];
    const events: Array<{ eventId: string; objectId: string }> = [];
    await helper.load([capture, ...allNodes], flow, { ...credentials, w1: { clientState: CLIENT_STATE } });
    helper.getNode('out1').on('input', (msg: NodeMessage) => events.push(msg.payload as { eventId: string; objectId: string }));
    return events;
  }

  /** POSTs one notification batch; resolves with the status and the journal's text as it was when the answer came. */
  function notify(id: string): Promise<{ status: number; journal: string }> {
    const body = JSON.stringify({
      value: [{ subscriptionId: 'sub-j', clientState: CLIENT_STATE, changeType: 'created', tenantId: sim().state.tenantId, resource: `Users/u/Messages/${id}`, resourceData: { '@odata.type': '#Microsoft.Graph.Message', id, '@odata.etag': `W/"${id}"` } }],
    });
    return new Promise((resolve, reject) => {
      const req = http.request(`${base()}/ms365/journal`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        // Read at once, before the node's next turn: what a SIGKILL right after this answer would leave on disk.
        const journal = fs.statSync(journalFile(), { throwIfNoEntry: false })?.isFile() ? fs.readFileSync(journalFile(), 'utf8') : '';
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, journal }));
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  it('a batch journaled before its 202 and cut off by a crash is replayed when the node starts again (same eventId)', async () => {
    const first = await load();
    const answer = await notify('m-journal-1');
    assert.equal(answer.status, 202);
    assert.match(answer.journal, /"op":"add","seq":1/, 'on disk before the 202');
    assert.doesNotMatch(answer.journal, new RegExp(CLIENT_STATE), 'no clientState in clear');
    await waitFor('the event', () => first.length === 1);
    await helper.unload();
    // What a SIGKILL right after the 202 would have left (the graceful unload marked the batch done).
    fs.writeFileSync(journalFile(), answer.journal);
    const second = await load();
    await waitFor('the replayed event', () => second.length === 1);
    assert.equal(second[0].eventId, first[0].eventId);
    assert.equal(second[0].objectId, 'm-journal-1');
    await helper.unload();
    const reloaded = await load();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(reloaded.length, 0, 'handed on and closed gracefully: not replayed again');
  });

  it('a journal that cannot be written is answered 503 (Graph sends the batch again), never 202', async () => {
    fs.mkdirSync(journalFile(), { recursive: true }); // a folder where the journal file should be: EISDIR on every write
    const events = await load();
    const answer = await notify('m-journal-2');
    assert.equal(answer.status, 503);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(events.length, 0);
  });

  it('removing the node deletes its journal', async () => {
    await load();
    assert.equal((await notify('m-journal-3')).status, 202);
    assert.ok(fs.existsSync(journalFile()));
    await helper.unload(); // a full stop is not a removal
    assert.ok(fs.existsSync(journalFile()), 'kept over a stop');
    await load();
    await helper.setFlows([{ id: 'ok', type: 'helper' }], 'nodes');
    await waitFor('the journal deleted', () => !fs.existsSync(journalFile()));
  });
});
