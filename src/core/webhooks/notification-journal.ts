/**
 * The notification journal of `ms365-webhook-in`: a batch Graph posts is written durably BEFORE it is answered 202
 * ("Receive change notifications through webhooks": persist, then answer; reference/graph.md §2.2: Graph does not
 * send a 2xx-answered notification again), so a crash between the answer and the events reaching a durable place
 * downstream loses nothing: at start-up the unfinished batches go through the receiver again (same eventIds, which
 * are derived from the notification, so downstream dedupe works).
 *
 * Records, one JSON line each (append-only, through a `JournalStorage`):
 *   {"op":"add","seq":N,"at":ms,"items":[...],"validationTokens":[...]}   a batch accepted (synced before the 202)
 *   {"op":"done","seq":N}                                                 its events were handed on (not waited for)
 * Group commit (`persistence/group-commit`): adds read in the same event-loop turn, or while a write is under way,
 * share the next write and its one sync. An entry is `handedOn` once every event of its batch has been sent; its
 * `done` record is written lazily, with a later write (or a timer), once `keepMs` have passed since (so the events had
 * time to reach a durable place downstream, e.g. `ms365-callback-out`'s outbox): losing a `done` record in a crash
 * means a replay (same eventIds), never a loss. A graceful close marks what was handed on as done. The file is
 * rewritten with the live entries at open and when dead records outnumber live ones COMPACT_DEAD_PER_LIVE times over,
 * plus COMPACT_MIN_RECORDS.
 * Unreadable lines (a torn last line after a crash, damage) are skipped with one warning; every readable entry is
 * still replayed.
 *
 * No secret in the journal: an item's `clientState` is checked before journaling and replaced by the result
 * (`clientStateOk: true`) or, when it does not match this node's own (cluster mode: another instance's subscription;
 * or a forgery), by its SHA-256 (`clientStateSha256`), which the receiver compares with the cluster's record hash.
 */
import type { NotificationBatch, NotificationItem } from './notifications';
import { GroupCommit } from '../persistence/group-commit';

/** Where the journal's lines live (a file with fdatasync in the adapter; memory in tests and without a user dir). */
export interface JournalStorage {
  /** Everything stored so far, or undefined when there is nothing. */
  read(): Promise<string | undefined>;
  /** Appends `text`; with `sync`, resolves once it is on disk. */
  append(text: string, sync: boolean): Promise<void>;
  /** Replaces the whole content with `text`, atomically (a crash leaves the old or the new). */
  rewrite(text: string): Promise<void>;
  /** Deletes what is stored (a removed node). */
  remove(): Promise<void>;
  close(): Promise<void>;
}

/** An item as journaled: without `clientState`, with the check's result or (no local match) the secret's hash. */
export type JournaledItem = Omit<NotificationItem, 'clientState'> & { clientStateOk?: true; clientStateSha256?: string };

/** What the journal remembers of a batch's clientState check, per item. */
export type ClientStateEvidence = { ok: true } | { sha256: string } | { none: true };

export interface ReplayedBatch {
  seq: number;
  /** When the batch was accepted (Graph's clock, ms). */
  at: number;
  batch: NotificationBatch;
  /** Per item (same order): the clientState evidence stored instead of the secret. */
  evidence: ClientStateEvidence[];
}

export interface JournalOpenReport {
  /** Unfinished batches, oldest first. */
  replay: ReplayedBatch[];
  /** Lines that could not be read. */
  skippedLines: number;
}

export interface NotificationJournalOptions {
  /** How long a handed-on entry is kept before its `done` record is written (default 2,000 ms). */
  keepMs?: number;
  now?: () => number;
  warn(message: string): void;
}

interface AddRecord {
  op: 'add';
  seq: number;
  at: number;
  items: JournaledItem[];
  validationTokens?: string[];
}

export const DEFAULT_JOURNAL_KEEP_MS = 2000;
const COMPACT_MIN_RECORDS = 1000;
/** Compaction rewrites the live lines once at least this many dead lines per live one were appended (amortized). */
const COMPACT_DEAD_PER_LIVE = 4;

/** The journaled form of `item`: `clientState` replaced by whether it `matches` this node's, or by its hash. */
export function journaledItem(item: NotificationItem, matches: boolean, sha256: (value: string) => string): JournaledItem {
  const { clientState, clientStateOk: _ok, clientStateSha256: _hash, ...rest } = item as NotificationItem & { clientStateOk?: unknown; clientStateSha256?: unknown };
  if (matches) return { ...rest, clientStateOk: true };
  return typeof clientState === 'string' ? { ...rest, clientStateSha256: sha256(clientState) } : rest;
}

