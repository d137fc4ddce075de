/**
 * The normalized event, as `../shared/CONTRACT.md` ("The event") fixes it. Every source (poller engines,
 * webhook notifications) produces this shape; `ms365-callback-out` wraps it in the Open Connectors envelope.
 */
import { createHash } from 'node:crypto';
import type { ElementKey } from './elements';

export type EventType = 'CREATED' | 'UPDATED' | 'DELETED' | 'UNKNOWN';
export type EventSource = 'polling' | 'webhook';

export interface Ms365Event {
  /** Stable id of this change: the same change seen twice gets the same id. */
  eventId: string;
  eventType: EventType;
  objectType: string;
  objectId: string;
  elementKey: ElementKey;
  instanceName: string;
  /** The object's change time, ISO-8601 UTC with milliseconds. */
  date: string;
  /** Only for polling: when the poll that saw the change started. */
  pollDate?: string;
  source: EventSource;
  raw: unknown;
}

/**
 * A stable id for one change of one object. Callers pass what identifies the change (object type, id, and a
 * version marker such as the change date or etag); equal inputs give equal ids, so a change seen twice (a
 * re-emitted poll round, an at-least-once webhook delivery) carries the same `eventId`.
 */
export function changeEventId(...parts: Array<string | number | undefined | null>): string {
  // One update of the joined parts: the same digest as one update per part, at a fraction of the cost.
  let text = '';
  for (const part of parts) text += `${part ?? ''}\u0000`;
  return createHash('sha256').update(text).digest('base64url').slice(0, 32);
}

/** `msg.topic` for an event: `<elementKey>/<objectType>/<eventType>`. */
export function eventTopic(event: Pick<Ms365Event, 'elementKey' | 'objectType' | 'eventType'>): string {
  return `${event.elementKey}/${event.objectType}/${event.eventType}`;
}

let lastIsoMs = NaN;
let lastIso = '';

/** ISO-8601 UTC with milliseconds, the only date format events carry. (The last one is kept: a round's events share their pollDate.) */
export function isoDate(ms: number): string {
  if (ms !== lastIsoMs) {
    lastIso = new Date(ms).toISOString();
    lastIsoMs = ms;
  }
  return lastIso;
}
