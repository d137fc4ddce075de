/**
 * Where state lives (ARCHITECTURE `state/`): the interface the nodes choose an implementation of. Today the nodes keep
 * their state in the user directory (`core/changes/poller-state`, `core/auth/token-store`, node context); with an
 * `ms365-cluster` config node (CONTRACT "ms365-cluster") they will keep it in Redis (`./redis-state`) so several
 * Node-RED instances share the work. docs/cluster.md describes the protocol.
 *
 * Ownership is by lease: one holder per lease name at a time, each acquisition numbered by a fencing number that
 * only grows. Every shared write names the lease it is made under and is refused (`StaleFenceError`) unless that
 * lease is still held with that fencing number: a paused ex-owner's late write never lands.
 */
import type Redis from 'ioredis';
import type { PollerCursor } from '../changes';
import type { Ms365Event } from '../events';
import type { SubscriptionRecord } from '../webhooks/subscription-manager';

/** One acquisition of a lease. */
export interface Lease {
  /** The lease name (`leaseNames`). */
  readonly name: string;
  /** The holder: one id per state client (instance). */
  readonly owner: string;
  /** Grows with every acquisition of this name, across owners and restarts (while Redis persists). */
  readonly fence: number;
  readonly ttlMs: number;
}

/** Who holds a lease now. */
export interface LeaseHolder {
  owner: string;
  fence: number;
  /** Milliseconds left before it expires. */
  remainingMs: number;
}

export interface LeaseStore {
  /** Owner id of this client. */
  readonly owner: string;
  /**
   * Takes the lease when nobody holds it (a new fencing number), or extends it when this owner already holds it (same
   * fencing number); undefined when another owner holds it.
   */
  acquire(name: string, ttlMs: number): Promise<Lease | undefined>;
  /** Extends the lease by its TTL; false when it is no longer held by this acquisition (expired or taken over). */
  renew(lease: Lease): Promise<boolean>;
  /** Gives the lease up; false when this acquisition no longer held it. */
  release(lease: Lease): Promise<boolean>;
  holder(name: string): Promise<LeaseHolder | undefined>;
}

/** A value with the version it was stored at (1 for the first write). */
export interface Versioned<T> {
  value: T;
  version: number;
}

export type CompareAndSetResult<T> = { ok: true; version: number } | { ok: false; current: Versioned<T> | undefined };

/**
 * A connector's token record, shared by every instance. The value is opaque to the store: the connector encrypts it
 * (as `core/auth/token-store` encrypts its file) before it leaves the process. Refresh is single-flight across
 * instances: read (version v), refresh, `compareAndSet(v)`; the loser gets the winner's record back and uses it
 * (Microsoft rotates the refresh token: the loser's own grant would sign the others out).
 */
export interface TokenRecordStore {
  read(connectorId: string): Promise<Versioned<string> | undefined>;
  /**
   * Writes `value` as version `expectedVersion + 1` when the stored version is `expectedVersion` (0: no record).
   * With `lease` (the connector's `leaseNames.token` lease) the write is also fenced (`StaleFenceError`).
   */
  compareAndSet(connectorId: string, expectedVersion: number, value: string, lease?: Lease): Promise<CompareAndSetResult<string>>;
  remove(connectorId: string): Promise<void>;
}

/** What a record guarded by a lease carries besides its value: the fencing number of its last write. */
export interface Fenced<T> {
  value: T;
  fence: number;
}

/**
 * The cursor of one poller resource (or of one webhook drive resolution / catch-up bookmark) and the events of its
 * current round, written BEFORE they are sent (as `core/changes/poller-state` does in the state file): after a crash
 * or a failover the new owner sends `pending` again (same eventIds) and resumes from `cursor`.
 */
export interface CursorRecord {
  cursor?: PollerCursor;
  pending: Ms365Event[];
}

export interface CursorStore {
  /** The record guarded by lease `name`; undefined when none was written. */
  read(name: string): Promise<Fenced<CursorRecord> | undefined>;
  /** Fenced write under `lease` (the record of `lease.name`). */
  save(lease: Lease, record: CursorRecord): Promise<void>;
  /** Fenced removal (the node was removed from the flows). */
  remove(lease: Lease): Promise<void>;
  /**
   * `msg.reset` from any instance: `record` replaces the one of lease `name` under a fresh fencing number, so whoever
   * holds the lease has its next write refused (`StaleFenceError` reason `reset`), acquires again and re-reads.
   */
  reset(name: string, record: CursorRecord): Promise<void>;
}

