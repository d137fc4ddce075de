/**
 * Imported flows run: each Open Connectors fixture, imported with the connector pointed at the simulator
 * (client_credentials, so no browser sign-in), loads into a real Node-RED runtime and the connector gets a
 * token from the simulated identity platform (CONTRACT "Migration from Open Connectors": "import into a working flow").
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { NodeDef } from 'node-red';
import { helper, allNodes, useNodeRed } from '../../support/node-red-helper';
import { useSimulator } from '../../support/simulator';
import { waitFor } from '../../support/connector';
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
