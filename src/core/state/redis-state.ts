/**
 * The Redis implementation of the shared state (`./types`, docs/cluster.md). Keys, under the cluster's prefix:
 *
 * | key                          | type   | what                                                              |
 * |------------------------------|--------|-------------------------------------------------------------------|
 * | `<p>:lease:{<name>}`         | string | `<fence>:<owner>`, PX = lease TTL                                 |
 * | `<p>:fence:{<name>}`         | string | the lease's fencing counter (INCR), never expires                 |
 * | `<p>:cursor:{<name>}`        | hash   | `fence`, `value` (JSON `CursorRecord`)                            |
 * | `<p>:subs:{<name>}`          | hash   | `fence`, `value` (JSON `SubscriptionRecord[]`)                    |
 * | `<p>:token:{token:<id>}`     | hash   | `version`, `value` (the connector's encrypted token record)       |
 * | `<p>:dedupe:<sha256>`        | string | a claimed notification key, EX = the dedupe TTL                   |
 * | `<p>:heard:{<name>}`         | hash   | `watermark`: a catch-up bookmark's window start (only grows)      |
 * | `<p>:heardv:{<name>}`        | zset   | versions notifications delivered in that window (score updatedMs) |
 * | `<p>:lifecycle:{<name>}`     | list   | lifecycle notifications for the subscription owner (JSON)         |
 * | `<p>:lifecycle-signal`       | pubsub | node id: something was pushed to that node's list                 |
 *
 * The `{...}` hash tag keeps a lease and the records it guards in one Redis Cluster slot (the scripts touch both).
 */
import { createHash, randomBytes } from 'node:crypto';
import os from 'node:os';
import type Redis from 'ioredis';
import { parsePollerState } from '../changes/poller-state';
import { ConfigurationError } from '../errors';
import type { SubscriptionRecord } from '../webhooks/subscription-manager';
import { StaleFenceError, type StaleFenceReason } from './errors';
import { openRedisConnection, type RedisConnectionOptions } from './redis-connection';
import { ACQUIRE, ADVANCE_BOOKMARK, DRAIN_IF_HOLDER, FENCED_WRITE, RELEASE, RENEW, RESET_RECORD, VERSION_CAS, runScript } from './redis-scripts';
import { MAX_SEEN } from '../changes/filter-engine';
import {
  leaseNames,
  type BookmarkStore,
  type CompareAndSetResult,
  type HeardBookmark,
  type LifecycleQueue,
  type CursorRecord,
  type CursorStore,
  type DedupeStore,
  type Fenced,
  type Lease,
  type LeaseHolder,
  type LeaseStore,
  type QueueConnections,
  type SharedState,
  type SubscriptionStore,
  type TokenRecordStore,
  type Versioned,
} from './types';

export const DEFAULT_PREFIX = 'ms365';

export interface RedisStateOptions extends RedisConnectionOptions {
  /** Key prefix; default `ms365`. Letters, digits, `_ . : -`, at most 64. */
  prefix?: string;
  /** Owner id of this client (default: host, pid and a random part). */
  owner?: string;
}

export function validatePrefix(prefix: string | undefined): string {
  const value = prefix === undefined || prefix === '' ? DEFAULT_PREFIX : prefix;
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(value)) {
    throw new ConfigurationError('prefix', 'use 1 to 64 letters, digits or _ . : - (the cluster\'s Redis key prefix)');
  }
  return value;
}

