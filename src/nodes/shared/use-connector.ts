/**
 * For nodes that use an `ms365-connector` (poller, webhook-in): find it, register with it (status fan-out) and
 * deregister on close, as core MQTT nodes do with their broker (STYLE.md §1). If the connector is missing, the
 * node shows a red status, logs one clear error and gets `undefined`: it must then start nothing.
 */
import type { Node, NodeAPI } from 'node-red';
import type { ConnectorNode } from './connector-api';
import { text } from './i18n';

function isConnector(node: Node | null | undefined): node is ConnectorNode {
  return Boolean(node && node.type === 'ms365-connector' && typeof (node as Partial<ConnectorNode>).register === 'function');
}

/** The connector `connectorId`, registered with `user` until `user` closes; undefined (red status) if missing. */
export function useConnector(RED: NodeAPI, user: Node, connectorId: unknown): ConnectorNode | undefined {
  const found = typeof connectorId === 'string' && connectorId ? (RED.nodes.getNode(connectorId) as Node | null) : null;
  if (!isConnector(found)) {
    // The user's own catalog (poller, webhook-in); another type gets the poller's words.
    const say = (key: string) => {
      const own = text(RED, `${user.type}.${key}`);
      return own === `${user.type}.${key}` ? text(RED, `ms365-poller.${key}`) : own;
    };
    user.status({ fill: 'red', shape: 'ring', text: say('status.noConnector') });
    user.error(say('errors.noConnector'));
    return undefined;
  }
  found.register(user);
  user.on('close', (_removed: boolean, done: () => void) => {
    found.deregister(user);
    done();
  });
  return found;
}
