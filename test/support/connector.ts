/**
 * A working `ms365-connector` against the simulator, for node tests (node-red-node-test-helper):
 *
 *   const { node: conn, credentials } = connectorFlowNode(sim());
 *   await helper.load(allNodes, [conn, { id: 'p1', type: 'ms365-poller', connector: conn.id, ... }], credentials);
 *
 * Default: `client_credentials` (app-only, no sign-in needed) for the simulator's default user, so `/me/...` in a
 * poller URL means `/users/{that user's id}/...`. `credentials` is keyed by node id: pass it as `load`'s 3rd argument.
 */
import type { Simulator } from '../../src/simulator/server';
import { SIM_CLIENT_ID, SIM_CLIENT_SECRET } from '../../src/simulator/identity';

export interface ConnectorFlowNode {
  id: string;
  type: 'ms365-connector';
  name: string;
  elementKey: string;
  tenant: string;
  grantType: 'authorization_code' | 'client_credentials';
  scope: string;
  callbackUrl: string;
  authorityHost: string;
  graphBaseUrl: string;
  userId: string;
  tags: string;
  [key: string]: unknown;
}

export interface ConnectorCredentials {
  clientId: string;
  clientSecret: string;
}

export function connectorFlowNode(
  sim: Simulator,
  overrides: Partial<ConnectorFlowNode> = {},
  creds: Partial<ConnectorCredentials> = {},
): { node: ConnectorFlowNode; credentials: Record<string, ConnectorCredentials>; id: string } {
  const node: ConnectorFlowNode = {
    id: 'ms365conn1',
    type: 'ms365-connector',
    name: 'Simulated tenant',
    elementKey: 'office365',
    tenant: sim.state.tenantId,
    grantType: 'client_credentials',
    scope: '',
    callbackUrl: '',
    authorityHost: sim.authorityHost,
    graphBaseUrl: sim.graphBaseUrl,
    userId: sim.state.defaultUser.id,
    tags: '',
    ...overrides,
  };
  return {
    node,
    id: node.id,
    credentials: { [node.id]: { clientId: creds.clientId ?? SIM_CLIENT_ID, clientSecret: creds.clientSecret ?? SIM_CLIENT_SECRET } },
  };
}

/** Poll `condition` every 10 ms until it holds or `timeoutMs` passes (then throw with `what`). */
export async function waitFor<T>(what: string, condition: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Resolves just after the wall clock enters its next whole second. Outlook and drive dates are whole seconds: an
 * object made before a starting point taken in the same second cannot be told from one made after it (it comes out,
 * README "Starting point"); a test that means "older than the start" makes it in an earlier second.
 */
export function nextSecond(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 5));
}
