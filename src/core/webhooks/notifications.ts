/**
 * Graph change notifications (`reference/graph.md` §2–§3): parsing the `changeNotificationCollection`,
 * the `clientState` check (constant time), and normalization of one item into the CONTRACT event.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import type { ChangeNotification } from '@microsoft/microsoft-graph-types';
import { Ms365Error } from '../errors';
import { changeEventId, isoDate, type EventType, type Ms365Event } from '../events';
import type { ElementKey } from '../elements';

/** One item of `value`: a change notification or a lifecycle notification. */
export type NotificationItem = ChangeNotification & { lifecycleEvent?: string; resourceData?: Record<string, unknown> | null };

export interface NotificationBatch {
  items: NotificationItem[];
  validationTokens: string[];
}

/** Parse a notification POST body; a malformed one throws `Ms365Error('bad_notification')` (answer 400). */
export function parseNotificationBody(text: string): NotificationBatch {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Ms365Error('bad_notification', 'the body is not JSON');
  }
  return notificationBatchOf(body);
}

/**
 * The batch of a body already parsed from JSON (by Node-RED's body parser, say): the same checks as
 * `parseNotificationBody`, without serializing and parsing it again.
 */
export function notificationBatchOf(body: unknown): NotificationBatch {
  if (typeof body !== 'object' || body === null || !Array.isArray((body as { value?: unknown }).value)) {
    throw new Ms365Error('bad_notification', 'the body is not a change notification collection ({"value": [...]})');
  }
  const items: NotificationItem[] = [];
  for (const raw of (body as { value: unknown[] }).value) {
    if (typeof raw !== 'object' || raw === null || typeof (raw as { subscriptionId?: unknown }).subscriptionId !== 'string') {
      throw new Ms365Error('bad_notification', 'a notification item has no subscriptionId');
    }
    items.push(raw as NotificationItem);
  }
  const tokens = (body as { validationTokens?: unknown }).validationTokens;
  return { items, validationTokens: Array.isArray(tokens) ? tokens.filter((t): t is string => typeof t === 'string') : [] };
}

/** Constant-time comparison of the clientState we set with the one received (§2.2). */
export function clientStateMatches(expected: string, received: unknown): boolean {
  return clientStateCheck(expected)(received);
}

/** `clientStateMatches` for one expected value, its digest computed once (the receive path runs it per item). */
export function clientStateCheck(expected: string): (received: unknown) => boolean {
  const a = createHash('sha256').update(expected).digest();
  return (received) => typeof received === 'string' && timingSafeEqual(a, createHash('sha256').update(received).digest());
}

const CHANGE_TYPES: Record<string, EventType> = { created: 'CREATED', updated: 'UPDATED', deleted: 'DELETED' };

/**
 * The resource collection a notification is about, as the CONTRACT's `objectType`: `messages`, `events`,
 * `contacts`, `driveItems`, `chatMessages`, ... from `@odata.type` or, failing that, the resource path.
 */
export function objectTypeOf(item: NotificationItem): string {
  const odataType = typeof item.resourceData?.['@odata.type'] === 'string' ? String(item.resourceData['@odata.type']) : '';
  const name = odataType.replace(/^#microsoft\.graph\./i, '');
  if (name) return `${name.charAt(0).toLowerCase()}${name.slice(1)}s`;
  const resource = String(item.resource ?? '');
  if (/\/drive\/root|\/root$/i.test(resource) || /^drives\//i.test(resource)) return 'driveItems';
  const segments = resource.split('/').filter((s) => s && !/^users$/i.test(s));
  for (let i = segments.length - 1; i >= 0; i -= 1) {
    const segment = segments[i].replace(/\(.*\)$/, '');
    if (/^[A-Za-z]+$/.test(segment) && i !== segments.length - 1) return segment.charAt(0).toLowerCase() + segment.slice(1);
  }
  return 'unknown';
}

/** The changed object's id: `resourceData.id`, else the last segment of `resource`. */
export function objectIdOf(item: NotificationItem): string {
  const id = item.resourceData?.id;
  if (typeof id === 'string' && id) return id;
  const resource = String(item.resource ?? '');
  const paren = /\('([^']+)'\)$/.exec(resource);
  return paren ? paren[1] : resource.split('/').pop() ?? '';
}

/**
 * Dedupe key of §2.2 (subscription, change type, id and etag), or undefined when the item names no version: a
 * created / updated item without an etag (or without an id of its own) could be a later change of the same object,
 * so no key that is constant across notifications is ever given (a drive notification names no item at all).
 */
export function notificationKey(item: NotificationItem): string | undefined {
  const id = item.resourceData?.id;
  if (typeof id !== 'string' || !id) return undefined;
  const etag = item.resourceData?.['@odata.etag'];
  if (typeof etag === 'string' && etag) return [item.subscriptionId, item.changeType, id, etag].join('|');
  return item.changeType === 'deleted' ? [item.subscriptionId, item.changeType, id].join('|') : undefined;
}

/**
 * The drive resource to read through delta for a notification, whatever its `resourceData` holds (null, absent,
 * `{"@odata.type": "#Microsoft.Graph.driveItem"}`: "Change notifications for OneDrive (driveItem)"): the resource of
 * its subscription when that is a drive, else the item's own resource when it is a drive one; undefined otherwise.
 */
export function driveResourceOf(item: NotificationItem, subscriptionResource: string | undefined, isDrive: (resource: string) => boolean): string | undefined {
  if (subscriptionResource !== undefined) return isDrive(subscriptionResource) ? subscriptionResource : undefined;
  const own = String(item.resource ?? '').replace(/^\/+/, '');
  return own && (isDrive(own) || objectTypeOf(item) === 'driveItems') ? own : undefined;
}

export interface NormalizeContext {
  elementKey: ElementKey;
  instanceName: string;
  /** When the notification arrived (ms), used as `date` when the resource has no change time. */
  receivedAt: number;
}

/** One Outlook (or other per-item) notification → the CONTRACT event; `resource` is the fetched object, if any. */
/**
 * One event per notification item. `resource`: the fetched (or decrypted) object, put in `raw.resource`;
 * `resourceError`: why it could not be fetched (the event still goes out: the change is not lost).
 */
export function normalizeNotification(item: NotificationItem, ctx: NormalizeContext, resource?: Record<string, unknown>, resourceError?: string): Ms365Event {
  const objectId = objectIdOf(item);
  const modified = resource && typeof resource.lastModifiedDateTime === 'string' ? Date.parse(resource.lastModifiedDateTime) : NaN;
  const eventType = CHANGE_TYPES[String(item.changeType)] ?? 'UNKNOWN';
  return {
    eventId: changeEventId('webhook', item.subscriptionId, item.changeType, objectId, String(item.resourceData?.['@odata.etag'] ?? '')),
    eventType,
    objectType: objectTypeOf(item),
    objectId,
    elementKey: ctx.elementKey,
    instanceName: ctx.instanceName,
    date: isoDate(Number.isFinite(modified) ? modified : ctx.receivedAt),
    source: 'webhook',
    raw: resource ? { ...withoutClientState(item), resource } : resourceError ? { ...withoutClientState(item), resourceError } : withoutClientState(item),
  };
}

/** The item as it may leave the node: `clientState` is a shared secret (CONTRACT: never in a message). */
export function withoutClientState(item: NotificationItem): Omit<NotificationItem, 'clientState'> {
  const { clientState: _secret, ...rest } = item;
  return rest;
}
