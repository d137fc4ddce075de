/**
 * The packed package on a real Node-RED process, on both supported lines: Node-RED 4.1 on Node 20 and Node-RED 5
 * on Node 22 (issue 2). Loads, registers the five types (four nodes and the ms365-cluster config node) with their editor files, deploys every example and a
 * connector against the simulator, and leaks no secret into the log or the exported flows.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startNodeRed, waitUntil, ROOT, PACKAGE_NAME, type NodeRedProcess } from '../support/nodered-process';
import { connectorFlowNode } from '../support/connector';
import { useSimulator } from '../support/simulator';

const TYPES = ['ms365-connector', 'ms365-cluster', 'ms365-poller', 'ms365-webhook-in', 'ms365-callback-out'];

interface NodeSetInfo {
  id: string;
  module: string;
  types: string[];
  enabled: boolean;
  err?: string;
}

for (const version of [4, 5] as const) {
  describe(`e2e: packed package on Node-RED ${version} (${version === 4 ? 'Node 20' : 'Node 22'})`, function () {
    this.timeout(120_000);
    const sim = useSimulator();
    let nr: NodeRedProcess;

    before(async () => {
      nr = await startNodeRed({ version });
    });
    after(async () => {
      await nr?.dispose();
    });

    it(`runs on Node-RED ${version}.x`, async () => {
      const res = await nr.admin.get('settings');
      assert.equal(res.status, 200);
      assert.match(String(res.data.version), new RegExp(`^${version}\\.`));
      assert.match(nr.log(), new RegExp(`Node\\.js\\s+version: v${version === 4 ? 20 : 22}\\.`));
    });

    it('GET /nodes lists the module with its five types loaded and no load error', async () => {
      const res = await nr.admin.get('nodes', { headers: { Accept: 'application/json' } });
      assert.equal(res.status, 200);
      const sets = (res.data as NodeSetInfo[]).filter((s) => s.module === PACKAGE_NAME);
      const types = sets.flatMap((s) => s.types).sort();
      assert.deepEqual(types, [...TYPES].sort());
      for (const set of sets) {
        assert.equal(set.err, undefined, `${set.id}: ${set.err}`);
        assert.equal(set.enabled, true, `${set.id} enabled`);
      }
    });

    it('serves each type\'s editor definition and help text', async () => {
      const res = await nr.admin.get('nodes', { headers: { Accept: 'text/html' } });
      assert.equal(res.status, 200);
      const html = String(res.data);
      for (const type of TYPES) {
        assert.match(html, new RegExp(`registerType\\(\\s*['"]${type}['"]`), `${type} editor script`);
        assert.match(html, new RegExp(`data-help-name="${type}"`), `${type} help`);
      }
      assert.match(html, /category:\s*'Microsoft 365'/);
    });

    it('deploys a client-credentials connector against the simulator and signs in', async () => {
      const { node, credentials, id } = connectorFlowNode(sim(), { id: 'e2econn' });
      const tab = { id: 'e2etab', type: 'tab', label: 'e2e' };
      await nr.deploy([tab, { ...node, z: undefined, credentials: credentials[id] }]);
      const status = await waitUntil(
        'connector authorized',
        async () => {
          const res = await nr.admin.get(`ms365-connector/${id}/auth/status`);
          return res.status === 200 && res.data.authorized === true ? res.data : false;
        },
        20_000,
      );
      assert.equal(status.error, null);
      const flows = JSON.stringify(await nr.getFlows());
      for (const secret of Object.values(credentials[id])) {
        if (secret === credentials[id].clientId) continue;
        assert.ok(!flows.includes(secret), 'client secret absent from GET /flows');
        assert.ok(!nr.log().includes(secret), 'client secret absent from the runtime log');
      }
    });

    it('deploys every example in examples/ without a node error', async () => {
      const dir = path.join(ROOT, 'examples');
      const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.json')) : [];
      for (const file of files) {
        const flow = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as unknown[];
        const before = nr.log().length;
        await nr.deploy(flow);
        await waitUntil(`flows started for ${file}`, () => /Started flows/.test(nr.log().slice(before)), 15_000);
        const after = nr.log().slice(before);
        assert.doesNotMatch(after, /\[error\].*(TypeError|ReferenceError|Cannot read)/, `${file}: ${after}`);
        assert.doesNotMatch(after, /Waiting for missing types/, `${file}: missing types`);
      }
    });
  });
}
