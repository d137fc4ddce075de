/**
 * Crash-safe cursors for the nodes that turn Graph delta/filter rounds into messages (`ms365-poller`, and the drive
 * resolution of `ms365-webhook-in`), on `core/changes/poller-state`: before the events of a round are sent, the new
 * cursor and those events go to `<userDir>/.ms365-events/<prefix>-<node id>.json` (atomic, fsync'd); after the send,
 * `{ seq, cursors }` is mirrored in node context. At start-up the newer record wins and the events a crash left
 * pending are handed to `resend` (same eventIds); a graceful close clears them; removal deletes file and context.
 * Bookmarks no events depend on (`note`) are written lazily: with the next save, `flush` or `close`. A starting
 * point (`begin`, `restart`) is written at once, before any Graph call (CONTRACT "ms365-poller").
 * Without a user directory (the test helper) only the context is used.
 */
import path from 'node:path';
import type { Node, NodeAPI } from 'node-red';
import type { Ms365Event } from '../../core/events';
import { startCursor, type PollerCursor } from '../../core/changes';
import { PollerStateFile, emptyPollerState, newerPollerState, parsePollerState, type PollerState } from '../../core/changes/poller-state';
import { text } from './i18n';
import { nodeContextStore } from './node-context';
import { nodeStateFileName, stateDirectory } from './state-dir';

export interface DurableCursorOptions {
  /** File name prefix: `<prefix>-<node id>.json`. */
  filePrefix: string;
  /** Node context key of the `{ seq, cursors }` mirror. */
  contextKey: string;
  /** Prefix of warnings, e.g. `ms365-poller`. */
  label: string;
  /** Sends again the events of a round a crash interrupted. */
  resend(events: Ms365Event[]): void;
}

export interface DurableCursors {
  /** Resolves once the stored state is loaded (and pending events were handed to `resend`). */
  readonly loaded: Promise<void>;
  get(key: string): PollerCursor | undefined;
  /**
   * Records the starting point `at` of every key in `keys` that has no cursor yet (a new poller, a resource added to
   * its configuration), then writes the state at once (file, then context).
   */
  begin(keys: string[], at: number): Promise<void>;
  /**
   * `msg.reset`: every cursor forgotten, every key in `keys` starts at `at`, written at once. `epoch` grows: a round
   * that began before it must not save its cursor.
   */
  restart(keys: string[], at: number): Promise<void>;
  /** Grows with every `restart`. */
  readonly epoch: number;
  /** Sets a cursor that no events depend on (a bookmark); written with the next `beforeSend`, `flush` or `close`. */
  note(key: string, cursor: PollerCursor): void;
  /** Writes noted cursors now (file, then context). */
  flush(): Promise<void>;
  /**
   * Before sending `pending` (the events about to go out, with earlier ones of the same round): on disk first, with
   * the new `cursor` of `key` (undefined: the cursor stays as it is, e.g. a reset came during the round).
   */
  beforeSend(key: string, cursor: PollerCursor | undefined, pending: Ms365Event[]): Promise<void>;
  /** After the send: the cursors into node context. */
  afterSend(): Promise<void>;
  /** Graceful close: pending cleared (the runtime has passed them on); removed: file and context deleted. */
  close(removed: boolean): Promise<void>;
}

export function durableCursors(RED: NodeAPI, node: Node, options: DurableCursorOptions): DurableCursors {
  const store = nodeContextStore(node);
  const dir = stateDirectory(RED);
  const file = dir ? new PollerStateFile(path.join(dir, nodeStateFileName(options.filePrefix, node.id, '.json'))) : undefined;
  let state: PollerState = emptyPollerState();
  let fileWarned = false;
  let dirty = false;
  let epoch = 0;

  const saveFile = async (next: PollerState) => {
    if (!file) return;
    try {
      await file.save(next);
    } catch (err) {
      if (!fileWarned) node.warn(text(RED, `${node.type}.errors.cannotWriteState`, { type: options.label, file: file.file, error: (err as Error).message }));
      fileWarned = true;
    }
  };

  const loaded = (async () => {
    let fromFile: PollerState | undefined;
    try {
      fromFile = await file?.load();
    } catch (err) {
      node.warn(text(RED, `${node.type}.errors.stateFileUnreadable`, { type: options.label, error: (err as Error).message }));
    }
    const fromContext = parsePollerState(await store.get<unknown>(options.contextKey));
    const chosen = newerPollerState(fromFile, fromContext) ?? emptyPollerState();
    state = chosen === fromFile ? chosen : { ...chosen, pending: [] };
    if (state.pending.length) {
      node.log(text(RED, `${node.type}.errors.resending`, { type: options.label, count: state.pending.length }));
      options.resend(state.pending);
    }
  })();

  /** Writes the whole state now (file, then context). */
  const saveNow = async () => {
    dirty = false;
    state = { ...state, seq: state.seq + 1 };
    await saveFile(state);
    await store.set(options.contextKey, { seq: state.seq, cursors: state.cursors });
  };

  return {
    loaded,
    get epoch() {
      return epoch;
    },
    get: (key) => state.cursors[key],
    begin: async (keys, at) => {
      await loaded;
      const missing = keys.filter((key) => !state.cursors[key]);
      if (!missing.length) return;
      const cursors = { ...state.cursors };
      for (const key of missing) cursors[key] = startCursor(at);
      state = { ...state, cursors };
      await saveNow();
    },
    restart: async (keys, at) => {
      await loaded;
      epoch += 1;
      state = { ...state, cursors: Object.fromEntries(keys.map((key) => [key, startCursor(at)])) };
      await saveNow();
    },
    note: (key, cursor) => {
      state = { ...state, cursors: { ...state.cursors, [key]: cursor } };
      dirty = true;
    },
    flush: async () => {
      if (!dirty) return;
      await saveNow();
    },
    beforeSend: async (key, cursor, pending) => {
      dirty = false;
      state = { seq: state.seq + 1, cursors: cursor ? { ...state.cursors, [key]: cursor } : state.cursors, pending: pending.slice() };
      await saveFile(state);
    },
    afterSend: () => store.set(options.contextKey, { seq: state.seq, cursors: state.cursors }),
    close: async (removed) => {
      await loaded.catch(() => undefined);
      if (removed) {
        await file?.remove();
        await store.set(options.contextKey, undefined).catch(() => undefined); // the runtime may have dropped it
        return;
      }
      if (!state.pending.length && !dirty) return;
      await new Promise((resolve) => setImmediate(resolve)); // the last sends reach their wires
      dirty = false;
      state = { ...state, seq: state.seq + 1, pending: [] };
      await saveFile(state);
      await store.set(options.contextKey, { seq: state.seq, cursors: state.cursors }).catch(() => undefined);
    },
  };
}
