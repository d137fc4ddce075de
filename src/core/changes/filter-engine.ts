/**
 * The filter engine: a collection read with `$filter` on a modified date (`reference/graph.md` §6), the Open
 * Connectors way (`reference/open-connectors.md` §3.2–§3.3), without its lost and repeated events.
 *
 * - URL macros are rendered at the last poll's start minus `pollDelay`, minus an overlap window (default 5 min), so
 *   items that become visible late (Graph's indexing latency, the n8n pitfall of §6) or share a timestamp with the
 *   boundary are read again; an id-and-date set of what was already emitted inside the window drops the repeats.
 *   The set only holds objects changed inside the window (hashed keys, at most `MAX_SEEN`): it does not grow with
 *   the mailbox, nor beyond ~47 KiB in a burst (issue 4: state <= 64 KiB per resource).
 * - `filterByUpdatedDate` (default true) keeps only objects changed inside the window (client-side, for URLs whose
 *   filter is coarser or absent); `filterByCurrentDate` leaves objects changed after this poll started to the next.
 * - CREATED vs UPDATED by the Open Connectors rule with `createdCheckTolerance`. Deletions cannot be seen by a filter.
 * - Without a recorded starting point, the first poll only sets it (no request). A poller's starting point is
 *   recorded when it starts (CONTRACT), maybe long before its first successful round (`pollFilterFrom`): that round
 *   reads from it and emits what changed after it.
 * - Dates in whole seconds (Outlook, drive: `shared.atOrAfter`) are compared with the second of an instant, so an
 *   object changed just after a round started, in the same second, is not lost; the dedupe set drops the repeats.
 */
import { expandUrlMacros } from '../dates/url-macros';
import type { ResourceConfig } from '../opencon/poller-config';
import type { Ms365Event } from '../events';
import { CLOCK_JUMP_MS, atOrAfter, classify, makeEvent, objectVersion, pages, readDate, readField, roundStartOnGraphClock, shortHash, type EngineContext } from './shared';
import type { RoundResult } from './delta-engine';
import { graphFieldName } from '../opencon/hub-url';

export interface FilterCursor {
  mode: 'filter';
  /** Start of the last completed round (ms). */
  watermark: number;
  /** `[key, updatedMs]` already emitted inside the overlap window; key = `dedupeKey(objectId, updatedMs, version)`. */
  seen: Array<[string, number]>;
  /**
   * Set when more than `MAX_SEEN` changes fell inside one overlap window: objects changed at or before this instant
   * (ms) are not emitted again (they were, or are late arrivals given up to keep the state bounded).
   */
  skipThrough?: number;
  /**
   * Start of the first round: objects changed before it existed before the poller and are not emitted. 0 once the
   * window has moved past it.
   */
  startedAt: number;
}

export const DEFAULT_OVERLAP_MS = 5 * 60_000;

/**
 * At most this many dedupe entries per resource (~31 bytes each in JSON: ~47 KiB, under the 64 KiB per-resource
 * state budget of issue 4 whatever the burst). Beyond it the oldest are dropped and `skipThrough` moves up.
 */
export const MAX_SEEN = 1500;

/**
 * A short, fixed-size key for an object's version: Graph ids are ~150 characters, the hash 12. With Graph's version
 * (`@odata.etag`, `changeKey`), two changes in the same whole second (one date) are two keys; without it (older cursors,
 * webhook catch-up bookmarks), id and date only.
 */
export function dedupeKey(objectId: string, updatedMs: number, version?: string): string {
  return shortHash(version ? `${objectId}|${updatedMs}|${version}` : `${objectId}|${updatedMs}`, 12);
}

/**
 * Graph's version (`@odata.etag`, `changeKey`) moves with `lastModifiedDateTime`, so it tells two changes in one whole
 * second apart only when that is the date the resource watches. A resource that watches another date (a "new mail"
 * resource on `receivedDateTime`, Open Connectors' way of getting CREATED only) must not take a new version of the
 * same date (the mail marked read) for a new change.
 */
export function versionsCount(updatedField: string): boolean {
  return /(^|\/)lastModifiedDateTime$/i.test(graphFieldName(updatedField));
}

/** Cursors written before keys were hashed held `id|updatedMs`: read them as their hash. */
function normalizeKey(key: string): string {
  const bar = key.lastIndexOf('|');
  return bar < 0 ? key : dedupeKey(key.slice(0, bar), Number(key.slice(bar + 1)));
}

export function startFilter(ctx: EngineContext): RoundResult<FilterCursor> {
  return { events: [], cursor: { mode: 'filter', watermark: ctx.pollStart, seen: [], startedAt: ctx.pollStart }, requests: 0 };
}

