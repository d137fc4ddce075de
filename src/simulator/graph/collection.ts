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
  /**
   * Append-only (seq, id) log in increasing seq order, so `since(seq)` starts with a binary search instead of a
   * scan (a delta page costs its own size, not the collection's). Superseded rows are skipped and compacted away.
   */
  private log: Array<{ seq: number; id: string }> = [];
  private stale = 0;

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
    if (previous) this.stale += 1;
    this.log.push({ seq: change.seq, id });
    this.compact();
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
    this.stale += 1;
    this.log.push({ seq: change.seq, id });
    this.compact();
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

  /** Entries (tombstones included) whose last change is after `seq`, in change order. */
  *since(seq: number): IterableIterator<Entry<T>> {
    let lo = 0;
    let hi = this.log.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.log[mid].seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.log.length; i++) {
      const row = this.log[i];
      const entry = this.entries.get(row.id);
      if (entry && entry.seq === row.seq) yield entry;
    }
  }

  clear(): void {
    this.entries.clear();
    this.liveCount = 0;
    this.log = [];
    this.stale = 0;
  }

  private compact(): void {
    if (this.stale < 1024 || this.stale * 2 < this.log.length) return;
    this.log = [...this.entries.values()].map((e) => ({ seq: e.seq, id: e.id }));
    this.stale = 0;
  }
}
