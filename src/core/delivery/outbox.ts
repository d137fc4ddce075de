/**
 * The persistent outbox of `ms365-callback-out`: an append-only journal file (JSON lines) per node.
 *
 * Why not Node-RED's file context store: it flushes every 30 s, so a SIGKILL loses what came in since. Here an
 * `add` is written and fdatasync'd before its promise resolves (concurrent adds share one write and one sync:
 * group commit, `persistence/group-commit`), so the node calls `done()` only once the events are on disk. Records:
 *   {"op":"add","seq":N,"n":{notification},"state":"queued"|"given-up",...}   a notification enters
 *   {"op":"ok","seq":N}                                                       delivered (2xx): it leaves
 *   {"op":"gaveup","seq":N,"attempts":A,"at":ms,"error":"..."}                retries exhausted
 * `ok`/`gaveup` are written without waiting for a sync, batched (with the next synced write or after 20 ms):
 * losing one in a crash means a redelivery (the receiver de-duplicates on `message.eventId`), never a loss. A torn last line (crash mid-write) is skipped on open; the
 * file is rewritten with the live records (compaction) on open and whenever dead records outnumber live ones by
 * COMPACT_MIN_RECORDS. It never contains the signature key (only the unsigned body is stored).
 *
 * Memory stays bounded: entries keep their metadata in memory, but notification bodies only up to
 * `maxResidentBytes` (default 16 MiB); the others are read back from their journal line when their turn comes.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import type { Notification } from './envelope';
import { syncDirectory } from '../persistence/atomic-file';
import { GroupCommit } from '../persistence/group-commit';

export type EntryState = 'queued' | 'given-up';

/** What the outbox knows about one notification (its body is fetched with `Outbox.notification`). */
export interface OutboxEntry {
  seq: number;
  notificationId: string;
  eventCount: number;
  objectType: string;
  state: EntryState;
  /** When it entered the outbox (ms). */
  queuedAt: number;
  attempts: number;
  givenUpAt?: number;
  lastError?: string;
}

interface AddRecord {
  op: 'add';
  seq: number;
  n: Notification;
  state: EntryState;
  queuedAt: number;
  attempts: number;
  givenUpAt?: number;
  lastError?: string;
}

type JournalRecord = AddRecord | { op: 'ok'; seq: number } | { op: 'gaveup'; seq: number; attempts: number; at: number; error?: string };

export interface RecoveryReport {
  /** Entries found (queued and given up). */
  entries: number;
  /** Lines that could not be read (a torn last line after a crash, or damage). */
  skippedLines: number;
}

export interface OutboxOptions {
  /** Bodies kept in memory at most (bytes); the rest are read from the journal when needed. */
  maxResidentBytes?: number;
}

const COMPACT_MIN_RECORDS = 1000;
const DEFAULT_MAX_RESIDENT_BYTES = 16 * 1024 * 1024;
/** How long an unsynced record (delivered, given up) may wait for company before it is written. */
const LAZY_WRITE_MS = 20;

interface Pending {
  text: string;
  /** Set for `add` lines: where the line lands is recorded as the entry's location. */
  seq?: number;
}

export class Outbox {
  private readonly entries = new Map<number, OutboxEntry>();
  /** Resident bodies by seq (within maxResidentBytes). */
  private readonly bodies = new Map<number, string>();
  /** Byte range of each live entry's `add` line in the journal. */
  private readonly locations = new Map<number, { offset: number; length: number }>();
  private residentBytes = 0;
  private readonly maxResidentBytes: number;
  private givenUpCount = 0;
  private nextSeq = 1;
  private records = 0;
  private fileSize = 0;
  private handle: fsp.FileHandle | undefined;
  /** Writes (group commit), reads of evicted bodies and compactions, one at a time. */
  private readonly commit: GroupCommit<Pending>;
  private closed = false;