/**
 * The first round of a poller that recorded its starting point `from` when it started: objects changed after it are
 * emitted; one dated in the very second of `from` cannot say on which side it lies (whole seconds) and is taken for
 * a change after it (never lost; one made in that second just before the start comes out too; README "Starting
 * point"), and remembered, so that it does not come out twice.
 */
export function pollFilterFrom(ctx: EngineContext, resource: ResourceConfig, from: number, overlapMs = DEFAULT_OVERLAP_MS): Promise<RoundResult<FilterCursor>> {
  return pollFilter(ctx, resource, { mode: 'filter', watermark: from, seen: [], startedAt: from }, overlapMs);
}

/** The URL of a round whose window starts at `from` (ms): macros rendered, `$top` = pageSize unless given. */
export function filterUrl(resource: ResourceConfig, from: number): string {
  let url = expandUrlMacros(resource.url, from, resource.timezone);
  if (!/[?&]\$top=/i.test(url)) url += `${url.includes('?') ? '&' : '?'}$top=${resource.pageSize}`;
  return url;
}

export async function pollFilter(ctx: EngineContext, resource: ResourceConfig, cursor: FilterCursor, overlapMs = DEFAULT_OVERLAP_MS): Promise<RoundResult<FilterCursor>> {
  const since = cursor.watermark - resource.pollDelay * 1000;
  const from = since - overlapMs;
  const previous: Array<[string, number]> = cursor.seen.map(([key, at]) => [normalizeKey(key), at]);
  const seen = new Set(previous.map(([key]) => key));
  const skipThrough = cursor.skipThrough ?? -Infinity;
  const keep: Array<[string, number]> = [];
  const events: Ms365Event[] = [];
  const { dates } = resource;
  const updatedField = dates.updatedField ?? 'lastModifiedDateTime';
  const versioned = versionsCount(updatedField);
  let requests = 0;
  for await (const page of pages(ctx, filterUrl(resource, from))) {
    requests += 1;
    for (const item of page.value ?? []) {
      const idValue = readField(item, resource.idField);
      if (typeof idValue !== 'string' && typeof idValue !== 'number') continue;
      const id = String(idValue);
      const updated = readDate(item, updatedField, dates.updatedFormat, dates.updatedZone ?? resource.timezone);
      if (updated === undefined) continue;
      if (!atOrAfter(updated, cursor.startedAt ?? 0)) continue;
      if (updated <= skipThrough) continue;
      if (resource.filterByUpdatedDate && !atOrAfter(updated, from)) continue;
      if (resource.filterByCurrentDate && updated > ctx.pollStart) continue;
      const version = versioned ? objectVersion(item) : undefined;
      const key = dedupeKey(id, updated, version);
      if (seen.has(key) || (version && seen.has(dedupeKey(id, updated)))) continue;
      seen.add(key);
      keep.push([key, updated]);
      const created = readDate(item, dates.createdField ?? 'createdDateTime', dates.createdFormat, dates.createdZone ?? resource.timezone);
      events.push(makeEvent(resource, ctx, item, id, classify(created, updated, resource.createdCheckTolerance), updated, version ?? String(updated)));
    }
  }
  // Keep only what the next round's window can still return.
  const roundStart = roundStartOnGraphClock(ctx);
  const nextFrom = roundStart - resource.pollDelay * 1000 - overlapMs;
  // (At the precision of the dates: a whole-second one in the second of `nextFrom` is still read by that window.)
  let retained = [...previous.filter(([, at]) => atOrAfter(at, nextFrom)), ...keep.filter(([, at]) => atOrAfter(at, nextFrom))];
  let nextSkip = Number.isFinite(skipThrough) && atOrAfter(skipThrough, nextFrom) ? skipThrough : undefined;
  if (retained.length > MAX_SEEN) {
    // Keep the newest; everything at or before the first dropped instant is skipped from now on (never repeated).
    retained.sort((a, b) => b[1] - a[1]);
    const cutoff = retained[MAX_SEEN]![1];
    retained = retained.filter(([, at]) => at > cutoff);
    nextSkip = Math.max(cutoff, nextSkip ?? -Infinity);
  }
  // The next window opens at this round's start on Graph's clock (`roundStartOnGraphClock`: a jump of our clock
  // never skips a window). Once the window has moved past the poller's start, or Graph's clock went back before it,
  // that start no longer filters (0): objects changed after a clock was set back carry earlier dates and must come out.
  const startedAt = cursor.startedAt ?? cursor.watermark;
  const startPassed = startedAt < nextFrom || roundStart < startedAt - CLOCK_JUMP_MS;
  const next: FilterCursor = { mode: 'filter', watermark: roundStart, seen: retained, startedAt: startPassed ? 0 : startedAt };
  if (nextSkip !== undefined) next.skipThrough = nextSkip;
  return { events, cursor: next, requests };
}
