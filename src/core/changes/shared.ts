/**
 * What both poller engines share: reading configured fields (dotted paths; Open Connectors PascalCase and hub names
 * fall back to Graph's camelCase), the CREATED / UPDATED rule, the event shape, and paging through
 * `@odata.nextLink` (`reference/graph.md` §5–§6).
 */
import type { GraphClient } from '../graph/client';
export { CLOCK_JUMP_MS } from '../graph/client';
import { changeEventId, digestBase64url, isoDate, type EventType, type Ms365Event } from '../events';
import type { ElementKey } from '../elements';
import { graphFieldName } from '../opencon/hub-url';
import { parseDateValue } from '../dates/java-pattern';
import { parseGraphUtcDate } from '../dates/graph-iso';
import type { ResourceConfig } from '../opencon/poller-config';

export interface EngineContext {
  graph: GraphClient;
  elementKey: ElementKey;
  instanceName: string;
  /** When this poll started (ms). */
  pollStart: number;
  signal?: AbortSignal;
}

/**
 * When a round started, on Graph's clock, once its requests are answered: the earlier of `ctx.pollStart` (taken
 * from the clock offset known before the round) and Graph's clock now (corrected by this round's answers). After our
 * clock jumped ahead, the first is too late and the second right; after it jumped back, the first is early, which
 * only widens the next window.
 */
export function roundStartOnGraphClock(ctx: EngineContext): number {
  return Math.min(ctx.pollStart, ctx.graph.serverNow());
}

/**
 * Microsoft writes the dates of Outlook messages, contacts and drive items in whole seconds (`reference/graph.md`
 * §11.1: `2026-12-02T17:18:53Z`), events with 7 digits: an object created 300 ms after `instant` can carry a date 700 ms
 * before it. A date on a whole second is therefore compared with the second `instant` falls in; a finer one exactly.
 */
function isWholeSecond(value: number): boolean {
  return ((value % 1000) + 1000) % 1000 === 0;
}

/** The second `instant` falls in (ms). */
export function secondOf(instant: number): number {
  return Math.floor(instant / 1000) * 1000;
}

/** `value` may be at or after `instant`, at the precision of `value` (same second counts). */
export function atOrAfter(value: number, instant: number): boolean {
  return value >= (isWholeSecond(value) ? secondOf(instant) : instant);
}

/**
 * A short, fixed-size hash of `text` (sha1, base64url, the first `length` characters): how cursors remember Graph ids
 * (~150 characters) in a few bytes. A collision can only make two different objects look like one.
 */
export function shortHash(text: string, length: number): string {
  return digestBase64url('sha1', text).slice(0, length);
}

/** Hashes of `length` characters concatenated (as cursors store them), one by one. */
export function hashChunks(text: string, length: number): string[] {
  const out: string[] = [];
  for (let i = 0; i + length <= text.length; i += length) out.push(text.slice(i, i + length));
  return out;
}

/** The version Graph gives an object (`@odata.etag`, drive `eTag`, Outlook `changeKey`); undefined without one. */
export function objectVersion(item: Record<string, unknown>): string | undefined {
  const version = item['@odata.etag'] ?? item.eTag ?? item.changeKey;
  return typeof version === 'string' && version ? version : undefined;
}

export interface GraphPage<T = Record<string, unknown>> {
  value?: T[];
  '@odata.nextLink'?: string;
  '@odata.deltaLink'?: string;
}

/** Value at a dotted path; a missing segment is retried case-insensitively and under its Graph name. */
export function readField(obj: unknown, path: string): unknown {
  // The common case first: a plain field name the object has (`id`, `lastModifiedDateTime`).
  if (typeof obj === 'object' && obj !== null && path in obj && !path.includes('.')) return (obj as Record<string, unknown>)[path];
  let current: unknown = obj;
  for (const segment of path.split('.')) {
    if (typeof current !== 'object' || current === null) return undefined;
    const record = current as Record<string, unknown>;
    if (segment in record) {
      current = record[segment];
      continue;
    }
    const lower = segment.toLowerCase();
    const graphName = graphFieldName(segment);
    const key = Object.keys(record).find((k) => k.toLowerCase() === lower || k === graphName || k.toLowerCase() === graphName.toLowerCase());
    current = key === undefined ? undefined : record[key];
  }
  return current;
}

const ISO_DATE = /^\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:\d\d)$/;
let lastIsoText = '';
let lastIsoMs = NaN;

/** A configured date of an object in ms, or undefined when absent or unreadable. */
export function readDate(obj: unknown, field: string | undefined, format: string | undefined, zone: string): number | undefined {
  if (!field) return undefined;
  const value = readField(obj, field);
  if (value === undefined || value === null || value === '') return undefined;
  // Fast path for Graph's own form (ISO-8601 with Z or an offset) when no pattern is configured. The last one read is
  // remembered: a new object's modified date is its created date, read just before.
  if (!format && typeof value === 'string') {
    if (value === lastIsoText) return lastIsoMs;
    const utc = parseGraphUtcDate(value);
    if (utc !== undefined) {
      lastIsoText = value;
      lastIsoMs = utc;
      return utc;
    }
    if (ISO_DATE.test(value)) {
      const ms = Date.parse(value);
      if (Number.isFinite(ms)) {
        lastIsoText = value;
        lastIsoMs = ms;
        return ms;
      }
    }
  }
  try {
    return parseDateValue(value, format, zone);
  } catch {
    return undefined;
  }
}

/**
 * Open Connectors' rule (§3.3): updated equal to created (within `createdCheckTolerance` seconds) is CREATED,
 * created before updated is UPDATED. Without a created date the change is UPDATED.
 */
export function classify(created: number | undefined, updated: number | undefined, toleranceSeconds: number): EventType {
  if (created === undefined || updated === undefined) return 'UPDATED';
  return Math.abs(updated - created) <= toleranceSeconds * 1000 ? 'CREATED' : 'UPDATED';
}

export function makeEvent(
  resource: ResourceConfig,
  ctx: EngineContext,
  raw: Record<string, unknown>,
  objectId: string,
  eventType: EventType,
  changedAt: number,
  version: string,
): Ms365Event {
  return {
    eventId: changeEventId('polling', resource.objectType, objectId, eventType, version),
    eventType,
    objectType: resource.objectType,
    objectId,
    elementKey: ctx.elementKey,
    instanceName: ctx.instanceName,
    date: isoDate(changedAt),
    pollDate: isoDate(ctx.pollStart),
    source: 'polling',
    raw,
  };
}

/** Every page from `url` on, following `@odata.nextLink` (on the Graph host only: the client enforces it). */
export async function* pages(ctx: EngineContext, url: string, headers?: Record<string, string>): AsyncGenerator<GraphPage> {
  let next: string | undefined = url;
  while (next) {
    const page: GraphPage = await ctx.graph.get<GraphPage>(next, headers, ctx.signal);
    yield page;
    next = page['@odata.deltaLink'] ? undefined : page['@odata.nextLink'];
  }
}