  private constructor(
    readonly file: string,
    options: OutboxOptions,
  ) {
    this.maxResidentBytes = options.maxResidentBytes ?? DEFAULT_MAX_RESIDENT_BYTES;
    this.commit = new GroupCommit<Pending>({
      lazyMs: LAZY_WRITE_MS,
      write: (lines, sync) => this.writeLines(lines, sync),
      // Compact when dead records outnumber live ones by COMPACT_MIN_RECORDS: the rewrite (O(live)) is paid for by at
      // least as many appends since the last one, so it stays amortized O(1) per record.
      afterWrite: async () => {
        if (this.records - this.entries.size > this.entries.size + COMPACT_MIN_RECORDS && !this.commit.pendingCount) {
          await this.compact().catch(() => undefined);
        }
      },
    });
  }

  /** Opens (creating the folder and file) and recovers the journal at `file`. */
  static async open(file: string, options: OutboxOptions = {}): Promise<{ outbox: Outbox; report: RecoveryReport }> {
    const outbox = new Outbox(file, options);
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

  /** How many journal syncs (fdatasync) appends have cost so far: one per group of adds that arrive together. */
  get syncCount(): number {
    return this.commit.syncCount;
  }

  /** Bytes of bodies held in memory (the rest are on disk only). */
  get resident(): number {
    return this.residentBytes;
  }

  /** The notification of an entry: from memory, or read back from its journal line. */
  async notification(entry: OutboxEntry): Promise<Notification> {
    const meta = { id: entry.notificationId, eventCount: entry.eventCount, objectType: entry.objectType };
    const body = this.bodies.get(entry.seq);
    if (body !== undefined) return { ...meta, body };
    const record = await this.readAddRecord(entry.seq);
    return { ...meta, body: record.n.body };
  }

  /** Adds notifications durably: resolves once they are written and synced. */
  async add(notifications: readonly Notification[], now = Date.now()): Promise<OutboxEntry[]> {
    this.assertOpen();
    const added = notifications.map((n) => ({ entry: this.newEntry(n, now), body: n.body }));
    await this.append(
      added.map(({ entry, body }) => ({ text: JSON.stringify(addRecord(entry, body)) + '\n', seq: entry.seq })),
      true,
    );
    for (const { entry, body } of added) this.keep(entry, body);
    return added.map((a) => a.entry);
  }

  /** Delivered: the entry leaves the outbox. */
  delivered(seq: number): Promise<void> {
    if (!this.forget(seq)) return Promise.resolve();
    return this.append([{ text: JSON.stringify({ op: 'ok', seq }) + '\n' }], false);
  }

  /** Retries exhausted (or a permanent error): kept, listable and re-sendable. */
  gaveUp(seq: number, attempts: number, error: string | undefined, now = Date.now()): Promise<void> {
    const entry = this.entries.get(seq);
    if (!entry) return Promise.resolve();
    if (entry.state !== 'given-up') this.givenUpCount++;
    Object.assign(entry, { state: 'given-up', attempts, givenUpAt: now, lastError: error });
    return this.append([{ text: JSON.stringify({ op: 'gaveup', seq, attempts, at: now, ...(error ? { error } : {}) }) + '\n' }], false);
  }

  /** Puts every given-up entry back at the end of the queue (in their order); returns them. */
  async requeueGivenUp(): Promise<OutboxEntry[]> {
    const revived = this.givenUp();
    if (revived.length === 0) return [];
    // A requeued entry gets a new seq so it sorts after what is queued now; written as a fresh `add` plus `ok` of
    // the old seq, synced, so a crash leaves it either given up or queued, never gone.
    const moved: Array<{ entry: OutboxEntry; body: string; old: number }> = [];
    for (const old of revived) {
      const n = await this.notification(old);
      const entry = this.newEntry(n, old.queuedAt);
      moved.push({ entry, body: n.body, old: old.seq });
    }
    const lines: Pending[] = [];
    for (const m of moved) {
      lines.push({ text: JSON.stringify(addRecord(m.entry, m.body)) + '\n', seq: m.entry.seq });
      lines.push({ text: JSON.stringify({ op: 'ok', seq: m.old }) + '\n' });
    }
    await this.append(lines, true);
    for (const m of moved) {
      this.forget(m.old);
      this.keep(m.entry, m.body);
    }
    return moved.map((m) => m.entry);
  }

  /** Waits for pending writes and closes the file (the journal stays for the next start). */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    await this.commit.close();
    await this.handle?.close();
    this.handle = undefined;
  }

