/**
 * What an `ms365-cluster` config node offers the nodes that will use it (issue 17; named by connectors: `ConnectorNode.cluster`):
 * the shared state on Redis once the connection is checked, and status fan-out to registered users.
 */
import type { Node, NodeAPI, NodeStatus } from 'node-red';
import type { SharedState } from '../../core/state/types';

export interface ClusterNode extends Node {
  /**
   * The shared state, or the error that keeps the cluster from working (never a fall-back to single-instance mode).
   * While Redis is unreachable at start-up the node keeps trying: the next call gets the newer outcome.
   */
  state(): Promise<SharedState>;
  register(user: Node): void;
  deregister(user: Node): void;
  currentStatus(): NodeStatus;
}

export const DEFAULT_LEASE_TTL_MS = 15_000;

/**
 * The TTL of every lease a cluster hands out (poller resources, webhook-in subscriptions and drive cursors):
 * `ms365ClusterLeaseMs` in settings.js, at least 300 ms, default 15 s.
 */
export function leaseTtlMs(RED: NodeAPI): number {
  const value = Number((RED.settings as unknown as { ms365ClusterLeaseMs?: unknown }).ms365ClusterLeaseMs);
  return Number.isInteger(value) && value >= 300 ? value : DEFAULT_LEASE_TTL_MS;
}