/** A webhook-in node's Graph subscriptions, written by its subscription owner only. */
export interface SubscriptionStore {
  read(name: string): Promise<Fenced<SubscriptionRecord[]> | undefined>;
  save(lease: Lease, records: SubscriptionRecord[]): Promise<void>;
  remove(lease: Lease): Promise<void>;
}

/**
 * A webhook-in node's catch-up bookmark of one Outlook collection as every instance advances it (issue 17 item 3):
 * where a catch-up window opens (ms, Graph's clock; it only moves forward: a Lua max) and the versions notifications
 * delivered inside that window (`dedupeKey`, updatedMs), so the owner's catch-up does not emit them again. The
 * catch-up round's own cursor and its pending events are a fenced `CursorRecord` (lease `webhookCursor`).
 */
export interface HeardBookmark {
  /** Window start (ms): the largest ever advanced to. */
  watermark: number;
  /** `[dedupeKey, updatedMs]` delivered by notifications (pruned below the watermark's second, at most `MAX_SEEN`). */
  seen: Array<[string, number]>;
}

export interface BookmarkStore {
  /** Moves the window start of `name` to `watermark` unless it is already later, and remembers `seen` versions. */
  advance(name: string, watermark: number, seen: Array<[string, number]>): Promise<void>;
  read(name: string): Promise<HeardBookmark | undefined>;
  /** Forgets the bookmark (`msg.reset`, node removed). */
  remove(name: string): Promise<void>;
}

/**
 * Lifecycle notifications (`reauthorizationRequired`, `subscriptionRemoved`, `missed`) that reached an instance other
 * than the subscription owner, handed to the owner (issue 17): a Redis list per webhook-in node (durable: the owner
 * drains it when it takes over) and a pub/sub signal so the owner drains it at once.
 */
export interface LifecycleQueue {
  /** Appends `item` (JSON) to the node's list and signals the owner. */
  push(nodeId: string, item: string): Promise<void>;
  /** Everything queued for the node, removed atomically; only while `lease` (the node's subscription lease) holds. */
  drain(lease: Lease): Promise<string[]>;
  /** Calls `onSignal` when something is pushed for `nodeId` (any instance); returns the unsubscribe. */
  watch(nodeId: string, onSignal: () => void): () => void;
}

/** The notification dedupe set: a key is claimed once per TTL across every instance. */
export interface DedupeStore {
  /** True for the first claim of `key` within `ttlSeconds` (this instance handles it), false for a repeat. */
  claim(key: string, ttlSeconds: number): Promise<boolean>;
}

/**
 * Connections for BullMQ queues (callback-out's queue per node, `core/delivery/queue-sender`): BullMQ wants clients
 * of its own that wait for Redis instead of failing a command (`maxRetriesPerRequest: null`), under its own prefix.
 */
export interface QueueConnections {
  /** `<cluster prefix>:bull`. */
  readonly prefix: string;
  /** A new client on the cluster's server with its credentials; the caller closes it. */
  createClient(): Redis;
}

/** One shared-state client (one per `ms365-cluster` config node and instance). */
export interface SharedState {
  readonly leases: LeaseStore;
  readonly tokens: TokenRecordStore;
  readonly cursors: CursorStore;
  readonly subscriptions: SubscriptionStore;
  readonly dedupe: DedupeStore;
  readonly bookmarks: BookmarkStore;
  readonly lifecycle: LifecycleQueue;
  readonly queues: QueueConnections;
  /** What the connection checks could not establish (e.g. the eviction policy could not be read): to be logged. */
  readonly warnings: readonly string[];
  close(): Promise<void>;
}

/** Lease names of the cluster (node ids are the same on every instance: they run the same flows). */
export const leaseNames = {
  /** One poller owner per (poller node, resource). */
  poller: (nodeId: string, objectType: string): string => `poller:${nodeId}:${objectType}`,
  /** One subscription owner per webhook-in node (creates, renews, recreates, deletes its subscriptions). */
  subscriptions: (nodeId: string): string => `subscriptions:${nodeId}`,
  /** One drive resolution / catch-up at a time per (webhook-in node, cursor key). */
  webhookCursor: (nodeId: string, key: string): string => `webhook-cursor:${nodeId}:${key}`,
  /** One token refresher per connector. */
  token: (connectorId: string): string => `token:${connectorId}`,
};
