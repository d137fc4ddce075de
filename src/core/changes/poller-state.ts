/**
 * What an `ms365-poller` must keep across a crash: the cursor of each resource and the events of its last round.
 *
 * Node-RED's file context store writes a value to disk up to `flushInterval` (30 s by default) after it was set,
 * and the default store keeps it in memory only; after a SIGKILL the cursor would come back old or missing (a
 * missing one is a silent new starting point: changes made meanwhile would never be emitted). So the poller also
 * keeps this record in a file of its own, and writes it atomically (temp file, fsync, rename) BEFORE it sends a
 * round's events: the cursor never moves past events that are on no disk. After a crash the events of the last
 * round are sent again (same `eventId`s: the one-round at-least-once window of CONTRACT "ms365-poller"), then
 * polling resumes from the stored cursors. A graceful stop clears `pending` (the runtime has delivered them).
 *
 * `seq` grows with every save; the node also mirrors `{ seq, cursors }` in its context (the contract's home of the
 * cursor), and at start-up the record with the higher `seq` wins.
 */
import { promises as fsp } from 'node:fs';
import type { Ms365Event } from '../events';
import { writeFileAtomic } from '../persistence/atomic-file';
import type { PollerCursor } from './index';

export const POLLER_STATE_FORMAT = 1;

export interface PollerState {
  /** Grows by one with every save. */
  seq: number;
  /** Cursor per resource (`objectType`); a `start` cursor holds the starting point of a resource not yet read. */
  cursors: Record<string, PollerCursor>;
  /** Events of the last round, sent again after a crash (empty after a graceful stop). */
  pending: Ms365Event[];
}

export function emptyPollerState(): PollerState {
  return { seq: 0, cursors: {}, pending: [] };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads a stored record (file or context), or undefined when it is not one. */
export function parsePollerState(value: unknown): PollerState | undefined {
  if (!isRecord(value) || typeof value.seq !== 'number' || !Number.isFinite(value.seq) || !isRecord(value.cursors)) return undefined;
  const cursors: Record<string, PollerCursor> = {};
  for (const [objectType, cursor] of Object.entries(value.cursors)) {
    if (isRecord(cursor) && (cursor.mode === 'delta' || cursor.mode === 'filter')) cursors[objectType] = cursor as unknown as PollerCursor;
    else if (isRecord(cursor) && cursor.mode === 'start' && typeof cursor.startedAt === 'number' && Number.isFinite(cursor.startedAt)) {
      cursors[objectType] = { mode: 'start', startedAt: cursor.startedAt };
    }
  }
  const pending = Array.isArray(value.pending) ? (value.pending.filter((e) => isRecord(e) && typeof e.eventId === 'string') as unknown as Ms365Event[]) : [];
  return { seq: value.seq, cursors, pending };
}

/** The more recent of two records (higher `seq`); either may be missing. */
export function newerPollerState(a: PollerState | undefined, b: PollerState | undefined): PollerState | undefined {
  if (!a) return b;
  if (!b) return a;
  return b.seq > a.seq ? b : a;
}

/** The poller's own state file; saves are serialized (the last one called is the last one written). */
export class PollerStateFile {
  private queue: Promise<void> = Promise.resolve();

  constructor(readonly file: string) {}

  /** The stored record; undefined when there is none. An unreadable file is an error (the caller reports it). */
  async load(): Promise<PollerState | undefined> {
    let text: string;
    try {
      text = await fsp.readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error(`poller state file ${this.file} is not JSON`);
    }
    if (!isRecord(parsed) || parsed.format !== POLLER_STATE_FORMAT) throw new Error(`poller state file ${this.file} has an unknown format`);
    const state = parsePollerState(parsed);
    if (!state) throw new Error(`poller state file ${this.file} is not a poller state`);
    return state;
  }

  save(state: PollerState): Promise<void> {
    const body = JSON.stringify({ format: POLLER_STATE_FORMAT, seq: state.seq, cursors: state.cursors, pending: state.pending });
    const run = this.queue.then(() => writeFileAtomic(this.file, body));
    this.queue = run.catch(() => undefined);
    return run;
  }

  async remove(): Promise<void> {
    await this.queue;
    await fsp.rm(this.file, { force: true });
  }
}
