/**
 * The persistent outbox of `ms365-callback-out`: an append-only journal file (JSON lines) per node.
 *
 * Why not Node-RED's file context store: it flushes every 30 s, so a SIGKILL loses what came in since. Here an
 * `add` is written and fdatasync'd before its promise resolves (concurrent adds share one write and one sync:
 * group commit), so the node calls `done()` only once the events are on disk. Records:
 *   {"op":"add","seq":N,"n":{notification},"state":"queued"|"given-up",...}   a notification enters
 *   {"op":"ok","seq":N}                                                       delivered (2xx): it leaves
 *   {"op":"gaveup","seq":N,"attempts":A,"at":ms,"error":"..."}                retries exhausted
 *   {"op":"requeue","seq":N}                                                  redeliver: back in the queue
 * `ok`/`gaveup`/`requeue` are written without waiting for a sync: losing one in a crash means a redelivery (the
 * receiver de-duplicates on `message.eventId`), never a loss. A torn last line (crash mid-write) is dropped on
 * open; the file is rewritten with the live records (compaction) on open and whenever dead records outnumber
 * live ones. It never contains the signature key (only the unsigned body is stored).
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Notification } from './envelope';

export type EntryState = 'queued' | 'given-up';

export interface OutboxEntry {
  seq: number;
  notification: Notification;
  state: EntryState;
  /** When it entered the outbox (ms). */
  queuedAt: number;
  attempts: number;
  givenUpAt?: number;
  lastError?: string;
}

type JournalRecord =
  | { op: 'add'; seq: number; n: Notification; state: EntryState; queuedAt: number; attempts: number; givenUpAt?: number; lastError?: string }
  | { op: 'ok'; seq: number }
  | { op: 'gaveup'; seq: number; attempts: number; at: number; error?: string }
  | { op: 'requeue'; seq: number };

export interface RecoveryReport {
  /** Entries found (queued and given up). */
  entries: number;
  /** Lines that could not be read (a torn last line after a crash, or damage). */
  skippedLines: number;
}

const COMPACT_MIN_RECORDS = 1000;

export class Outbox {
  private readonly entries = new Map<number, OutboxEntry>();
  private givenUpCount = 0;
  private nextSeq = 1;
  private records = 0;
  private handle: fsp.FileHandle | undefined;
  /** Serializes writes and compactions. */
  private chain: Promise<void> = Promise.resolve();
  private pendingLines: string[] = [];
  private pendingSync: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  private flushScheduled = false;
  private closed = false;

  private constructor(readonly file: string) {}

  /** Opens (creating the folder and file) and recovers the journal at `file`. */
  static async open(file: string): Promise<{ outbox: Outbox; report: RecoveryReport }> {
    const outbox = new Outbox(file);
    const report = await outbox.recover();
    return { outbox, report };
  }

  /** Deletes an outbox file (a removed node); missing is fine. */
  static async remove(file: string): Promise<void> {
    await fsp.rm(file, { force: true });
    await fsp.rm(`${file}.tmp`, { force: true });
  }

  /** Queued entries, oldest first. */
  queued(): OutboxEntry[] {
    return [...this.entries.values()].filter((e) => e.state === 'queued');
  }

  /** The oldest queued entry (Map order is seq order: seqs only grow and requeued entries get new ones). */
  head(): OutboxEntry | undefined {
    for (const entry of this.entries.values()) if (entry.state === 'queued') return entry;
    return undefined;
  }

  /** How many entries are queued (not given up). */
  queuedCount(): number {
    return this.entries.size - this.givenUpCount;
  }

  /** How many entries are given up. */
  givenUpSize(): number {
    return this.givenUpCount;
  }

  /** Given-up entries, oldest first. */
  givenUp(): OutboxEntry[] {
    return [...this.entries.values()].filter((e) => e.state === 'given-up');
  }

  get size(): number {
    return this.entries.size;
  }

  /** Adds notifications durably: resolves once they are written and synced. */
  async add(notifications: readonly Notification[], now = Date.now()): Promise<OutboxEntry[]> {
    this.assertOpen();
    const added: OutboxEntry[] = [];
    for (const notification of notifications) {
      const entry: OutboxEntry = { seq: this.nextSeq++, notification, state: 'queued', queuedAt: now, attempts: 0 };
      added.push(entry);
    }
    await this.append(added.map((e) => addRecord(e)), true);
    for (const entry of added) this.entries.set(entry.seq, entry);
    return added;
  }

  /** Delivered: the entry leaves the outbox. */
  delivered(seq: number): Promise<void> {
    const entry = this.entries.get(seq);
    if (!entry) return Promise.resolve();
    if (entry.state === 'given-up') this.givenUpCount--;
    this.entries.delete(seq);
    return this.append([{ op: 'ok', seq }], false);
  }

  /** Retries exhausted (or a permanent error): kept, listable and re-sendable. */
  gaveUp(seq: number, attempts: number, error: string | undefined, now = Date.now()): Promise<void> {
    const entry = this.entries.get(seq);
    if (!entry) return Promise.resolve();
    if (entry.state !== 'given-up') this.givenUpCount++;
    Object.assign(entry, { state: 'given-up', attempts, givenUpAt: now, lastError: error });
    return this.append([{ op: 'gaveup', seq, attempts, at: now, ...(error ? { error } : {}) }], false);
  }