function restored(item: JournaledItem): { item: NotificationItem; evidence: ClientStateEvidence } {
  const { clientStateOk, clientStateSha256, ...rest } = item;
  const evidence: ClientStateEvidence =
    clientStateOk === true ? { ok: true } : typeof clientStateSha256 === 'string' && /^[0-9a-f]{64}$/.test(clientStateSha256) ? { sha256: clientStateSha256 } : { none: true };
  return { item: rest as NotificationItem, evidence };
}

export class NotificationJournal {
  /** Live entries (added, no `done` written yet) by seq: their line, for compaction. */
  private readonly live = new Map<number, string>();
  /** Handed-on entries waiting for their `done` record: seq → when handed on. */
  private readonly finished = new Map<number, number>();
  private nextSeq = 1;
  private records = 0;
  private opened: Promise<JournalOpenReport> | undefined;
  private readonly commit: GroupCommit<string>;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly keepMs: number;
  private readonly now: () => number;

  constructor(
    private readonly storage: JournalStorage,
    private readonly o: NotificationJournalOptions,
  ) {
    this.keepMs = o.keepMs ?? DEFAULT_JOURNAL_KEEP_MS;
    this.now = o.now ?? (() => performance.now()); // monotonic: a clock jump neither keeps nor drops entries early
    this.commit = new GroupCommit<string>({
      // After the event loop's check phase: every request read in the same turn joins the group (one sync for all).
      gatherTurn: true,
      lazyMs: 0,
      write: (lines, sync) => (lines.length ? this.storage.append(lines.join(''), sync) : Promise.resolve()),
      // `done` records due by now ride along with every write.
      due: () => {
        const lines = this.doneLines(this.keepMs);
        this.records += lines.length;
        return lines;
      },
      afterWrite: (ok) => (ok ? this.compactIfDue() : Promise.resolve()),
    });
  }

  /** How many synced writes the adds have cost (one per group of adds that arrive together). */
  get syncCount(): number {
    return this.commit.syncCount;
  }

  /** Entries not yet marked done on disk. */
  get size(): number {
    return this.live.size;
  }

  /** Reads the stored journal (once): the unfinished batches, oldest first; the file is compacted to them. */
  open(): Promise<JournalOpenReport> {
    this.opened ??= this.load();
    return this.opened;
  }

  /** Journals a batch durably (group commit): resolves with its seq once it is on disk; rejects if it is not. */
  async add(items: JournaledItem[], validationTokens: string[], at: number): Promise<number> {
    await this.open();
    if (this.closed) throw new Error('the notification journal is closed');
    const seq = this.nextSeq++;
    const line = JSON.stringify({ op: 'add', seq, at, items, ...(validationTokens.length ? { validationTokens } : {}) } satisfies AddRecord) + '\n';
    this.live.set(seq, line);
    try {
      await this.write([line], true);
    } catch (err) {
      this.live.delete(seq); // Graph gets a 5xx and sends the batch again
      throw err;
    }
    return seq;
  }

  /** Every event of entry `seq` has been handed on: its `done` record goes out lazily after `keepMs`. */
  handedOn(seq: number): void {
    if (!this.live.has(seq) || this.closed) return;
    this.finished.set(seq, this.now());
    this.scheduleTimer();
  }

  /** Graceful close: what was handed on is done (written now); removed: the stored journal is deleted. */
  async close(removed: boolean): Promise<void> {
    if (this.closed) return;
    await this.opened?.catch(() => undefined);
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (removed) {
      this.closed = true;
      await this.commit.close();
      await this.storage.remove();
      return;
    }
    await this.write(this.doneLines(Infinity), true).catch(() => undefined);
    this.closed = true;
    await this.commit.close();
    await this.storage.close();
  }

