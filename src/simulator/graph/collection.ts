/**
 * One collection of simulated objects (the messages, events, contacts or drive items of one user), kept in
 * change-sequence order: every create/update/delete takes the store's next sequence number and moves the entry
 * to the end of the Map, so "what changed since sequence N" (delta, `reference/graph.md` §5) is a scan in
 * order, and deleted objects stay as tombstones so a delta round can report them. 100,000 objects per
 * collection are fine: all operations are O(1) except listing and delta, which are one pass.
 */
export interface Entry<T> {
  readonly id: string;
  obj: T;
  /** Change sequence number of the last change (store-wide, increasing). */
  seq: number;
  /** Simulated time of the last change (ms). */
  changedAt: number;
  deleted: boolean;
  /** Mail folder id (messages), calendar id (events), contact folder id, drive id (drive items). */
  scope: string;
  /** Before this simulated time, `$filter` listings do not see the object (late indexing, §6 pitfall). */
  visibleAt: number;
}

export class Collection<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private liveCount = 0;

  get size(): number {
    return this.liveCount;
  }

  /** A live (not deleted) entry. */
  get(id: string): Entry<T> | undefined {
    const entry = this.entries.get(id);
    return entry && !entry.deleted ? entry : undefined;
  }

  /** Create or replace an object; the entry moves to the end of the change order. */
  put(id: string, obj: T, change: { seq: number; at: number; scope: string; visibleAt?: number }): Entry<T> {
    const previous = this.entries.get(id);
    if (previous) this.entries.delete(id);
    if (!previous || previous.deleted) this.liveCount += 1;
    const entry: Entry<T> = {
      id,
      obj,
      seq: change.seq,
      changedAt: change.at,
      deleted: false,
      scope: change.scope,
      visibleAt: change.visibleAt ?? previous?.visibleAt ?? 0,
    };
    this.entries.set(id, entry);
    return entry;
  }

  /** Mark deleted (kept as a tombstone for delta); returns the tombstone, or undefined if not live. */
  remove(id: string, change: { seq: number; at: number }): Entry<T> | undefined {
    const entry = this.get(id);
    if (!entry) return undefined;
    this.entries.delete(id);
    entry.deleted = true;
    entry.seq = change.seq;
    entry.changedAt = change.at;
    this.entries.set(id, entry);
    this.liveCount -= 1;
    return entry;
  }

  /** Live entries, oldest change first. */
  *live(): IterableIterator<Entry<T>> {
    for (const entry of this.entries.values()) if (!entry.deleted) yield entry;
  }

  /** Every entry (tombstones included), in change order. */
  all(): IterableIterator<Entry<T>> {
    return this.entries.values();
  }

  clear(): void {
    this.entries.clear();
    this.liveCount = 0;
  }
}
