/**
 * calendarView delta as Microsoft serves it (`reference/graph.md` §5 "Events", §11.2), turned into one change per
 * thing a user changed. The delta engine hands calendarView resources to this module; it feeds the engine's own
 * classification (`toEvents`) with a round's items rewritten as follows:
 *
 * - **Series.** Graph expands a series into its occurrences, each a stub (`id`, `type: "occurrence"`,
 *   `seriesMasterId`, `start`, `end`: no subject, no dates), and re-emits every occurrence in the window when the
 *   master changes. The stubs of one series become ONE item, the series master (returned by Graph beside them, or
 *   read once with `GET …/events/{seriesMasterId}`), so the change is dated at the master's `lastModifiedDateTime`,
 *   never at the poll time. An edited occurrence (`type: "exception"`, in full) is its own item, UPDATED (never CREATED:
 *   the occurrence existed).
 * - **The window.** The window of the first request is frozen in the token, and Graph answers `@removed` (reason
 *   `deleted`) both for deletions inside it and for anything added, changed or deleted outside it. Following Graph's
 *   own sync guidance (a delta client keeps the set of what it has seen), the cursor keeps the ids of what is in the
 *   window, as 8-character hashes: a removal of an id never seen in the window is ignored; one of a single instance
 *   seen there is checked with `GET …/events/{id}` (404: DELETED; still there: it left the window, UPDATED if it
 *   changed since the last poll, else nothing); removals of a series' occurrences are one check of the master.
 *   Deleting or cancelling one occurrence is not reported by Graph at all (§11.2): it cannot be emitted.
 * - **Moving the window.** When the product chose the window (no `startDateTime` in the configured URL: one year back,
 *   two ahead), it is moved before it runs out: once less than a year of it lies ahead, a round reads its deltaLink as
 *   usual, then enumerates a fresh window silently, emitting only objects that entered the window and changed since
 *   the last poll; the cursor continues from the fresh deltaLink. A window given in the URL is kept as given.
 */
import { GraphError } from '../graph/client';
import type { Ms365Event } from '../events';
import type { ResourceConfig } from '../opencon/poller-config';
import { readDate, hashChunks, roundStartOnGraphClock, shortHash, type EngineContext } from './shared';

const DAY = 86_400_000;
/** Less than this much of a product-chosen window ahead: move it. */
const ROLL_BEFORE_END_MS = 365 * DAY;
const HASH_LENGTH = 8;

/** What the cursor of a calendarView resource keeps beside its deltaLink. */
export interface CalendarViewState {
  /** Window frozen in the current delta token (ms). */
  start: number;
  end: number;
  /** The product chose the window (it moves forward); false when the configured URL gives one. */
  rolling: boolean;
  /** Hashes of the single instances in the window, concatenated. */
  singles: string;
  /** Per series master id: hashes of its occurrences and exceptions in the window, concatenated. */
  series: Record<string, string>;
}

type Item = Record<string, unknown>;
type Items = Map<string, Item>;

/** The parts of the delta engine this module drives (passed in, so the two modules do not import each other). */
type CalendarCursor = { deltaLink: string; syncedAt: number; calendar?: CalendarViewState };

export interface DeltaEngineParts<C extends CalendarCursor> {
  walk(ctx: EngineContext, resource: ResourceConfig, url: string): Promise<{ items: Items; deltaLink: string; requests: number }>;
  toEvents(ctx: EngineContext, resource: ResourceConfig, items: Items, previous: C, roundStart: number, onlyModifiedSince: boolean, createdOf: Map<string, number>): Ms365Event[];
  nextCursor(syncedAt: number, deltaLink: string, createdOf: Map<string, number>, previous?: C): C;
  initialDeltaUrl(resource: ResourceConfig, now: number): string;
}

export function isCalendarView(url: string): boolean {
  return /\/calendarView\/delta(\?|$)/i.test(url);
}

function hash(id: string): string {
  return shortHash(id, HASH_LENGTH);
}

function chunks(text: string): string[] {
  return hashChunks(text, HASH_LENGTH);
}

