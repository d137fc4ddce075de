/**
 * The delta engine (`reference/graph.md` §5): messages per folder, calendarView, drive, any `/delta` path.
 *
 * - First poll: the starting point. Drive uses `token=latest`; other resources enumerate silently to the
 *   `@odata.deltaLink` (objects that existed before are not emitted, CONTRACT).
 * - Later polls: follow the deltaLink; each object once in its last state (merge by id, last wins);
 *   `@removed` and the drive `deleted` facet → DELETED; otherwise CREATED when the object was created since the
 *   previous round (within `createdCheckTolerance`), else UPDATED.
 * - 410 Gone (expired token): resync from `Location` (or a fresh enumeration), emitting only objects modified since
 *   the last round, so the flow is not flooded with old items. Deletions during the gap cannot be seen (documented).
 * State: the deltaLink and the time of the last round, a few hundred bytes whatever the mailbox size.
 */
import { GraphError } from '../graph/client';
import type { Ms365Event, EventType } from '../events';
import type { ResourceConfig } from '../opencon/poller-config';
import { isDriveDeltaUrl } from './drive-scope';
import { CLOCK_JUMP_MS, classify, makeEvent, pages, readDate, readField, roundStartOnGraphClock, type EngineContext } from './shared';

export interface DeltaCursor {
  mode: 'delta';
  deltaLink: string;
  /** Start of the last completed round (ms). */
  syncedAt: number;
  /**
   * `[objectId, createdMs]` of objects reported CREATED whose creation is at or after `syncedAt`: "created since" for
   * the next round too (created between that round's start and the moment Graph took its delta token), but no longer
   * new there. Kept while their creation is at or after the newest `syncedAt`, so a handful at most.
   */
  createdSince?: Array<[string, number]>;
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

function isDrive(url: string): boolean {
  return isDriveDeltaUrl(url); // root or folder (drive-scope.ts)
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
      items.delete(String(id)); // last wins, and keeps arrival order
      items.set(String(id), item);
    }
    if (page['@odata.deltaLink']) deltaLink = page['@odata.deltaLink'];
  }
  if (!deltaLink) throw new GraphError({ status: 500, graphCode: 'noDeltaLink', message: `delta for ${resource.objectType} ended without an @odata.deltaLink` });
  return { items, deltaLink, requests };
}

/** Set the starting point: nothing that exists now is emitted. */
export async function startDelta(ctx: EngineContext, resource: ResourceConfig): Promise<RoundResult<DeltaCursor>> {
  if (isDrive(resource.url)) {
    const sep = resource.url.includes('?') ? '&' : '?';
    const { deltaLink, requests } = await walk(ctx, resource, `${resource.url}${sep}token=latest`);
    return { events: [], cursor: { mode: 'delta', deltaLink, syncedAt: roundStartOnGraphClock(ctx) }, requests };
  }
  const { deltaLink, requests } = await walk(ctx, resource, initialDeltaUrl(resource, ctx.pollStart));
  return { events: [], cursor: { mode: 'delta', deltaLink, syncedAt: roundStartOnGraphClock(ctx) }, requests };
}

/**
 * The events of a round that started at `roundStart` (Graph's clock); `createdOf` receives the creation time of each
 * object reported CREATED.
 */
function toEvents(ctx: EngineContext, resource: ResourceConfig, items: Map<string, Record<string, unknown>>, previous: DeltaCursor, roundStart: number, onlyModifiedSince: boolean, createdOf: Map<string, number>): Ms365Event[] {
  const events: Ms365Event[] = [];
  const since = previous.syncedAt;
  const alreadyCreated = new Set((previous.createdSince ?? []).map(([id]) => id));
  // Graph's clock is behind the previous round's start: it was set back, and "created since" means nothing this
  // round; Open Connectors' rule (created ≈ modified) decides instead.
  const clockWentBack = roundStart < since - CLOCK_JUMP_MS;
  const { dates } = resource;
  for (const [id, item] of items) {
    if (item.root !== undefined && item.root !== null) continue; // the drive root appears in feeds (§5)
    const removed = item['@removed'] !== undefined || (item.deleted !== undefined && item.deleted !== null);
    const updated = readDate(item, dates.updatedField ?? 'lastModifiedDateTime', dates.updatedFormat, dates.updatedZone ?? resource.timezone);
    const created = readDate(item, dates.createdField ?? 'createdDateTime', dates.createdFormat, dates.createdZone ?? resource.timezone);
    if (onlyModifiedSince && !removed && (updated === undefined || updated < since)) continue;
    // Delta reports state, not each change (§5): an object created since the previous round started (its delta
    // token was taken after that instant) is CREATED even if also modified since; created before it, UPDATED. One
    // created after that instant but already reported CREATED by the previous round (it was read before the token
    // was taken) is UPDATED now.
    const isNew = created !== undefined && created >= since && !alreadyCreated.has(id);
    const eventType: EventType = removed ? 'DELETED' : clockWentBack ? classify(created, updated, resource.createdCheckTolerance) : isNew ? 'CREATED' : 'UPDATED';
    const version = removed ? 'removed' : String(item['@odata.etag'] ?? item.eTag ?? item.changeKey ?? updated ?? '');
    if (eventType === 'CREATED' && created !== undefined) createdOf.set(id, created);
    events.push(makeEvent(resource, ctx, item, id, eventType, removed ? ctx.pollStart : updated ?? ctx.pollStart, version));
  }
  return events;
}

/** The cursor after a round that started at `syncedAt` (Graph's clock) from `previous` and reported `createdOf` CREATED. */
function nextCursor(syncedAt: number, deltaLink: string, createdOf: Map<string, number>, previous?: DeltaCursor): DeltaCursor {
  const reported = new Map<string, number>(previous?.createdSince ?? []);
  for (const [id, created] of createdOf) reported.set(id, created);
  const createdSince = [...reported].filter(([, created]) => created >= syncedAt);
  return createdSince.length > 0 ? { mode: 'delta', deltaLink, syncedAt, createdSince } : { mode: 'delta', deltaLink, syncedAt };
}

/** One round from `cursor`. */
export async function pollDelta(ctx: EngineContext, resource: ResourceConfig, cursor: DeltaCursor): Promise<RoundResult<DeltaCursor>> {
  try {
    const { items, deltaLink, requests } = await walk(ctx, resource, cursor.deltaLink);
    const roundStart = roundStartOnGraphClock(ctx);
    const createdOf = new Map<string, number>();
    const events = toEvents(ctx, resource, items, cursor, roundStart, false, createdOf);
    return { events, cursor: nextCursor(roundStart, deltaLink, createdOf, cursor), requests };
  } catch (err) {
    if (!(err instanceof GraphError && err.status === 410)) throw err;
    // §5: 410 + Location = start a fresh enumeration there (or from the configured URL).
    const fresh = err.location ?? (isDrive(resource.url) ? resource.url : initialDeltaUrl(resource, ctx.pollStart));
    const { items, deltaLink, requests } = await walk(ctx, resource, fresh);
    const roundStart = roundStartOnGraphClock(ctx);
    const createdOf = new Map<string, number>();
    const events = toEvents(ctx, resource, items, cursor, roundStart, true, createdOf);
    return {
      events,
      cursor: nextCursor(roundStart, deltaLink, createdOf, cursor),
      requests: requests + 1,
      resynced: true,
    };
  }
}
