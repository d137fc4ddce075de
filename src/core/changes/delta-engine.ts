/**
 * The delta engine (`reference/graph.md` §5): messages per folder, calendarView, drive, any `/delta` path.
 *
 * - First poll: an enumeration to the `@odata.deltaLink` (drive too: a `token=latest` taken late cannot see what
 *   changed before it). A poller's starting point is recorded when it starts (CONTRACT), maybe long before the first
 *   enumeration succeeds: objects changed after it come out (CREATED / UPDATED), older ones do not. Without one
 *   (webhook-in's drive cursors) the enumeration is silent.
 * - Later polls: follow the deltaLink; each object once in its last state (merge by id, last wins);
 *   `@removed` and the drive `deleted` facet → DELETED; otherwise CREATED when the object was created since the
 *   previous round started, else UPDATED. Dates in whole seconds (`shared.atOrAfter`) make "since" a second wide:
 *   the objects of that second already read are remembered (`createdSince`), so nothing is CREATED twice.
 * - 410 Gone (expired token): resync from `Location` (or a fresh enumeration), emitting only objects modified since
 *   the last round, so the flow is not flooded with old items. Deletions during the gap cannot be seen (documented).
 * - calendarView: series, the frozen window and its moves are handled by `calendar-view.ts` (§11.2).
 * State: the deltaLink and the time of the last round, a few hundred bytes whatever the mailbox size, plus 8 bytes per
 * object created in the second of the last round's start (`created`: ~32 KiB at most, `MAX_CREATED_LISTED`);
 * calendarView: plus 8 bytes per event or occurrence in the window.
 */
import { GraphError } from '../graph/client';
import type { Ms365Event, EventType } from '../events';
import type { ResourceConfig } from '../opencon/poller-config';
import { CLOCK_JUMP_MS, atOrAfter, classify, hashChunks, makeEvent, objectVersion, pages, readDate, readField, roundStartOnGraphClock, shortHash, type EngineContext } from './shared';
import { calendarViewStart, isCalendarView, isException, pollCalendarView, type CalendarViewState } from './calendar-view';

export interface DeltaCursor {
  mode: 'delta';
  deltaLink: string;
  /** Start of the last completed round (ms). */
  syncedAt: number;
  /**
   * Objects already read (reported, or passed over by the starting enumeration) whose creation is at or after
   * `syncedAt` at its precision (`atOrAfter`: the whole second of `syncedAt` for Outlook and drive dates): "created
   * since" for the next round too (created between that round's start and the moment Graph took its delta token, or
   * earlier in the same second), but no longer new there. Kept while their creation is at or after the newest
   * `syncedAt`. Per creation time (ms), the 8-character hashes of their ids (`shortHash`), concatenated: a bulk
   * creation of thousands of objects in one second costs 8 bytes each, and at most `MAX_CREATED_LISTED` are listed.
   */
  created?: Array<[number, string]>;
  /**
   * Beyond `MAX_CREATED_LISTED`: the creation times `[from, to]` (ms) of the objects read but not listed. An object
   * created in that range that the next round reads and finds in no list is taken for one already read (UPDATED,
   * never a second CREATED; README known limits).
   */
  createdUnlisted?: [number, number];
  /** Cursors written before `created`: `[objectId, createdMs]`, read as `created`. */
  createdSince?: Array<[string, number]>;
  /** calendarView resources: the window and what is in it (`calendar-view.ts`). */
  calendar?: CalendarViewState;
}

export interface RoundResult<C> {
  events: Ms365Event[];
  cursor: C;
  /** Requests made this round. */
  requests: number;
  /** Set when the cursor was rebuilt after a 410. */
  resynced?: boolean;
}

const DAY = 86_400_000;
const ID_HASH_LENGTH = 8;
/**
 * At most this many ids in `created` (8 bytes each: ~32 KiB, half the 64 KiB per resource state budget, whatever the
 * burst; each creation time counts `GROUP_COST` ids more); beyond it `createdUnlisted`.
 */
export const MAX_CREATED_LISTED = 4000;
/** What one creation time costs against `MAX_CREATED_LISTED` (`[1796000000000,""],` is about two ids). */
const GROUP_COST = 2;