/**
 * An exception is an occurrence that existed before its edit: never CREATED, whatever its createdDateTime says
 * (the delta engine classifies it UPDATED, in change rounds and in the first enumeration alike).
 */
export function isException(item: Item): boolean {
  return item.type === 'exception';
}

function isRemoved(item: Item): boolean {
  return item['@removed'] !== undefined;
}

/** The ids known to be in the window, with the series each occurrence belongs to. */
class Membership {
  readonly singles: Set<string>;
  readonly series = new Map<string, Set<string>>();
  private readonly seriesOf = new Map<string, string>();

  constructor(state?: Pick<CalendarViewState, 'singles' | 'series'>) {
    this.singles = new Set(chunks(state?.singles ?? ''));
    for (const [seriesId, occurrences] of Object.entries(state?.series ?? {})) for (const h of chunks(occurrences)) this.addOccurrence(seriesId, h);
  }

  addOccurrence(seriesId: string, h: string): void {
    let set = this.series.get(seriesId);
    if (!set) this.series.set(seriesId, (set = new Set()));
    set.add(h);
    this.seriesOf.set(h, seriesId);
  }

  /** The series an occurrence (or exception) hash belongs to. */
  seriesOfOccurrence(h: string): string | undefined {
    return this.seriesOf.get(h);
  }

  removeSeries(seriesId: string): void {
    for (const h of this.series.get(seriesId) ?? []) this.seriesOf.delete(h);
    this.series.delete(seriesId);
  }

  removeOccurrence(h: string): void {
    const seriesId = this.seriesOf.get(h);
    if (seriesId) this.series.get(seriesId)?.delete(h);
    this.seriesOf.delete(h);
  }

  /** Records an item present in the window. */
  note(id: string, item: Item): void {
    const seriesId = typeof item.seriesMasterId === 'string' ? item.seriesMasterId : undefined;
    if (item.type === 'seriesMaster') {
      if (!this.series.has(id)) this.series.set(id, new Set());
    } else if (seriesId) this.addOccurrence(seriesId, hash(id));
    else this.singles.add(hash(id));
  }

  knows(id: string): boolean {
    const h = hash(id);
    return this.series.has(id) || this.singles.has(h) || this.seriesOf.has(h);
  }

  state(window: { start: number; end: number; rolling: boolean }): CalendarViewState {
    const series: Record<string, string> = {};
    for (const [seriesId, set] of this.series) series[seriesId] = [...set].join('');
    return { ...window, singles: [...this.singles].join(''), series };
  }
}

/** The window of a first calendarView delta URL (its `startDateTime` / `endDateTime`). */
function windowOf(url: string): { start: number; end: number } {
  const query = new URLSearchParams(url.includes('?') ? url.slice(url.indexOf('?') + 1) : '');
  const param = (name: string) => {
    for (const [key, value] of query) if (key.toLowerCase() === name) return Date.parse(value);
    return NaN;
  };
  return { start: param('startdatetime'), end: param('enddatetime') };
}

/** `GET …/events/{id}` beside the configured calendarView path ("Get event"); undefined on 404. */
async function getEvent(ctx: EngineContext, resource: ResourceConfig, id: string): Promise<Item | undefined> {
  const base = resource.url.replace(/\?.*$/, '').replace(/\/(calendars\/[^/]+\/|calendar\/)?calendarView\/delta$/i, '');
  try {
    return await ctx.graph.get<Item>(`${base}/events/${encodeURIComponent(id)}`, undefined, ctx.signal);
  } catch (err) {
    if (err instanceof GraphError && err.status === 404) return undefined;
    throw err;
  }
}

function modifiedSince(resource: ResourceConfig, item: Item, since: number): boolean {
  const { dates } = resource;
  const updated = readDate(item, dates.updatedField ?? 'lastModifiedDateTime', dates.updatedFormat, dates.updatedZone ?? resource.timezone);
  return updated !== undefined && updated >= since;
}