/** A lease name as it goes inside a hash tag: `{`, `}`, `%` and white space percent-encoded. */
function tag(name: string): string {
  if (!name) throw new RangeError('a lease name must not be empty');
  return `{${name.replace(/[{}%\s]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`)}}`;
}

function checkTtl(ttlMs: number): void {
  if (!Number.isInteger(ttlMs) || ttlMs < 1) throw new RangeError(`lease TTL must be a positive whole number of ms, got ${ttlMs}`);
}

export class RedisKeys {
  constructor(readonly prefix: string) {}
  lease(name: string): string {
    return `${this.prefix}:lease:${tag(name)}`;
  }
  fence(name: string): string {
    return `${this.prefix}:fence:${tag(name)}`;
  }
  cursor(name: string): string {
    return `${this.prefix}:cursor:${tag(name)}`;
  }
  subscriptions(name: string): string {
    return `${this.prefix}:subs:${tag(name)}`;
  }
  token(connectorId: string): string {
    return `${this.prefix}:token:${tag(leaseNames.token(connectorId))}`;
  }
  heard(name: string): string {
    return `${this.prefix}:heard:${tag(name)}`;
  }
  heardVersions(name: string): string {
    return `${this.prefix}:heardv:${tag(name)}`;
  }
  lifecycle(nodeId: string): string {
    return `${this.prefix}:lifecycle:${tag(leaseNames.subscriptions(nodeId))}`;
  }
  get lifecycleChannel(): string {
    return `${this.prefix}:lifecycle-signal`;
  }
  dedupe(key: string): string {
    return `${this.prefix}:dedupe:${createHash('sha256').update(key).digest('base64url')}`;
  }
}

const holderValue = (lease: Lease) => `${lease.fence}:${lease.owner}`;

function staleFrom(lease: Lease, reply: unknown[], offset: number): StaleFenceError {
  const reason = String(reply[offset]) as StaleFenceReason;
  const current = Number(reply[offset + 1]);
  return new StaleFenceError(lease.name, lease.fence, reason, current > 0 ? current : undefined);
}

export class RedisLeaseStore implements LeaseStore {
  constructor(
    private readonly client: Redis,
    private readonly keys: RedisKeys,
    readonly owner: string,
  ) {}

  async acquire(name: string, ttlMs: number): Promise<Lease | undefined> {
    checkTtl(ttlMs);
    const reply = (await runScript(this.client, ACQUIRE, [this.keys.lease(name), this.keys.fence(name)], [this.owner, ttlMs])) as number[];
    if (Number(reply[0]) !== 1) return undefined;
    return { name, owner: this.owner, fence: Number(reply[1]), ttlMs };
  }

  async renew(lease: Lease): Promise<boolean> {
    return Number(await runScript(this.client, RENEW, [this.keys.lease(lease.name)], [holderValue(lease), lease.ttlMs])) === 1;
  }

  async release(lease: Lease): Promise<boolean> {
    return Number(await runScript(this.client, RELEASE, [this.keys.lease(lease.name)], [holderValue(lease)])) === 1;
  }

  async holder(name: string): Promise<LeaseHolder | undefined> {
    const key = this.keys.lease(name);
    const [value, pttl] = await Promise.all([this.client.get(key), this.client.pttl(key)]);
    const match = value ? /^(\d+):(.*)$/.exec(value) : null;
    if (!match) return undefined;
    return { fence: Number(match[1]), owner: match[2], remainingMs: Math.max(0, pttl) };
  }
}

/** Records written only under their lease (cursor records, subscription records). */
class FencedRecords<T> {
  constructor(
    private readonly client: Redis,
    private readonly keys: RedisKeys,
    private readonly recordKey: (name: string) => string,
    private readonly parse: (value: unknown) => T | undefined,
  ) {}

  async read(name: string): Promise<Fenced<T> | undefined> {
    const hash = await this.client.hgetall(this.recordKey(name));
    if (!hash || hash.value === undefined) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(hash.value);
    } catch {
      return undefined;
    }
    const value = this.parse(parsed);
    return value === undefined ? undefined : { value, fence: Number(hash.fence) || 0 };
  }

  async write(lease: Lease, value: T | undefined): Promise<void> {
    const reply = (await runScript(
      this.client,
      FENCED_WRITE,
      [this.keys.lease(lease.name), this.recordKey(lease.name)],
      [holderValue(lease), lease.fence, value === undefined ? '' : JSON.stringify(value), value === undefined ? 'del' : 'set'],
    )) as unknown[];
    if (Number(reply[0]) !== 1) throw staleFrom(lease, reply, 1);
  }
}

function parseCursorRecord(value: unknown): CursorRecord | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as { cursor?: unknown; pending?: unknown };
  // The poller state file's validation, reused: one resource's cursor and the round's events.
  const state = parsePollerState({ seq: 0, cursors: record.cursor === undefined ? {} : { r: record.cursor }, pending: record.pending });
  if (!state) return undefined;
  return state.cursors.r ? { cursor: state.cursors.r, pending: state.pending } : { pending: state.pending };
}

function parseSubscriptionRecords(value: unknown): SubscriptionRecord[] | undefined {
  if (!Array.isArray(value)) return undefined;
  return value.filter(
    (r): r is SubscriptionRecord =>
      typeof r === 'object' && r !== null && typeof r.id === 'string' && typeof r.resource === 'string' && typeof r.changeType === 'string' && typeof r.expirationDateTime === 'string',
  );
}

class RedisCursorStore implements CursorStore {
  private readonly records: FencedRecords<CursorRecord>;
  constructor(
    private readonly client: Redis,
    private readonly keys: RedisKeys,
  ) {
    this.records = new FencedRecords(client, keys, (n) => keys.cursor(n), parseCursorRecord);
  }
  read(name: string) {
    return this.records.read(name);
  }
  save(lease: Lease, record: CursorRecord) {
    return this.records.write(lease, { ...(record.cursor ? { cursor: record.cursor } : {}), pending: record.pending });
  }
  remove(lease: Lease) {
    return this.records.write(lease, undefined);
  }
  async reset(name: string, record: CursorRecord): Promise<void> {
    const value = JSON.stringify({ ...(record.cursor ? { cursor: record.cursor } : {}), pending: record.pending });
    await runScript(this.client, RESET_RECORD, [this.keys.fence(name), this.keys.cursor(name)], [value]);
  }
}

class RedisSubscriptionStore implements SubscriptionStore {
  private readonly records: FencedRecords<SubscriptionRecord[]>;
  constructor(client: Redis, keys: RedisKeys) {
    this.records = new FencedRecords(client, keys, (n) => keys.subscriptions(n), parseSubscriptionRecords);
  }
  read(name: string) {
    return this.records.read(name);
  }
  save(lease: Lease, records: SubscriptionRecord[]) {
    return this.records.write(lease, records);
  }
  remove(lease: Lease) {
    return this.records.write(lease, undefined);
  }
}

export class RedisTokenRecordStore implements TokenRecordStore {
  constructor(
    private readonly client: Redis,
    private readonly keys: RedisKeys,
  ) {}

  async read(connectorId: string): Promise<Versioned<string> | undefined> {
    const hash = await this.client.hgetall(this.keys.token(connectorId));
    if (!hash || hash.value === undefined || hash.version === undefined) return undefined;
    return { value: hash.value, version: Number(hash.version) };
  }

  async compareAndSet(connectorId: string, expectedVersion: number, value: string, lease?: Lease): Promise<CompareAndSetResult<string>> {
    if (!Number.isInteger(expectedVersion) || expectedVersion < 0) throw new RangeError(`expected version must be a whole number >= 0, got ${expectedVersion}`);
    if (lease && lease.name !== leaseNames.token(connectorId)) throw new RangeError(`lease ${lease.name} does not guard the token of ${connectorId}`);
    const reply = (await runScript(
      this.client,
      VERSION_CAS,
      [this.keys.token(connectorId), this.keys.lease(leaseNames.token(connectorId))],
      [expectedVersion, value, lease ? holderValue(lease) : ''],
    )) as unknown[];
    const status = Number(reply[0]);
    if (status === 1) return { ok: true, version: Number(reply[1]) };
    if (status === -1 && lease) throw staleFrom(lease, reply, 1);
    const version = Number(reply[1]);
    const current = typeof reply[2] === 'string' && version > 0 ? { value: reply[2], version } : undefined;
    return { ok: false, current };
  }

  async remove(connectorId: string): Promise<void> {
    await this.client.del(this.keys.token(connectorId));
  }
}

export class RedisDedupeStore implements DedupeStore {
  constructor(
    private readonly client: Redis,
    private readonly keys: RedisKeys,
  ) {}

  async claim(key: string, ttlSeconds: number): Promise<boolean> {
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) throw new RangeError(`dedupe TTL must be a positive whole number of seconds, got ${ttlSeconds}`);
    return (await this.client.set(this.keys.dedupe(key), '1', 'EX', ttlSeconds, 'NX')) === 'OK';
  }
}

export class RedisBookmarkStore implements BookmarkStore {
  constructor(
    private readonly client: Redis,
    private readonly keys: RedisKeys,
  ) {}

  async advance(name: string, watermark: number, seen: Array<[string, number]>): Promise<void> {
    if (!Number.isFinite(watermark)) throw new RangeError(`bookmark watermark must be a number of ms, got ${watermark}`);
    const pairs = seen.filter(([, at]) => Number.isFinite(at)).flatMap(([key, at]) => [key, Math.round(at)]);
    await runScript(this.client, ADVANCE_BOOKMARK, [this.keys.heard(name), this.keys.heardVersions(name)], [Math.round(watermark), MAX_SEEN, ...pairs]);
  }

  async read(name: string): Promise<HeardBookmark | undefined> {
    const [watermark, versions] = await Promise.all([this.client.hget(this.keys.heard(name), 'watermark'), this.client.zrange(this.keys.heardVersions(name), '0', '-1', 'WITHSCORES')]);
    if (watermark === null) return undefined;
    const seen: Array<[string, number]> = [];
    for (let i = 0; i + 1 < versions.length; i += 2) seen.push([versions[i]!, Number(versions[i + 1])]);
    return { watermark: Number(watermark), seen };
  }

  async remove(name: string): Promise<void> {
    await this.client.del(this.keys.heard(name), this.keys.heardVersions(name));
  }
}

export class RedisLifecycleQueue implements LifecycleQueue {
  private subscriber: Redis | undefined;
  private readonly watchers = new Map<string, Set<() => void>>();

  constructor(
    private readonly client: Redis,
    private readonly keys: RedisKeys,
  ) {}

  async push(nodeId: string, item: string): Promise<void> {
    await this.client.rpush(this.keys.lifecycle(nodeId), item);
    await this.client.publish(this.keys.lifecycleChannel, nodeId);
  }

  async drain(lease: Lease): Promise<string[]> {
    const nodeId = lease.name.slice('subscriptions:'.length);
    if (lease.name !== leaseNames.subscriptions(nodeId)) throw new RangeError(`lease ${lease.name} is not a subscription lease`);
    const reply = (await runScript(this.client, DRAIN_IF_HOLDER, [this.keys.lease(lease.name), this.keys.lifecycle(nodeId)], [holderValue(lease)])) as unknown[];
    return Number(reply[0]) === 1 ? reply.slice(1).map(String) : [];
  }

  watch(nodeId: string, onSignal: () => void): () => void {
    if (!this.subscriber) {
      // One subscriber connection per state client (pub/sub takes a connection of its own), for every node.
      const subscriber = (this.subscriber = this.client.duplicate());
      subscriber.on('error', () => undefined); // reconnects by itself; the list is drained at takeover anyway
      subscriber.on('message', (_channel: string, id: string) => {
        for (const watcher of this.watchers.get(id) ?? []) watcher();
      });
      void subscriber.subscribe(this.keys.lifecycleChannel).catch(() => undefined);
    }
    let set = this.watchers.get(nodeId);
    if (!set) this.watchers.set(nodeId, (set = new Set()));
    const entry = () => onSignal();
    set.add(entry);
    return () => {
      set.delete(entry);
      if (!set.size) this.watchers.delete(nodeId);
    };
  }

  close(): void {
    this.subscriber?.disconnect();
    this.subscriber = undefined;
  }
}

export function defaultOwnerId(): string {
  return `${os.hostname()}:${process.pid}:${randomBytes(6).toString('hex')}`;
}

export class RedisSharedState implements SharedState {
  readonly keys: RedisKeys;
  readonly leases: RedisLeaseStore;
  readonly tokens: RedisTokenRecordStore;
  readonly cursors: CursorStore;
  readonly subscriptions: SubscriptionStore;
  readonly dedupe: RedisDedupeStore;
  readonly bookmarks: RedisBookmarkStore;
  readonly lifecycle: RedisLifecycleQueue;
  readonly queues: QueueConnections;

  constructor(
    readonly client: Redis,
    prefix: string,
    owner: string,
    readonly target: string,
    readonly warnings: readonly string[] = [],
  ) {
    this.keys = new RedisKeys(prefix);
    this.leases = new RedisLeaseStore(client, this.keys, owner);
    this.tokens = new RedisTokenRecordStore(client, this.keys);
    this.cursors = new RedisCursorStore(client, this.keys);
    this.subscriptions = new RedisSubscriptionStore(client, this.keys);
    this.dedupe = new RedisDedupeStore(client, this.keys);
    this.bookmarks = new RedisBookmarkStore(client, this.keys);
    this.lifecycle = new RedisLifecycleQueue(client, this.keys);
    // Same server, credentials and reconnect backoff as the checked client; commands wait while Redis is away.
    this.queues = { prefix: `${prefix}:bull`, createClient: () => client.duplicate({ maxRetriesPerRequest: null }) };
  }

  async close(): Promise<void> {
    this.lifecycle.close();
    try {
      await Promise.race([this.client.quit(), new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
    } catch {
      // already closed
    }
    this.client.disconnect();
  }
}

/** Connects, checks the server (`./redis-connection`) and returns the shared state; throws the typed errors. */
export async function openRedisState(options: RedisStateOptions): Promise<RedisSharedState> {
  const prefix = validatePrefix(options.prefix);
  const owner = options.owner ?? defaultOwnerId();
  const connection = await openRedisConnection(options);
  return new RedisSharedState(connection.client, prefix, owner, connection.target, connection.warnings);
}