  /** Puts every given-up entry back at the end of the queue (in their order); returns them. */
  async requeueGivenUp(): Promise<OutboxEntry[]> {
    const revived = this.givenUp();
    if (revived.length === 0) return [];
    // A requeued entry gets a new seq so it sorts after what is queued now; written as a fresh `add` plus `ok` of
    // the old seq, synced, so a crash leaves it either given up or queued, never gone.
    const records: JournalRecord[] = [];
    const moved: OutboxEntry[] = [];
    for (const old of revived) {
      const entry: OutboxEntry = { seq: this.nextSeq++, notification: old.notification, state: 'queued', queuedAt: old.queuedAt, attempts: 0 };
      records.push(addRecord(entry), { op: 'ok', seq: old.seq });
      moved.push(entry);
    }
    await this.append(records, true);
    for (const old of revived) this.entries.delete(old.seq);
    this.givenUpCount -= revived.length;
    for (const entry of moved) this.entries.set(entry.seq, entry);
    return moved;
  }

  /** Waits for pending writes and closes the file (the journal stays for the next start). */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    await this.chain.catch(() => undefined);
    await this.handle?.close();
    this.handle = undefined;
  }

  /** Resolves when everything appended so far is written and synced. */
  flush(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return this.append([], true);
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('outbox is closed');
  }

  private append(records: JournalRecord[], sync: boolean): Promise<void> {
    this.assertOpen();
    for (const record of records) this.pendingLines.push(JSON.stringify(record) + '\n');
    this.records += records.length;
    const done = sync
      ? new Promise<void>((resolve, reject) => this.pendingSync.push({ resolve, reject }))
      : Promise.resolve();
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      this.chain = this.chain.then(() => this.writePending());
    }
    return done;
  }

  /** One write (and one sync when anyone waits for it) for everything appended since the last one. */
  private async writePending(): Promise<void> {
    this.flushScheduled = false;
    const lines = this.pendingLines;
    const waiting = this.pendingSync;
    this.pendingLines = [];
    this.pendingSync = [];
    try {
      if (lines.length && this.handle) await this.handle.write(lines.join(''));
      if (waiting.length && this.handle) await this.handle.datasync();
      for (const w of waiting) w.resolve();
    } catch (err) {
      for (const w of waiting) w.reject(err);
    }
    // Compact when dead records outnumber live ones by COMPACT_MIN_RECORDS: the rewrite (O(live)) is paid for by at
    // least as many appends since the last one, so it stays amortized O(1) per record.
    if (this.records - this.entries.size > this.entries.size + COMPACT_MIN_RECORDS && !this.pendingLines.length) {
      await this.compact().catch(() => undefined);
    }
  }

  private async recover(): Promise<RecoveryReport> {
    await fsp.mkdir(path.dirname(this.file), { recursive: true });
    let text = '';
    try {
      text = await fsp.readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    let skippedLines = 0;
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      let record: JournalRecord;
      try {
        record = JSON.parse(line) as JournalRecord;
      } catch {
        skippedLines++;
        continue;
      }
      this.applyRecord(record);
    }
    this.givenUpCount = [...this.entries.values()].filter((e) => e.state === 'given-up').length;
    await this.compact();
    return { entries: this.entries.size, skippedLines };
  }

  private applyRecord(record: JournalRecord): void {
    if (!record || typeof record.seq !== 'number') return;
    this.nextSeq = Math.max(this.nextSeq, record.seq + 1);
    switch (record.op) {
      case 'add':
        if (record.n && typeof record.n.body === 'string') {
          this.entries.set(record.seq, {
            seq: record.seq,
            notification: record.n,
            state: record.state === 'given-up' ? 'given-up' : 'queued',
            queuedAt: record.queuedAt ?? Date.now(),
            attempts: record.attempts ?? 0,
            ...(record.givenUpAt !== undefined ? { givenUpAt: record.givenUpAt } : {}),
            ...(record.lastError !== undefined ? { lastError: record.lastError } : {}),
          });
        }
        break;
      case 'ok':
        this.entries.delete(record.seq);
        break;
      case 'gaveup': {
        const entry = this.entries.get(record.seq);
        if (entry) Object.assign(entry, { state: 'given-up', attempts: record.attempts, givenUpAt: record.at, lastError: record.error });
        break;
      }
      case 'requeue': {
        const entry = this.entries.get(record.seq);
        if (entry) Object.assign(entry, { state: 'queued', attempts: 0 });
        break;
      }
    }
  }

  /** Rewrites the journal with only the live entries: temp file, sync, rename, reopen for appending. */
  private async compact(): Promise<void> {
    const tmp = `${this.file}.tmp`;
    const live = [...this.entries.values()].sort((a, b) => a.seq - b.seq);
    const out = await fsp.open(tmp, 'w');
    try {
      if (live.length) await out.write(live.map((e) => JSON.stringify(addRecord(e)) + '\n').join(''));
      await out.datasync();
    } finally {
      await out.close();
    }
    await this.handle?.close();
    this.handle = undefined;
    await fsp.rename(tmp, this.file);
    await syncDir(path.dirname(this.file));
    this.handle = await fsp.open(this.file, 'a');
    this.records = live.length;
  }
}

function addRecord(e: OutboxEntry): JournalRecord {
  return {
    op: 'add',
    seq: e.seq,
    n: e.notification,
    state: e.state,
    queuedAt: e.queuedAt,
    attempts: e.attempts,
    ...(e.givenUpAt !== undefined ? { givenUpAt: e.givenUpAt } : {}),
    ...(e.lastError !== undefined ? { lastError: e.lastError } : {}),
  };
}

async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await fsp.open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Some platforms (Windows) cannot open a directory; the rename is still atomic there.
  }
}