  /** Resolves when everything appended so far is written and synced. */
  flush(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return this.append([], true);
  }

  private newEntry(n: Notification, queuedAt: number): OutboxEntry {
    return { seq: this.nextSeq++, notificationId: n.id, eventCount: n.eventCount, objectType: n.objectType, state: 'queued', queuedAt, attempts: 0 };
  }

  /** Registers a live entry; its body stays in memory while the budget allows. */
  private keep(entry: OutboxEntry, body: string): void {
    this.entries.set(entry.seq, entry);
    if (entry.state === 'given-up') this.givenUpCount++;
    if (this.residentBytes + body.length <= this.maxResidentBytes) {
      this.bodies.set(entry.seq, body);
      this.residentBytes += body.length;
    }
  }

  private forget(seq: number): boolean {
    const entry = this.entries.get(seq);
    if (!entry) return false;
    if (entry.state === 'given-up') this.givenUpCount--;
    this.entries.delete(seq);
    const body = this.bodies.get(seq);
    if (body !== undefined) {
      this.residentBytes -= body.length;
      this.bodies.delete(seq);
    }
    this.locations.delete(seq);
    return true;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('outbox is closed');
  }

  private append(lines: Pending[], sync: boolean): Promise<void> {
    this.assertOpen();
    this.records += lines.length;
    // Delivered/given-up records (no sync) ride along with the next synced write, or go out after LAZY_WRITE_MS.
    return this.commit.append(lines, sync);
  }

  /** One gathered write of the lines as encoded (no concatenated copy), their places noted; then one sync if asked. */
  private async writeLines(lines: Pending[], sync: boolean): Promise<void> {
    if (!this.handle) return;
    if (lines.length) {
      const buffers = lines.map((l) => Buffer.from(l.text, 'utf8'));
      let offset = this.fileSize;
      lines.forEach((l, i) => {
        const length = buffers[i]!.length;
        if (l.seq !== undefined) this.locations.set(l.seq, { offset, length });
        offset += length;
      });
      await this.handle.writev(buffers);
      this.fileSize = offset;
    }
    if (sync) await this.handle.datasync();
  }

  /** Reads an evicted entry's `add` line (between writes, so never during a compaction). */
  private readAddRecord(seq: number): Promise<AddRecord> {
    return this.commit.exclusive(async () => {
      const loc = this.locations.get(seq);
      if (!loc || !this.handle) throw new Error(`outbox entry ${seq} is not in the journal`);
      const buffer = Buffer.alloc(loc.length);
      await this.handle.read(buffer, 0, loc.length, loc.offset);
      return JSON.parse(buffer.toString('utf8')) as AddRecord;
    });
  }