/** The objects a cursor knows to be read already (`created`, or an old cursor's `createdSince`). */
interface KnownCreations {
  /** id hash → creation (ms). */
  byHash: Map<string, number>;
  /** The creation times in `byHash`: an object created at no such time is not listed (no hash needed to tell). */
  times: Set<number>;
  unlisted?: [number, number];
}

function idHash(id: string): string {
  return shortHash(id, ID_HASH_LENGTH);
}

/** Cursors are never changed once made: a round reads its previous cursor's list once (events, then next cursor). */
const knownOf = new WeakMap<DeltaCursor, KnownCreations>();

function knownCreations(cursor: DeltaCursor | undefined): KnownCreations {
  const cached = cursor && knownOf.get(cursor);
  if (cached) return cached;
  const byHash = new Map<string, number>();
  const times = new Set<number>();
  for (const [id, created] of cursor?.createdSince ?? []) {
    byHash.set(idHash(id), created);
    times.add(created);
  }
  for (const [created, hashes] of cursor?.created ?? []) {
    for (const h of hashChunks(hashes, ID_HASH_LENGTH)) byHash.set(h, created);
    times.add(created);
  }
  const known: KnownCreations = cursor?.createdUnlisted ? { byHash, times, unlisted: cursor.createdUnlisted } : { byHash, times };
  if (cursor) knownOf.set(cursor, known);
  return known;
}

/**
 * Read by an earlier round: listed with this creation time (`h`, the id's hash; undefined when the time is listed
 * nowhere), or (beyond the list's cap) created in the range left unlisted.
 */
function alreadyRead(known: KnownCreations, h: string | undefined, created: number): boolean {
  const range = known.unlisted;
  if (range !== undefined && created >= range[0] && created <= range[1]) return true;
  return h !== undefined && known.byHash.get(h) === created;
}

/** The first delta URL: the configured path, plus the calendarView window (first call only) and page size. */
export function initialDeltaUrl(resource: ResourceConfig, now: number): string {
  let url = resource.url;
  const add = (param: string) => (url += (url.includes('?') ? '&' : '?') + param);
  if (/calendarView\/delta/i.test(url) && !/startDateTime=/i.test(url)) {
    add(`startDateTime=${new Date(now - 365 * DAY).toISOString()}`);
    add(`endDateTime=${new Date(now + 730 * DAY).toISOString()}`);
  }
  return url;
}

function preferHeaders(resource: ResourceConfig): Record<string, string> {
  return { Prefer: `odata.maxpagesize=${resource.pageSize}` };
}

/** Walk from `url` to the deltaLink; returns the last state per id and the deltaLink. */
async function walk(ctx: EngineContext, resource: ResourceConfig, url: string): Promise<{ items: Map<string, Record<string, unknown>>; deltaLink: string; requests: number }> {
  const items = new Map<string, Record<string, unknown>>();
  let deltaLink: string | undefined;
  let requests = 0;
  for await (const page of pages(ctx, url, preferHeaders(resource))) {
    requests += 1;
    for (const item of page.value ?? []) {
      const id = readField(item, resource.idField) ?? item.id;
      if (typeof id !== 'string' && typeof id !== 'number') continue;
      const key = String(id);
      items.delete(key); // last wins, and keeps arrival order
      items.set(key, item);
    }
    if (page['@odata.deltaLink']) deltaLink = page['@odata.deltaLink'];
  }
  if (!deltaLink) throw new GraphError({ status: 500, graphCode: 'noDeltaLink', message: `delta for ${resource.objectType} ended without an @odata.deltaLink` });
  return { items, deltaLink, requests };
}

function isRemoved(item: Record<string, unknown>): boolean {
  return item['@removed'] !== undefined || (item.deleted !== undefined && item.deleted !== null);
}

/** The configured modified and created dates of an object (ms). */
function datesOf(resource: ResourceConfig, item: Record<string, unknown>): { updated?: number; created?: number } {
  const { dates } = resource;
  return {
    updated: readDate(item, dates.updatedField ?? 'lastModifiedDateTime', dates.updatedFormat, dates.updatedZone ?? resource.timezone),
    created: readDate(item, dates.createdField ?? 'createdDateTime', dates.createdFormat, dates.createdZone ?? resource.timezone),
  };
}