const deletedItem = (id: string): Item => ({ '@odata.type': '#microsoft.graph.event', id, '@removed': { reason: 'deleted' } });

/**
 * A change round's items, rewritten (see the module comment); `membership` is updated as it goes. With an unknown
 * membership (a cursor from before this module), every removal is checked.
 */
async function rewriteChanges(ctx: EngineContext, resource: ResourceConfig, items: Items, membership: Membership | undefined, since: number): Promise<{ items: Items; membership: Membership; requests: number }> {
  const out: Items = new Map();
  const known = membership ?? new Membership();
  /**
   * Series touched this round: the master if Graph returned it, whether stubs came. A removed master or occurrence
   * may have left the window only (the series moved): the master is read to tell.
   */
  const touched = new Map<string, { master?: Item; stubs: boolean }>();
  const touch = (seriesId: string) => {
    let t = touched.get(seriesId);
    if (!t) touched.set(seriesId, (t = { stubs: false }));
    return t;
  };
  const toCheck: string[] = [];
  for (const [id, item] of items) {
    if (isRemoved(item)) {
      const h = hash(id);
      const seriesId = known.seriesOfOccurrence(h);
      if (known.series.has(id)) touch(id);
      else if (seriesId) {
        known.removeOccurrence(h);
        touch(seriesId);
      } else if (known.singles.has(h) || !membership) toCheck.push(id);
      // else: never in the window, so an add, change or delete outside it (§11.2): not ours to report.
      continue;
    }
    known.note(id, item);
    if (item.type === 'occurrence' && typeof item.seriesMasterId === 'string') touch(item.seriesMasterId).stubs = true;
    else if (item.type === 'seriesMaster') touch(id).master = item;
    else out.set(id, item);
  }
  // The checks run side by side (the Graph client bounds the concurrency per mailbox).
  const checked = await Promise.all(toCheck.map((id) => getEvent(ctx, resource, id)));
  toCheck.forEach((id, i) => {
    const current = checked[i];
    known.singles.delete(hash(id));
    if (!current) out.set(id, deletedItem(id));
    else if (modifiedSince(resource, current, since)) out.set(id, current); // it left the window
  });
  const series = [...touched];
  const masters = await Promise.all(series.map(([seriesId, t]) => t.master ?? getEvent(ctx, resource, seriesId)));
  series.forEach(([seriesId, t], i) => {
    const master = masters[i];
    if (!master) {
      known.removeSeries(seriesId);
      out.set(seriesId, deletedItem(seriesId));
    } else if (t.stubs || t.master || modifiedSince(resource, master, since)) out.set(seriesId, master);
  });
  const requests = toCheck.length + series.filter(([, t]) => !t.master).length;
  return { items: out, membership: known, requests };
}

/**
 * A fresh enumeration (a moved window, or a resync after 410): its membership, and the items to report: those not
 * `covered` (already in the window before, so the old deltaLink has reported their changes) that changed since
 * `since`. Series are judged by their master (returned, or read once).
 */
async function rewriteEnumeration(ctx: EngineContext, resource: ResourceConfig, items: Items, covered: Membership | undefined, since: number): Promise<{ items: Items; membership: Membership; requests: number }> {
  const membership = new Membership();
  const out: Items = new Map();
  const series = new Map<string, Item | undefined>();
  for (const [id, item] of items) {
    if (isRemoved(item)) continue;
    const wasKnown = covered?.knows(id) ?? false;
    membership.note(id, item);
    if (item.type === 'occurrence' && typeof item.seriesMasterId === 'string') {
      if (!covered?.series.has(item.seriesMasterId) && !series.has(item.seriesMasterId)) series.set(item.seriesMasterId, undefined);
    } else if (item.type === 'seriesMaster') {
      if (!covered?.series.has(id)) series.set(id, item);
    } else if (!wasKnown && modifiedSince(resource, item, since)) out.set(id, item);
  }
  const pending = [...series];
  const masters = await Promise.all(pending.map(([seriesId, returned]) => returned ?? getEvent(ctx, resource, seriesId)));
  pending.forEach(([seriesId], i) => {
    const master = masters[i];
    if (master && modifiedSince(resource, master, since)) out.set(seriesId, master);
  });
  return { items: out, membership, requests: pending.filter(([, returned]) => !returned).length };
}

