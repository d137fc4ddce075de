/**
 * The normalized event, as `../shared/CONTRACT.md` ("The event") fixes it. Every source (poller engines,
 * webhook notifications) produces this shape; `ms365-callback-out` wraps it in the Open Connectors envelope.
 */
import * as crypto from 'node:crypto';
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
  return sha256Base64url(text).slice(0, 32);
}

const sha256Base64url = (text: string) => digestBase64url('sha256', text);

/**
 * The digest of the UTF-8 text, base64url: Node's one-shot `crypto.hash` where it exists (20.12+; a third of the
 * cost of `createHash().update().digest()` for short texts), the same digest otherwise.
 */
export const digestBase64url: (algorithm: 'sha1' | 'sha256', text: string) => string =
  typeof crypto.hash === 'function'
    ? (algorithm, text) => crypto.hash(algorithm, text, 'base64url')
    : (algorithm, text) => crypto.createHash(algorithm).update(text).digest('base64url');

/** `msg.topic` for an event: `<elementKey>/<objectType>/<eventType>`. */
export function eventTopic(event: Pick<Ms365Event, 'elementKey' | 'objectType' | 'eventType'>): string {
  return `${event.elementKey}/${event.objectType}/${event.eventType}`;
}

// The last two dates formatted: a round's events share their pollDate, and objects changed together their date.
let isoMsA = NaN;
let isoA = '';
let isoMsB = NaN;
let isoB = '';

/** ISO-8601 UTC with milliseconds, the only date format events carry. */
export function isoDate(ms: number): string {
  if (ms === isoMsA) return isoA;
  if (ms === isoMsB) return isoB;
  isoMsB = isoMsA;
  isoB = isoA;
  isoA = new Date(ms).toISOString();
  isoMsA = ms;
  return isoA;
}
