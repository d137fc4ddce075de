/**
 * A poller's cursors in cluster mode (docs/cluster.md): one owner per (poller node, resource), held with a
 * `LeaseKeeper` on `poller:<nodeId>:<objectType>`. A new owner first sends the events the previous one left pending
 * (same eventIds), then continues from the stored cursor. Every write (cursor + the round's pending events, BEFORE
 * the send) is fenced with the lease's fencing number: a stale owner's write is refused (`StaleFenceError`), it stops
 * acting on that resource and its keeper acquires again. A resource nobody recorded a starting point for starts at
 * this instance's `begin` time.
 */
import { startCursor, type PollerCursor } from '../changes';
import type { PollerCursorStore } from '../changes/cursor-store';
import type { Ms365Event } from '../events';
import { StaleFenceError } from './errors';
import { LeaseKeeper } from './lease-keeper';
import { leaseNames, type CursorStore, type Lease, type LeaseStore } from './types';

const RETRY_OPEN_MS = 5_000;

export interface ClusterCursorOptions {
  /** The cluster's shared state (waits for the connection). */
  open(): Promise<{ leases: LeaseStore; cursors: CursorStore }>;
  nodeId: string;
  keys: string[];
  ttlMs: number;
  /** Sends again the events a previous owner left pending. */
  resend(events: Ms365Event[]): void;
  /** Ownership of a key changed (acquired and ready, or lost). */
  onChange?(key: string, owned: boolean): void;
  onError?(err: Error): void;
}

interface Entry {
  name: string;
  keeper?: LeaseKeeper;
  /** The lease this instance acts under, once the key's record is loaded (pending resent). */
  lease?: Lease;
  cursor?: PollerCursor;
  sentPending: boolean;
}

export class ClusterPollerCursors implements PollerCursorStore {
  private epochValue = 0;
  private beginAt: number | undefined;
  private readonly entries = new Map<string, Entry>();
  private store?: { leases: LeaseStore; cursors: CursorStore };
  private closed = false;
  private openError: Error | undefined;
  private retry: NodeJS.Timeout | undefined;

  constructor(private readonly options: ClusterCursorOptions) {
    for (const key of options.keys) this.entries.set(key, { name: leaseNames.poller(options.nodeId, key), sentPending: false });
  }

  get epoch(): number {
    return this.epochValue;
  }

  get(key: string): PollerCursor | undefined {
    return this.entries.get(key)?.cursor;
  }

  owns(key: string): boolean {
    const entry = this.entries.get(key);
    const current = entry?.keeper?.current();
    return Boolean(entry?.lease && current && current.fence === entry.lease.fence);
  }

  startRound(): void {}

