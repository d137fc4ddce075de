/**
 * The poller's cursor store, chosen by its connector (`core/changes/cursor-store`): without a cluster the state file
 * of `durable-cursors` (the round's events accumulate as pending, as before); with one, `ClusterPollerCursors` on the
 * cluster's Redis (one owner per resource, fenced writes). Lease TTL: `ms365ClusterLeaseMs` in settings.js
 * (default 15 s): a failover takes at most about that plus one poll interval.
 */
import type { Node, NodeAPI } from 'node-red';
import type { Ms365Event } from '../../core/events';
import type { PollerCursorStore } from '../../core/changes/cursor-store';
import { ClusterPollerCursors } from '../../core/state/cluster-cursors';
import { leaseTtlMs, type ClusterNode } from './cluster-api';
import { durableCursors } from './durable-cursors';

export interface PollerCursorOptions {
  keys: string[];
  resend(events: Ms365Event[]): void;
  /** Cluster: this instance started or stopped owning a resource. */
  onOwnership(key: string, owned: boolean): void;
  onError(err: Error): void;
}

export function pollerCursors(RED: NodeAPI, node: Node, cluster: ClusterNode | undefined, options: PollerCursorOptions): PollerCursorStore {
  if (cluster) {
    let last = '';
    // One warning per distinct problem (a keeper retries every TTL/3 while Redis is away).
    const onError = (err: Error) => {
      if (err.message !== last) options.onError(err);
      last = err.message;
    };
    return new ClusterPollerCursors({
      open: () => cluster.state(),
      nodeId: node.id,
      keys: options.keys,
      ttlMs: leaseTtlMs(RED),
      resend: options.resend,
      onChange: options.onOwnership,
      onError,
    });
  }
  const durable = durableCursors(RED, node, { filePrefix: 'poller', contextKey: 'pollerState', label: 'ms365-poller', resend: options.resend });
  let round: Ms365Event[] = [];
  return {
    get epoch() {
      return durable.epoch;
    },
    get: (key) => durable.get(key),
    begin: (keys, at) => durable.begin(keys, at),
    restart: (keys, at) => durable.restart(keys, at),
    owns: () => true,
    startRound: () => {
      round = [];
    },
    // One state file for every resource: the round's events so far are pending together.
    beforeSend: async (key, cursor, events) => {
      round.push(...events);
      await durable.beforeSend(key, cursor, round);
      return true;
    },
    afterSend: () => durable.afterSend(),
    standbyOwner: async () => undefined,
    close: (removed) => durable.close(removed),
  };
}
