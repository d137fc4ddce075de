/**
 * Group commit for the package's append-only journals (`ms365-callback-out`'s outbox, `ms365-webhook-in`'s
 * notification journal): the lines appended while a write is under way share the next write, and one sync when any of
 * them waits for one (a synced append resolves once its line is on disk). Lines that need no sync (records whose loss
 * in a crash costs a repeat, never a loss) ride along with the next write, or go out after `lazyMs`. Writes, and any
 * task given to `exclusive` (a read of the file, a compaction), run one at a time, in order.
 */

export interface GroupCommitOptions<L> {
  /** Writes `lines` in order, in one write as a rule; with `sync`, resolves once they are on disk. */
  write(lines: L[], sync: boolean): Promise<void>;
  /** Lines that are due now, added before the appended ones to each write (asked when the write starts). */
  due?(): L[];
  /** After each write, still before the next one (`ok`: the write succeeded), e.g. a compaction when due. */
  afterWrite?(ok: boolean): Promise<void>;
  /** How long an unsynced line may wait for company (ms, default 20). */
  lazyMs?: number;
  /**
   * Start a write only after the event loop's check phase: every request read in the same turn joins the group
   * (default false: at once, after the writes already scheduled).
   */
  gatherTurn?: boolean;
}

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

export class GroupCommit<L> {
  private chain: Promise<void> = Promise.resolve();
  private pending: L[] = [];
  private waiting: Waiter[] = [];
  private scheduled = false;
  private lazyTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private syncs = 0;

  constructor(private readonly o: GroupCommitOptions<L>) {}

  /** How many synced writes there were: one per group of synced appends that came together. */
  get syncCount(): number {
    return this.syncs;
  }

  /** Lines appended and not yet handed to a write (a compaction waits for a write without any). */
  get pendingCount(): number {
    return this.pending.length;
  }

  /** Appends `lines`; with `sync`, resolves once they are on disk (rejects if the write fails). */
  append(lines: readonly L[], sync: boolean): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the journal is closed'));
    this.pending.push(...lines);
    if (!sync) {
      if (!this.scheduled && !this.lazyTimer) {
        this.lazyTimer = setTimeout(() => {
          this.lazyTimer = undefined;
          this.schedule();
        }, this.o.lazyMs ?? 20);
        this.lazyTimer.unref();
      }
      return Promise.resolve();
    }
    const done = new Promise<void>((resolve, reject) => this.waiting.push({ resolve, reject }));
    this.schedule();
    return done;
  }

  /** Runs `task` after the writes scheduled so far and before any later one (a read of the file, a compaction). */
  exclusive<T>(task: () => Promise<T>): Promise<T> {
    const result = this.chain.then(task);
    this.chain = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /** No more appends; resolves once what was scheduled is written (what waits lazily is written now). */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.lazyTimer || this.pending.length) this.schedule();
    this.closed = true;
    await this.chain.catch(() => undefined);
  }

  private schedule(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    if (this.lazyTimer) clearTimeout(this.lazyTimer);
    this.lazyTimer = undefined;
    const start = this.o.gatherTurn ? this.chain.then(() => new Promise<void>((resolve) => setImmediate(resolve))) : this.chain;
    this.chain = start.then(() => this.writePending());
  }

  /** One write (and one sync when anyone waits for it) for everything appended since the last one. */
  private async writePending(): Promise<void> {
    this.scheduled = false;
    const waiting = this.waiting;
    this.waiting = [];
    const lines = [...(this.o.due?.() ?? []), ...this.pending];
    this.pending = [];
    let ok = true;
    try {
      if (lines.length || waiting.length) await this.o.write(lines, waiting.length > 0);
      if (waiting.length) this.syncs += 1;
      for (const w of waiting) w.resolve();
    } catch (err) {
      ok = false;
      for (const w of waiting) w.reject(err);
    }
    await this.o.afterWrite?.(ok).catch(() => undefined);
  }
}