function versionOf(item: Record<string, unknown>, updated: number | undefined): string {
  return objectVersion(item) ?? String(updated ?? '');
}

/**
 * The starting point: an enumeration of what exists now. With `from` (the instant a poller recorded when it started),
 * objects changed after it are emitted, CREATED when also created after it (never a calendarView exception), else
 * UPDATED; older ones are not. A date in the very second of `from` cannot say on which side it lies (whole seconds):
 * it is taken for a change after it (`atOrAfter`: never lost; one made in the same second just before the start
 * comes out too; README "Starting point"). Without `from`, nothing is emitted.
 */
export async function startDelta(ctx: EngineContext, resource: ResourceConfig, from?: number): Promise<RoundResult<DeltaCursor>> {
  const url = initialDeltaUrl(resource, ctx.pollStart);
  const walked = await walk(ctx, resource, url);
  // calendarView: what changed after `from`, one item per series (its master), and what is in the window.
  const calendar = await calendarViewStart(ctx, resource, url, walked.items, from);
  const items = calendar ? calendar.items : walked.items;
  const { deltaLink } = walked;
  const requests = walked.requests + (calendar?.requests ?? 0);
  const roundStart = roundStartOnGraphClock(ctx);
  const read = new Map<string, number>();
  const events: Ms365Event[] = [];
  for (const [id, item] of items) {
    if (item.root !== undefined && item.root !== null) continue; // the drive root appears in feeds (§5)
    if (isRemoved(item)) continue; // gone before we looked: when, nobody can tell
    const { updated, created } = datesOf(resource, item);
    if (created !== undefined && atOrAfter(created, roundStart)) read.set(idHash(id), created);
    const changed = updated ?? created;
    if (from === undefined || changed === undefined || !atOrAfter(changed, from)) continue;
    // A calendarView exception is an edit of an occurrence that existed: UPDATED, as in later rounds (`calendar-view.ts`).
    const isNew = created !== undefined && atOrAfter(created, from) && !(calendar && isException(item));
    const eventType: EventType = isNew ? 'CREATED' : 'UPDATED';
    events.push(makeEvent(resource, ctx, item, id, eventType, changed, versionOf(item, updated)));
  }
  const cursor = nextCursor(roundStart, deltaLink, read);
  return { events, cursor: calendar ? { ...cursor, calendar: calendar.state } : cursor, requests };
}

/**
 * The events of a round that started at `roundStart` (Graph's clock); `read` receives the creation time of each
 * object read (not deleted) created at or after `roundStart` (`atOrAfter`), keyed by the hash of its id.
 */
function toEvents(ctx: EngineContext, resource: ResourceConfig, items: Map<string, Record<string, unknown>>, previous: DeltaCursor, roundStart: number, onlyModifiedSince: boolean, read: Map<string, number>): Ms365Event[] {
  const events: Ms365Event[] = [];
  const since = previous.syncedAt;
  const known = knownCreations(previous);
  const calendarView = isCalendarView(resource.url);
  // Graph's clock is behind the previous round's start: it was set back, and "created since" means nothing this
  // round; Open Connectors' rule (created ≈ modified) decides instead.
  const clockWentBack = roundStart < since - CLOCK_JUMP_MS;
  for (const [id, item] of items) {
    if (item.root !== undefined && item.root !== null) continue; // the drive root appears in feeds (§5)
    const removed = isRemoved(item);
    const { updated, created } = datesOf(resource, item);
    const listedTime = created !== undefined && known.times.has(created);
    const readNow = !removed && created !== undefined && atOrAfter(created, roundStart);
    // The id's hash (a digest per object costs): only for one created at a listed time, or to be listed now.
    const h = listedTime || readNow ? idHash(id) : undefined;
    if (onlyModifiedSince && !removed) {
      if (updated === undefined || !atOrAfter(updated, since)) continue;
      // Already read in the second of `since` and not modified after its creation: the same version, reported.
      // (Listed only: one merely in the unlisted range may never have been reported.)
      if (h !== undefined && updated === created && known.byHash.get(h) === created) continue;
    }
    if (readNow) read.set(h!, created!);
    // Delta reports state, not each change (§5): an object created since the previous round started (its delta
    // token was taken after that instant) is CREATED even if also modified since; created before it, UPDATED. One
    // created since but already read by an earlier round (before its token was taken, or in the same whole second
    // as its start) is UPDATED now.
    // (A calendarView exception is an edit of an occurrence that existed: never new, `calendar-view.ts`.)
    const isNew = created !== undefined && atOrAfter(created, since) && !alreadyRead(known, h, created) && !(calendarView && isException(item));
    const eventType: EventType = removed ? 'DELETED' : clockWentBack ? classify(created, updated, resource.createdCheckTolerance) : isNew ? 'CREATED' : 'UPDATED';
    const version = removed ? 'removed' : versionOf(item, updated);
    events.push(makeEvent(resource, ctx, item, id, eventType, removed ? ctx.pollStart : updated ?? ctx.pollStart, version));
  }
  return events;
}

