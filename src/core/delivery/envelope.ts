/**
 * The Open Connectors callback envelope (CONTRACT.md "ms365-callback-out", reference/open-connectors.md §1):
 * `{"message": {"eventId", "instanceName", "elementKey", "events": [...], "raw": {"objectType": T, "<T>": [...]}}}`.
 * Events are grouped by instance, element and objectType (one objectType per notification, so `raw` is keyed by
 * it) and cut into batches of at most 10 polling or 20 webhook events (§1 "Batching"), unless a batch size is set.
 * Each notification is serialized once here: the outbox stores and the sender signs and sends these exact bytes.
 */
import { changeEventId, type EventSource, type EventType, type Ms365Event } from '../events';
import { Ms365Error } from '../errors';

export const DEFAULT_BATCH_SIZE: Record<EventSource, number> = { polling: 10, webhook: 20 };
const EVENT_TYPES: readonly EventType[] = ['CREATED', 'UPDATED', 'DELETED', 'UNKNOWN'];

/** An event as it appears in `message.events[]`: the event without its `raw` (which goes to `message.raw`). */
export type EnvelopeEvent = Omit<Ms365Event, 'raw'>;

export interface CallbackEnvelope {
  message: {
    eventId: string;
    instanceName: string;
    elementKey: string;
    events: EnvelopeEvent[];
    raw: { objectType: string } & Record<string, unknown>;
  };
}

/** One notification ready to send: its id (`message.eventId`) and the exact JSON body. */
export interface Notification {
  id: string;
  body: string;
  eventCount: number;
  objectType: string;
}

/** Invalid input to `ms365-callback-out`: says which event and which field. */
export class InvalidEventError extends Ms365Error {
  constructor(message: string) {
    super('invalid_event', message);
    this.name = 'InvalidEventError';
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Checks `msg.payload` (an event or an array of events, CONTRACT.md "The event") and returns the events.
 * Throws InvalidEventError naming the first bad event and field; nothing is queued then.
 */
export function parseEvents(payload: unknown): Ms365Event[] {
  const list = Array.isArray(payload) ? payload : [payload];
  if (list.length === 0) throw new InvalidEventError('msg.payload is an empty array: expected an event or an array of events');
  return list.map((item, index) => {
    const where = Array.isArray(payload) ? `msg.payload[${index}]` : 'msg.payload';
    if (!isRecord(item)) throw new InvalidEventError(`${where} is not an event object (expected {eventId, eventType, objectType, objectId, ...})`);
    for (const field of ['eventId', 'objectType', 'objectId'] as const) {
      if (typeof item[field] !== 'string' || item[field] === '') throw new InvalidEventError(`${where}.${field} must be a non-empty string`);
    }
    if (!EVENT_TYPES.includes(item.eventType as EventType)) {
      throw new InvalidEventError(`${where}.eventType must be one of ${EVENT_TYPES.join(', ')}`);
    }
    for (const field of ['elementKey', 'instanceName', 'date'] as const) {
      if (item[field] !== undefined && typeof item[field] !== 'string') throw new InvalidEventError(`${where}.${field} must be a string`);
    }
    if (item.source !== undefined && item.source !== 'polling' && item.source !== 'webhook') {
      throw new InvalidEventError(`${where}.source must be "polling" or "webhook"`);
    }
    return item as unknown as Ms365Event;
  });
}

/**
 * Cuts events into notifications. `batchSize` (when given) replaces the per-source defaults. The notification
 * `eventId` is derived from its events' ids, so the same batch always has the same id and a receiver can
 * de-duplicate a redelivery. Order of events is kept inside each group; groups come in order of first appearance.
 */
export function buildNotifications(events: readonly Ms365Event[], batchSize?: number): Notification[] {
  const groups = new Map<string, Ms365Event[]>();
  for (const event of events) {
    const source: EventSource = event.source === 'webhook' ? 'webhook' : 'polling';
    const key = JSON.stringify([event.instanceName ?? '', event.elementKey ?? '', event.objectType, source]);
    let group = groups.get(key);
    if (!group) groups.set(key, (group = []));
    group.push(event);
  }
  const out: Notification[] = [];
  for (const group of groups.values()) {
    const first = group[0]!;
    const size = batchSize && batchSize > 0 ? Math.floor(batchSize) : DEFAULT_BATCH_SIZE[first.source === 'webhook' ? 'webhook' : 'polling'];
    for (let i = 0; i < group.length; i += size) out.push(toNotification(group.slice(i, i + size)));
  }
  return out;
}

function toNotification(batch: Ms365Event[]): Notification {
  const first = batch[0]!;
  const objectType = first.objectType;
  const id = changeEventId('notification', first.instanceName, first.elementKey, objectType, ...batch.map((e) => e.eventId));
  const envelope: CallbackEnvelope = {
    message: {
      eventId: id,
      instanceName: first.instanceName ?? '',
      elementKey: first.elementKey ?? '',
      events: batch.map(({ raw: _raw, ...rest }) => rest),
      raw: { objectType, [objectType]: batch.map((e) => e.raw ?? null) },
    },
  };
  return { id, body: JSON.stringify(envelope), eventCount: batch.length, objectType };
}