  private async load(): Promise<JournalOpenReport> {
    let text: string | undefined;
    try {
      text = await this.storage.read();
    } catch (err) {
      this.o.warn(`the notification journal could not be read (${(err as Error).message}); nothing is replayed from it`);
      return { replay: [], skippedLines: 0 };
    }
    const adds = new Map<number, { record: AddRecord; line: string }>();
    let skippedLines = 0;
    let records = 0;
    for (const line of (text ?? '').split('\n')) {
      if (!line.trim()) continue;
      let record: unknown;
      try {
        record = JSON.parse(line);
      } catch {
        skippedLines += 1;
        continue;
      }
      const r = record as { op?: unknown; seq?: unknown; items?: unknown; at?: unknown };
      if (typeof r !== 'object' || r === null || typeof r.seq !== 'number' || !Number.isInteger(r.seq)) {
        skippedLines += 1;
        continue;
      }
      records += 1;
      this.nextSeq = Math.max(this.nextSeq, r.seq + 1);
      if (r.op === 'add' && Array.isArray(r.items) && typeof r.at === 'number') adds.set(r.seq, { record: record as AddRecord, line: `${line}\n` });
      else if (r.op === 'done') adds.delete(r.seq);
      else skippedLines += 1;
    }
    if (skippedLines) {
      this.o.warn(`the notification journal had ${skippedLines} unreadable line(s), skipped (a line cut by a crash is one); every readable batch is replayed`);
    }
    const replay: ReplayedBatch[] = [];
    for (const [seq, { record, line }] of [...adds].sort(([a], [b]) => a - b)) {
      this.live.set(seq, line);
      const items = record.items.filter((i): i is JournaledItem => typeof i === 'object' && i !== null).map(restored);
      const tokens = Array.isArray(record.validationTokens) ? record.validationTokens.filter((t): t is string => typeof t === 'string') : [];
      replay.push({ seq, at: record.at, batch: { items: items.map((i) => i.item), validationTokens: tokens }, evidence: items.map((i) => i.evidence) });
    }
    this.records = this.live.size;
    if (records > this.live.size || skippedLines) {
      try {
        await this.storage.rewrite([...this.live.values()].join(''));
      } catch (err) {
        this.o.warn(`the notification journal could not be compacted (${(err as Error).message})`);
      }
    }
    return { replay, skippedLines };
  }

  /** `done` lines of the entries handed on at least `ageMs` ago (they leave `live`); oldest first, so it stops early. */
  private doneLines(ageMs: number): string[] {
    const lines: string[] = [];
    const now = this.now();
    for (const [seq, at] of this.finished) {
      if (ageMs !== Infinity && now - at < ageMs) break;
      this.finished.delete(seq);
      this.live.delete(seq);
      lines.push(`${JSON.stringify({ op: 'done', seq })}\n`);
    }
    return lines;
  }

  /** Wakes when the oldest handed-on entry is `keepMs` old (the map is in hand-on order), unless a write took it. */
  private scheduleTimer(): void {
    if (this.timer || this.closed) return;
    const oldest = this.finished.values().next();
    if (oldest.done) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const lines = this.doneLines(this.keepMs);
      if (lines.length) void this.write(lines, false).catch(() => undefined);
      this.scheduleTimer();
    }, Math.max(10, oldest.value + this.keepMs - this.now()));
    this.timer.unref();
  }

  private write(lines: string[], sync: boolean): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the notification journal is closed'));
    this.records += lines.length;
    return this.commit.append(lines, sync);
  }

  /** Rewrites the live lines once dead ones outnumber them (amortized: see COMPACT_DEAD_PER_LIVE). */
  private async compactIfDue(): Promise<void> {
    if (this.commit.pendingCount || this.records - this.live.size <= COMPACT_DEAD_PER_LIVE * this.live.size + COMPACT_MIN_RECORDS) return;
    try {
      await this.storage.rewrite([...this.live.values()].join(''));
      this.records = this.live.size;
    } catch (err) {
      this.o.warn(`the notification journal could not be compacted (${(err as Error).message})`);
    }
  }
}

/**
 * A `JournalStorage` in memory: what was appended with a sync (or before one) is `durable`; `crashed()` gives a new
 * storage holding only that, as a power cut could leave the file (optionally with the start of an unsynced line);
 * `killed()` what a SIGKILL leaves (everything written).
 */
export class MemoryJournalStorage implements JournalStorage {
  private durable = '';
  private written = '';
  appends = 0;

  constructor(initial = '') {
    this.durable = initial;
    this.written = initial;
  }

  get text(): string {
    return this.written;
  }

  async read(): Promise<string | undefined> {
    return this.written || undefined;
  }

  async append(text: string, sync: boolean): Promise<void> {
    this.appends += 1;
    this.written += text;
    if (sync) this.durable = this.written;
  }

  async rewrite(text: string): Promise<void> {
    this.written = text;
    this.durable = text;
  }

  async remove(): Promise<void> {
    this.written = '';
    this.durable = '';
  }

  async close(): Promise<void> {
    this.durable = this.written;
  }

  /** What a SIGKILL leaves: everything written (the OS has it), unsynced or not. */
  killed(): MemoryJournalStorage {
    return new MemoryJournalStorage(this.written);
  }

  /** What a power cut now leaves: the synced text, plus `tornBytes` of what was written after it. */
  crashed(tornBytes = 0): MemoryJournalStorage {
    return new MemoryJournalStorage(this.durable + this.written.slice(this.durable.length, this.durable.length + tornBytes));
  }
}
