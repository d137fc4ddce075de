/**
 * Delta queries of the simulated Graph (`reference/graph.md` §5): an initial enumeration of the current state in
 * pages (`@odata.nextLink`), then a page with `@odata.deltaLink`; a later call with the delta token returns the
 * objects changed since, in their last state only (an object changed twice appears once), deletions as
 * `@removed` (Outlook) or the `deleted` facet (drive). Tokens are opaque (base64url JSON) and encode the original
 * query (folder, `$select`, calendarView window, page size), so clients need not repeat it.
 */
import type { Collection, Entry } from './collection';
import { badRequest } from './errors';

/** What a delta token or skip token carries. */
export interface DeltaToken {
  /** Resource key, e.g. `messages:<folderId>`, `calendarView`, `drive:<driveId>`. */
  r: string;
  /** User id. */
  u: string;
  /** Baseline: changes after this sequence number; -1 = initial enumeration. */
  b: number;
  /** Baseline by time (drive timestamp tokens): changes at or after this simulated time (ms). */
  t?: number;
  /** High-water mark of this round (sequence number when the round started). */
  h: number;
  /** Last sequence number already returned in this round. */
  a: number;
  /** calendarView window (ISO). */
  s?: string;
  e?: string;
  /** `$select` of the original query. */
  sel?: string;
  /** `$filter` of the original query (messages: `receivedDateTime ge|gt <date>` only, §5). */
  f?: string;
  /** calendarView: the page ended inside the expansion of the object with this sequence number, after `o` items. */
  oi?: number;
  o?: number;
  /** Page size of the original query. */
  ps?: number;
  /** Store generation the token belongs to (a token from before `POST /_sim/reset` is stale: 410). */
  g?: string;
}

/** A well-formed token of an earlier store generation: the sync state is gone (410, `reference/graph.md` §5). */
export class StaleDeltaTokenError extends Error {
  constructor(readonly drive: boolean) {
    super('stale delta token');
    this.name = 'StaleDeltaTokenError';
  }
}

export function encodeDeltaToken(token: DeltaToken): string {
  return Buffer.from(JSON.stringify(token)).toString('base64url');
}

/**
 * Decodes a token; a token that is not one of ours, or for another resource or user, is a 400; one of an earlier
 * store generation throws `StaleDeltaTokenError` (answered 410).
 */
export function decodeDeltaToken(text: string, resource: string, userId: string, generation: string): DeltaToken {
  let token: unknown;
  try {
    token = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    token = undefined;
  }
  const t = token as Partial<DeltaToken> | undefined;
  if (t && typeof t === 'object' && typeof t.g === 'string' && t.g !== generation) throw new StaleDeltaTokenError(resource.startsWith('drive:'));
  if (!t || typeof t !== 'object' || t.r !== resource || t.u !== userId || typeof t.b !== 'number' || typeof t.h !== 'number' || typeof t.a !== 'number') {
    throw badRequest('The delta token is not valid for this resource.');
  }
  return t as DeltaToken;
}

export interface DeltaView<T> {
  collection: Collection<T>;
  /** The object belongs to the queried resource (e.g. its folder, and the token's `$filter`). */
  inScope(entry: Entry<T>, token: DeltaToken): boolean;
  /** calendarView: the object lies in the window (else it is reported as removed in change rounds). */
  inRange?(entry: Entry<T>): boolean;
  present(entry: Entry<T>, select: string[] | undefined): Record<string, unknown>;
  removed(entry: Entry<T>): Record<string, unknown>;
  /**
   * calendarView: the items one stored object stands for in this round, replacing `inRange`/`present`/`removed`
   * (a series master: its occurrences in the window; a cancelled occurrence: nothing). `initial`: the first round.
   */
  expand?(entry: Entry<T>, initial: boolean): Array<Record<string, unknown>>;
}

export interface DeltaPage {
  value: Array<Record<string, unknown>>;
  /** Set when more pages follow in this round. */
  next?: DeltaToken;
  /** Set on the last page of the round: the token for the next round. */
  delta?: DeltaToken;
}

/** A fresh round starting now at `baseline` (-1 = initial enumeration). */
export function newRound(resource: string, userId: string, baseline: number, highWater: number, extra: Partial<DeltaToken> = {}): DeltaToken {
  return { ...extra, r: resource, u: userId, b: baseline, h: highWater, a: baseline < 0 ? 0 : baseline };
}

/** One page of a delta round. */
export function deltaPage<T>(view: DeltaView<T>, token: DeltaToken, pageSize: number, select?: string[]): DeltaPage {
  const initial = token.b < 0 && token.t === undefined;
  const value: Array<Record<string, unknown>> = [];
  let lastSeq = token.a;
  let more = false;
  for (const entry of view.collection.since(token.a)) {
    if (entry.seq > token.h) break;
    if (token.t !== undefined && entry.changedAt < token.t) continue;
    if (!view.inScope(entry, token)) continue;
    if (view.expand) {
      // One object may stand for many items (a series' occurrences): pages still hold at most `pageSize` items, and
      // the next page resumes inside the expansion.
      let items = view.expand(entry, initial);
      if (token.oi === entry.seq) items = items.slice(token.o ?? 0);
      if (items.length === 0) continue;
      const room = pageSize - value.length;
      if (room <= 0) {
        more = true;
        break;
      }
      value.push(...items.slice(0, room));
      if (items.length > room) {
        const done = room + (token.oi === entry.seq ? token.o ?? 0 : 0);
        const { oi: _oi, o: _o, ...rest } = token;
        return { value, next: { ...rest, a: entry.seq - 1, oi: entry.seq, o: done } };
      }
      lastSeq = entry.seq;
      continue;
    }
    const inRange = view.inRange ? view.inRange(entry) : true;
    if (initial && (entry.deleted || !inRange)) continue;
    if (value.length >= pageSize) {
      more = true;
      break;
    }
    value.push(entry.deleted || !inRange ? view.removed(entry) : view.present(entry, select));
    lastSeq = entry.seq;
  }
  if (more) {
    const { oi: _oi, o: _o, ...rest } = token;
    return { value, next: { ...rest, a: lastSeq } };
  }
  const { a: _a, t: _t, oi: _oi, o: _o, ...rest } = token;
  return { value, delta: { ...rest, b: token.h, a: token.h, h: token.h } };
}