/**
 * After the first enumeration of `url`: the calendar state and, when `since` is given, the items to report as changed
 * since then (single instances and exceptions modified since, series whose master was, one item per series);
 * without `since` nothing is reported (a silent starting point). Undefined for other resources.
 */
export async function calendarViewStart(
  ctx: EngineContext,
  resource: ResourceConfig,
  url: string,
  items: Items,
  since?: number,
): Promise<{ state: CalendarViewState; items: Items; requests: number } | undefined> {
  if (!isCalendarView(resource.url)) return undefined;
  const window = { ...windowOf(url), rolling: !/[?&]startDateTime=/i.test(resource.url) };
  if (since === undefined) {
    const membership = new Membership();
    for (const [id, item] of items) if (!isRemoved(item)) membership.note(id, item);
    return { state: membership.state(window), items: new Map(), requests: 0 };
  }
  const first = await rewriteEnumeration(ctx, resource, items, undefined, since);
  return { state: first.membership.state(window), items: first.items, requests: first.requests };
}

/** One round of a calendarView resource: changes from the deltaLink, the window moved when due, 410 resynced. */
export async function pollCalendarView<C extends CalendarCursor>(
  ctx: EngineContext,
  resource: ResourceConfig,
  cursor: C,
  engine: DeltaEngineParts<C>,
): Promise<{ events: Ms365Event[]; cursor: C; requests: number; resynced?: boolean }> {
  const since = cursor.syncedAt;
  const rolling = cursor.calendar?.rolling ?? !/[?&]startDateTime=/i.test(resource.url);
  const previous = cursor.calendar ? new Membership(cursor.calendar) : undefined;
  const finish = (items: Items, deltaLink: string, state: CalendarViewState, requests: number, resynced: boolean) => {
    const roundStart = roundStartOnGraphClock(ctx);
    const createdOf = new Map<string, number>();
    const events = engine.toEvents(ctx, resource, items, cursor, roundStart, false, createdOf);
    const next = { ...engine.nextCursor(roundStart, deltaLink, createdOf, cursor), calendar: state };
    return resynced ? { events, cursor: next, requests, resynced } : { events, cursor: next, requests };
  };
  /** A fresh window from now, enumerated silently; `merged` holds what the round reports already. */
  const fresh = async (url: string, merged: Items, requests: number, resynced: boolean) => {
    const walked = await engine.walk(ctx, resource, url);
    const entered = await rewriteEnumeration(ctx, resource, walked.items, resynced ? undefined : previous, since);
    for (const [id, item] of entered.items) if (!merged.has(id)) merged.set(id, item);
    const state = entered.membership.state({ ...windowOf(url), rolling });
    return finish(merged, walked.deltaLink, state, requests + walked.requests + entered.requests, resynced);
  };
  let walked;
  try {
    walked = await engine.walk(ctx, resource, cursor.deltaLink);
  } catch (err) {
    if (!(err instanceof GraphError && err.status === 410)) throw err;
    // §5: 410 = start again; a fresh window (the Location Graph gives keeps the old one).
    return fresh(rolling ? engine.initialDeltaUrl(resource, ctx.pollStart) : err.location ?? engine.initialDeltaUrl(resource, ctx.pollStart), new Map(), 1, true);
  }
  const changes = await rewriteChanges(ctx, resource, walked.items, previous, since);
  const requests = walked.requests + changes.requests;
  const end = cursor.calendar?.end ?? NaN;
  if (rolling && !(ctx.pollStart < end - ROLL_BEFORE_END_MS)) return fresh(engine.initialDeltaUrl(resource, ctx.pollStart), changes.items, requests, false);
  return finish(changes.items, walked.deltaLink, changes.membership.state({ start: cursor.calendar?.start ?? NaN, end, rolling }), requests, false);
}
