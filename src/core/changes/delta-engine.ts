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
 * State: the deltaLink and the time of the last round, a few hundred bytes whatever the mailbox size (calendarView:
 * plus 8 bytes per event or occurrence in the window).
 */
import { GraphError } from '../graph/client';
import type { Ms365Event, EventType } from '../events';
import type { ResourceConfig } from '../opencon/poller-config';
import { CLOCK_JUMP_MS, atOrAfter, classify, makeEvent, objectVersion, pages, readDate, readField, roundStartOnGraphClock, surelyAtOrAfter, type EngineContext } from './shared';
import { calendarViewStart, isCalendarView, pollCalendarView, type CalendarViewState } from './calendar-view';

export interface DeltaCursor {
  mode: 'delta';
  deltaLink: string;
  /** Start of the last completed round (ms). */
  syncedAt: number;
  /**
   * `[objectId, createdMs]` of objects already read (reported, or passed over by the starting enumeration) whose
   * creation is at or after `syncedAt` at its precision (`atOrAfter`: the whole second of `syncedAt` for Outlook and
   * drive dates): "created since" for the next round too (created between that round's start and the moment Graph
   * took its delta token, or earlier in the same second), but no longer new there. Kept while their creation is at or
   * after the newest `syncedAt`, so a handful at most.
   */
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
 * objects changed after it are emitted, CREATED when also created after it, else UPDATED; older ones are not. A date
 * in the very second of `from` cannot say on which side it lies (whole seconds): it is taken for an older object
 * (`surelyAtOrAfter`; README "Delta engine"). Without `from`, nothing is emitted.
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
    if (created !== undefined) read.set(id, created);
    const changed = updated ?? created;
    if (from === undefined || changed === undefined || !surelyAtOrAfter(changed, from)) continue;
    const eventType: EventType = created !== undefined && surelyAtOrAfter(created, from) ? 'CREATED' : 'UPDATED';
    events.push(makeEvent(resource, ctx, item, id, eventType, changed, versionOf(item, updated)));
  }
  const cursor = nextCursor(roundStart, deltaLink, read);
  return { events, cursor: calendar ? { ...cursor, calendar: calendar.state } : cursor, requests };
}

/**
 * The events of a round that started at `roundStart` (Graph's clock); `read` receives the creation time of each
 * object read (not deleted).
 */
function toEvents(ctx: EngineContext, resource: ResourceConfig, items: Map<string, Record<string, unknown>>, previous: DeltaCursor, roundStart: number, onlyModifiedSince: boolean, read: Map<string, number>): Ms365Event[] {
  const events: Ms365Event[] = [];
  const since = previous.syncedAt;
  const known = new Map(previous.createdSince ?? []);
  // Graph's clock is behind the previous round's start: it was set back, and "created since" means nothing this
  // round; Open Connectors' rule (created ≈ modified) decides instead.
  const clockWentBack = roundStart < since - CLOCK_JUMP_MS;
  for (const [id, item] of items) {
    if (item.root !== undefined && item.root !== null) continue; // the drive root appears in feeds (§5)
    const removed = isRemoved(item);
    const { updated, created } = datesOf(resource, item);
    if (onlyModifiedSince && !removed) {
      if (updated === undefined || !atOrAfter(updated, since)) continue;
      // Already read in the second of `since` and not modified after its creation: the same version, reported.
      if (created !== undefined && known.get(id) === created && updated === created) continue;
    }
    if (!removed && created !== undefined) read.set(id, created);
    // Delta reports state, not each change (§5): an object created since the previous round started (its delta
    // token was taken after that instant) is CREATED even if also modified since; created before it, UPDATED. One
    // created since but already read by an earlier round (before its token was taken, or in the same whole second
    // as its start) is UPDATED now.
    const isNew = created !== undefined && atOrAfter(created, since) && !known.has(id);
    const eventType: EventType = removed ? 'DELETED' : clockWentBack ? classify(created, updated, resource.createdCheckTolerance) : isNew ? 'CREATED' : 'UPDATED';
    const version = removed ? 'removed' : versionOf(item, updated);
    events.push(makeEvent(resource, ctx, item, id, eventType, removed ? ctx.pollStart : updated ?? ctx.pollStart, version));
  }
  return events;
}

/** The cursor after a round that started at `syncedAt` (Graph's clock) from `previous`, having read `read`. */
function nextCursor(syncedAt: number, deltaLink: string, read: Map<string, number>, previous?: DeltaCursor): DeltaCursor {
  // The previous ones not read again, then those read (their creation as read now), each still at or after `syncedAt`.
  const createdSince: Array<[string, number]> = [];
  for (const entry of previous?.createdSince ?? []) if (!read.has(entry[0]) && atOrAfter(entry[1], syncedAt)) createdSince.push(entry);
  for (const [id, created] of read) if (atOrAfter(created, syncedAt)) createdSince.push([id, created]);
  return createdSince.length > 0 ? { mode: 'delta', deltaLink, syncedAt, createdSince } : { mode: 'delta', deltaLink, syncedAt };
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