/**
 * The cursor after a round that started at `syncedAt` (Graph's clock) from `previous`, having read `read`: the
 * objects read before and not again, then those read (their creation as read now), each still at or after
 * `syncedAt`; the earliest created listed, at most `MAX_CREATED_LISTED`, the others as a range of creation times.
 */
function nextCursor(syncedAt: number, deltaLink: string, read: Map<string, number>, previous?: DeltaCursor): DeltaCursor {
  // Per creation time, the hashes: those listed before and not read again (still at or after `syncedAt`), then those read.
  const byTime = new Map<number, string[]>();
  const list = (h: string, created: number) => {
    const hashes = byTime.get(created);
    if (hashes) hashes.push(h);
    else byTime.set(created, [h]);
  };
  for (const [h, created] of knownCreations(previous).byHash) if (!read.has(h) && atOrAfter(created, syncedAt)) list(h, created);
  for (const [h, created] of read) list(h, created);
  const created: Array<[number, string]> = [];
  let unlisted = previous?.createdUnlisted && atOrAfter(previous.createdUnlisted[1], syncedAt) ? previous.createdUnlisted : undefined;
  let room = MAX_CREATED_LISTED;
  for (const time of [...byTime.keys()].sort((a, b) => a - b)) {
    const hashes = byTime.get(time)!;
    room -= GROUP_COST; // a creation time costs about two ids in JSON: millisecond dates make one group per object
    if (room > 0) created.push([time, hashes.slice(0, room).join('')]);
    if (hashes.length > room) unlisted = unlisted ? [Math.min(unlisted[0], time), Math.max(unlisted[1], time)] : [time, time];
    room = Math.max(0, room - hashes.length);
  }
  const cursor: DeltaCursor = { mode: 'delta', deltaLink, syncedAt };
  if (created.length > 0) cursor.created = created;
  if (unlisted) cursor.createdUnlisted = unlisted;
  return cursor;
}

/** One round from `cursor`. */
export async function pollDelta(ctx: EngineContext, resource: ResourceConfig, cursor: DeltaCursor): Promise<RoundResult<DeltaCursor>> {
  if (isCalendarView(resource.url)) return pollCalendarView(ctx, resource, cursor, { walk, toEvents, nextCursor, initialDeltaUrl });
  try {
    const { items, deltaLink, requests } = await walk(ctx, resource, cursor.deltaLink);
    const roundStart = roundStartOnGraphClock(ctx);
    const read = new Map<string, number>();
    const events = toEvents(ctx, resource, items, cursor, roundStart, false, read);
    return { events, cursor: nextCursor(roundStart, deltaLink, read, cursor), requests };
  } catch (err) {
    if (!(err instanceof GraphError && err.status === 410)) throw err;
    // §5: 410 + Location = start a fresh enumeration there (or from the configured URL).
    const fresh = err.location ?? initialDeltaUrl(resource, ctx.pollStart);
    const { items, deltaLink, requests } = await walk(ctx, resource, fresh);
    const roundStart = roundStartOnGraphClock(ctx);
    const read = new Map<string, number>();
    const events = toEvents(ctx, resource, items, cursor, roundStart, true, read);
    return {
      events,
      cursor: nextCursor(roundStart, deltaLink, read, cursor),
      requests: requests + 1,
      resynced: true,
    };
  }
}