  private async recover(): Promise<RecoveryReport> {
    await fsp.mkdir(path.dirname(this.file), { recursive: true });
    let skippedLines = 0;
    let exists = true;
    try {
      await fsp.access(this.file);
    } catch {
      exists = false;
    }
    if (exists) {
      // Line by line with byte offsets, so that bodies over the memory budget are not kept while reading.
      const oldLocations = new Map<number, { offset: number; length: number }>();
      let offset = 0;
      const lines = readline.createInterface({ input: createReadStream(this.file), crlfDelay: Infinity });
      for await (const line of lines) {
        const length = Buffer.byteLength(line, 'utf8') + 1;
        const at = offset;
        offset += length;
        if (line.trim() === '') continue;
        let record: JournalRecord;
        try {
          record = JSON.parse(line) as JournalRecord;
        } catch {
          skippedLines++;
          continue;
        }
        if (!record || typeof record.seq !== 'number') {
          skippedLines++;
          continue;
        }
        this.nextSeq = Math.max(this.nextSeq, record.seq + 1);
        if (record.op === 'add' && record.n && typeof record.n.body === 'string') {
          this.forget(record.seq);
          const entry: OutboxEntry = {
            seq: record.seq,
            notificationId: record.n.id,
            eventCount: record.n.eventCount,
            objectType: record.n.objectType,
            state: record.state === 'given-up' ? 'given-up' : 'queued',
            queuedAt: record.queuedAt ?? Date.now(),
            attempts: record.attempts ?? 0,
            ...(record.givenUpAt !== undefined ? { givenUpAt: record.givenUpAt } : {}),
            ...(record.lastError !== undefined ? { lastError: record.lastError } : {}),
          };
          this.keep(entry, record.n.body);
          oldLocations.set(record.seq, { offset: at, length: length - 1 });
        } else if (record.op === 'ok') {
          this.forget(record.seq);
          oldLocations.delete(record.seq);
        } else if (record.op === 'gaveup') {
          const entry = this.entries.get(record.seq);
          if (entry) {
            if (entry.state !== 'given-up') this.givenUpCount++;
            Object.assign(entry, { state: 'given-up', attempts: record.attempts, givenUpAt: record.at, lastError: record.error });
          }
        }
      }
      this.handle = await fsp.open(this.file, 'r');
      for (const [seq, loc] of oldLocations) this.locations.set(seq, loc);
    }
    await this.compact();
    return { entries: this.entries.size, skippedLines };
  }

  /**
   * Rewrites the journal with only the live entries (bodies from memory or from the current file): temp file,
   * sync, rename, sync the folder, reopen for appending. Runs between writes (or before anything else).
   */
  private async compact(): Promise<void> {
    const tmp = `${this.file}.tmp`;
    const out = await fsp.open(tmp, 'w');
    const newLocations = new Map<number, { offset: number; length: number }>();
    let size = 0;
    try {
      let chunk: Buffer[] = [];
      let chunkBytes = 0;
      for (const entry of this.entries.values()) {
        let body = this.bodies.get(entry.seq);
        if (body === undefined) {
          const loc = this.locations.get(entry.seq);
          if (!loc || !this.handle) continue;
          const buffer = Buffer.alloc(loc.length);
          await this.handle.read(buffer, 0, loc.length, loc.offset);
          body = (JSON.parse(buffer.toString('utf8')) as AddRecord).n.body;
        }
        const line = Buffer.from(JSON.stringify(addRecord(entry, body)) + '\n', 'utf8');
        newLocations.set(entry.seq, { offset: size, length: line.length });
        size += line.length;
        chunk.push(line);
        chunkBytes += line.length;
        if (chunkBytes > 1024 * 1024) {
          const all = Buffer.concat(chunk);
          await out.write(all, 0, all.length);
          chunk = [];
          chunkBytes = 0;
        }
      }
      if (chunk.length) {
        const all = Buffer.concat(chunk);
        await out.write(all, 0, all.length);
      }
      await out.datasync();
    } finally {
      await out.close();
    }
    await this.handle?.close();
    this.handle = undefined;
    await fsp.rename(tmp, this.file);
    await syncDirectory(path.dirname(this.file));
    this.handle = await fsp.open(this.file, 'a+');
    this.fileSize = size;
    this.locations.clear();
    for (const [seq, loc] of newLocations) this.locations.set(seq, loc);
    this.records = this.entries.size;
  }
}

function addRecord(e: OutboxEntry, body: string): AddRecord {
  return {
    op: 'add',
    seq: e.seq,
    n: { id: e.notificationId, body, eventCount: e.eventCount, objectType: e.objectType },
    state: e.state,
    queuedAt: e.queuedAt,
    attempts: e.attempts,
    ...(e.givenUpAt !== undefined ? { givenUpAt: e.givenUpAt } : {}),
    ...(e.lastError !== undefined ? { lastError: e.lastError } : {}),
  };
}