  /** Starts holding every key; resolves when each is either ours (loaded) or held by another instance. */
  async begin(keys: string[], at: number): Promise<void> {
    this.beginAt ??= at;
    if (!this.store) {
      try {
        this.store = await this.options.open();
        this.openError = undefined;
      } catch (err) {
        // Redis not usable yet: tried again (the cluster node retries its connection), nobody owns anything here.
        this.openError = err as Error;
        if (!this.closed) this.retry = setTimeout(() => void this.begin(keys, at).catch(() => undefined), RETRY_OPEN_MS);
        throw err;
      }
    }
    const store = this.store;
    if (this.closed) return;
    for (const key of keys) {
      const entry = this.entries.get(key);
      if (!entry || entry.keeper) continue;
      entry.keeper = new LeaseKeeper({
        leases: store.leases,
        name: entry.name,
        ttlMs: this.options.ttlMs,
        onAcquired: (lease) => void this.takeOver(entry, key, lease),
        onLost: () => this.drop(entry, key),
        onError: (err) => this.options.onError?.(err),
      });
      entry.keeper.start();
    }
    // Settled when every key is ours and loaded, or held by someone else (bounded: the status says the rest).
    const deadline = Date.now() + Math.max(2_000, this.options.ttlMs);
    for (const key of keys) {
      const entry = this.entries.get(key);
      while (entry && !this.closed && Date.now() < deadline && !entry.lease) {
        const holder = await store.leases.holder(entry.name).catch(() => undefined);
        if (holder && holder.owner !== store.leases.owner) break;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    }
  }

  /**
   * `msg.reset`, for the whole cluster whichever instance receives it: a key this instance owns is written under its
   * lease; any other key is reset in Redis with a fresh fencing number (`CursorStore.reset`), so its owner's next
   * write is refused: it sends nothing of that round, acquires again and goes on from the new starting point.
   */
  async restart(keys: string[], at: number): Promise<void> {
    this.epochValue += 1;
    for (const key of keys) {
      const entry = this.entries.get(key);
      if (!entry) continue;
      if (this.owns(key) && entry.lease && (await this.write(entry, key, { cursor: startCursor(at), pending: [] }))) continue;
      const store = this.store ?? (await this.options.open());
      await store.cursors.reset(entry.name, { cursor: startCursor(at), pending: [] });
    }
  }

  async beforeSend(key: string, cursor: PollerCursor | undefined, events: Ms365Event[]): Promise<boolean> {
    const entry = this.entries.get(key);
    if (!entry?.lease || !this.owns(key)) return false;
    const next = cursor ?? entry.cursor;
    if (!(await this.write(entry, key, { cursor: next, pending: events.slice() }))) return false;
    entry.sentPending = events.length > 0;
    return true;
  }

  async afterSend(key: string): Promise<void> {
    const entry = this.entries.get(key);
    if (!entry?.sentPending || !entry.lease || !this.owns(key)) return;
    entry.sentPending = false;
    await this.write(entry, key, { cursor: entry.cursor, pending: [] });
  }

  /** Rejects with the connection error while the cluster's Redis cannot be used. */
  async standbyOwner(): Promise<string | undefined> {
    if (this.openError) throw this.openError;
    if (!this.store || [...this.entries.keys()].some((key) => this.owns(key))) return undefined;
    for (const entry of this.entries.values()) {
      const holder = await this.store.leases.holder(entry.name).catch(() => undefined);
      if (holder && holder.owner !== this.store.leases.owner) return holder.owner;
    }
    return undefined;
  }

  async close(removed: boolean): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    for (const entry of this.entries.values()) {
      if (removed && entry.lease && this.store) await this.store.cursors.remove(entry.lease).catch(() => undefined);
      await entry.keeper?.stop();
    }
  }

  /** A fenced write; false (and the key dropped) when this instance no longer owns it. */
  private async write(entry: Entry, key: string, record: { cursor?: PollerCursor; pending: Ms365Event[] }): Promise<boolean> {
    const lease = entry.lease;
    if (!lease || !this.store) return false;
    try {
      await this.store.cursors.save(lease, record.cursor ? record : { pending: record.pending });
      entry.cursor = record.cursor;
      return true;
    } catch (err) {
      if (!(err instanceof StaleFenceError)) throw err;
      // Stop acting on it, then acquire again (the keeper releases what it thinks it holds and starts over). A reset
      // by another instance (`msg.reset`) is no error: the next acquisition reads the new starting point.
      if (err.reason !== 'reset') this.options.onError?.(err);
      this.drop(entry, key);
      const keeper = entry.keeper;
      void keeper?.stop().then(() => {
        if (!this.closed) keeper.start();
      });
      return false;
    }
  }

  /** The lease is ours: resend what a previous owner left pending, then go on from its cursor. */
  private async takeOver(entry: Entry, key: string, lease: Lease): Promise<void> {
    const store = this.store;
    if (!store) return;
    try {
      const record = (await store.cursors.read(entry.name))?.value;
      if (record?.pending.length) this.options.resend(record.pending);
      const cursor = record?.cursor ?? (this.beginAt !== undefined ? startCursor(this.beginAt) : undefined);
      if (record?.pending.length || !record?.cursor) await store.cursors.save(lease, cursor ? { cursor, pending: [] } : { pending: [] });
      if (entry.keeper?.current()?.fence !== lease.fence) return;
      entry.cursor = cursor;
      entry.lease = lease;
      entry.sentPending = false;
      this.options.onChange?.(key, true);
    } catch (err) {
      this.options.onError?.(err as Error);
    }
  }

  private drop(entry: Entry, key: string): void {
    const had = Boolean(entry.lease);
    entry.lease = undefined;
    entry.cursor = undefined;
    entry.sentPending = false;
    if (had) this.options.onChange?.(key, false);
  }
}
