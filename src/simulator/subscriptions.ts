/**
 * Simulated Graph subscriptions and change-notification delivery (`reference/graph.md` §1–§3, §10 items 1–2).
 *
 * - `POST /v1.0/subscriptions`: field checks, expiration within a per-resource maximum (400 `ExtensionError`
 *   "Subscription expiration can only be N minutes in the future."), the validation handshake (POST
 *   `{url}?validationToken=<form-encoded>` as text/plain to the notification URL and, separately, to the lifecycle
 *   URL; 200 + the exact decoded token within 10 s, else 400 `InvalidRequest`), 201 + the subscription.
 * - `PATCH /v1.0/subscriptions/{id}` renew (200), `POST .../reauthorize` (204), `DELETE` (204), `GET` list / one.
 *   A subscription past its expiration is gone: 404 `ResourceNotFound` (the simulator's clock decides).
 * - Delivery: every `SimChange` that matches a live subscription becomes a notification item in Graph's shape
 *   (basic Outlook: `#Microsoft.Graph.Message`, `Users/{id}/Messages/{id}`; drive: resource `/drive/root`,
 *   changeType `updated`, no item), batched per notification URL in `{"value": [...]}`, 3 s timeout, retried with
 *   backoff on non-2xx for up to `retryHorizonMs`, then dropped.
 * - Refusals as Graph answers them ("Set up change notifications that include resource data", "Change
 *   notifications for OneDrive (driveItem)", `reference/graph.md` §11.4): resource data on a drive (400 "File Services
 *   workload is not enabled for rich notifications"), rich Outlook without `$select` (400 "select clause should be
 *   present in query string to support rich notifications"), `$select` of body / uniqueBody or `$top` / `$skip` /
 *   `$orderby` / `$expand` with resource data, a rich Outlook subscription over 1,440 minutes, a `changeType` other
 *   than `updated` on a drive, a drive subscription on a file, or on a folder other than the root of a work or school
 *   drive (personal OneDrive: any folder), an `encryptionCertificate` that is not base64 DER X.509 (RSA 2048–4096).
 * - `expirationDateTime` answered with 7 fraction digits ("Create subscription" example, `timestamps.ts` `ticksIso`).
 * - Validation tokens of rich batches in both forms Graph issues: v1 (`iss` `https://sts.windows.net/{tid}/`,
 *   `appid`) and v2 (`iss` `{authority}/{tid}/v2.0`, `azp`), signed with the identity's current key (`jwt.ts`,
 *   rotated on request).
 * - Personal Microsoft accounts (users of the consumers tenant, `driveType` `personal` in `state.ts`): notifications
 *   carry the consumers tenant id, and no lifecycle notification is ever sent for them ("Reduce missing subscriptions and change notifications": the
 *   lifecycle events are for work or school accounts).
 * - Leniency on purpose: `http://` notification URLs are accepted (Graph requires HTTPS) so tests can use loopback.
 *
 * Control API (loopback only):
 *   GET  /_sim/subscriptions                    every subscription, expired ones included (with `expired`)
 *   PUT  /_sim/subscriptions/options            {maxMinutes?: {outlook?, outlookRich?, drive?}, duplicates?, createdPlusUpdated?,
 *                                               retryHorizonMs?, validationTokens?: "v1"|"v2"|"alternate",
 *                                               driveResourceData?: "null"|"absent"|"driveItem"}
 *   POST /_sim/subscriptions/{id}/lifecycle     {"event": "reauthorizationRequired" | "subscriptionRemoved" | "missed"}
 *   POST /_sim/subscriptions/{id}/expire        expire it now (as a missed renewal would)
 *   GET  /_sim/subscriptions/deliveries         delivery log [{url, status, items, at}]
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { encryptedContentFor, encryptionKeyOf, type EncryptionKey } from './rich-notifications';
import { issuer, signJwt } from './jwt';
import http from 'node:http';
import https from 'node:https';
import express, { type Express, type Request, type Response } from 'express';
import type { SimChange, SimState } from './state';
import { principalOf } from './graph/gate';
import { graphErrorBody } from './graph/errors';
import { subscriptionPermissionError } from './graph/permissions';
import { ticksIso } from './graph/timestamps';

/** The tenant id of personal Microsoft accounts (the `consumers` tenant). */
export const CONSUMERS_TENANT_ID = '9188040d-6c67-4c5b-b112-36a304b66dad';
/** The Graph change-notification publisher's app id ("Set up change notifications that include resource data"). */
const GRAPH_PUBLISHER_APP_ID = '0bf30f3b-4a52-48df-9a82-234910c4a086';

export interface SimSubscription {
  id: string;
  resource: string;
  changeType: string;
  notificationUrl: string;
  lifecycleNotificationUrl?: string;
  clientState?: string;
  expirationDateTime: string;
  applicationId: string;
  creatorId: string;
  /** Resolved target. */
  userId: string;
  kind: SimChange['kind'];
  folderId?: string;
  /** Tenant of the subscribing account (the consumers tenant for a personal Microsoft account). */
  tenantId: string;
  /** Rich notifications (§4): resource data encrypted with this public key. */
  includeResourceData?: boolean;
  /** Rich Outlook: the `$select`ed properties put in the resource data. */
  select?: string[];
  encryptionCertificateId?: string;
  encryption?: EncryptionKey;
}

export interface DeliveryLogEntry {
  url: string;
  status: number | string;
  items: number;
  at: string;
}

export interface SubscriptionOptions {
  /** Lifetime caps in minutes: basic Outlook, Outlook with resource data (1,440), drive. */
  maxMinutes: { outlook: number; outlookRich: number; drive: number };
  /** Deliver every item twice (Graph delivers at least once). */
  duplicates: boolean;
  /** A new Outlook item gives `created` plus `updated` (as Graph often does, §2.1). */
  createdPlusUpdated: boolean;
  retryHorizonMs: number;
  /** Form of the validation tokens: v1, v2, or each batch the other form (default). */
  validationTokens: 'v1' | 'v2' | 'alternate';
  /** `resourceData` of drive notifications: `null` (default, as documented), left out, or `{"@odata.type": ...}`. */
  driveResourceData: 'null' | 'absent' | 'driveItem';
}

export class SimSubscriptions {
  readonly all = new Map<string, SimSubscription>();
  readonly deliveries: DeliveryLogEntry[] = [];
  options: SubscriptionOptions = defaultOptions();
  private readonly queues = new Map<string, Array<Record<string, unknown>>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private batches = 0;

  constructor(private readonly state: SimState) {}

  /** Live (not expired) subscription, deleting it when its time has passed. */
  live(id: string): SimSubscription | undefined {
    const sub = this.all.get(id);
    if (!sub) return undefined;
    if (Date.parse(sub.expirationDateTime) <= this.state.clock.now()) {
      this.all.delete(id);
      return undefined;
    }
    return sub;
  }

  onChange(change: SimChange): void {
    for (const sub of [...this.all.values()]) {
      if (!this.live(sub.id)) continue;
      if (sub.kind !== change.kind || sub.userId !== change.userId) continue;
      if (sub.folderId && change.parentId !== sub.folderId) continue;
      const types = sub.changeType.split(',').map((t) => t.trim());
      if (change.kind === 'driveItem') {
        if (!types.includes('updated')) continue;
        // "Change notifications for OneDrive": the subscribed path, no item; resourceData null (or as switched).
        const item = this.baseItem(sub, 'updated', sub.resource);
        const shape = this.options.driveResourceData;
        if (shape === 'null') item.resourceData = null;
        else if (shape === 'driveItem') item.resourceData = { '@odata.type': '#Microsoft.Graph.driveItem' };
        this.enqueue(sub.notificationUrl, item);
        if (this.options.duplicates) this.enqueue(sub.notificationUrl, { ...item, id: randomBytes(8).toString('base64url') });
        continue;
      }
      if (!types.includes(change.changeType)) continue;
      const item = this.resourceItem(sub, change, change.changeType);
      this.enqueue(sub.notificationUrl, item);
      if (this.options.duplicates) this.enqueue(sub.notificationUrl, item);
      if (this.options.createdPlusUpdated && change.changeType === 'created' && types.includes('updated')) {
        this.enqueue(sub.notificationUrl, this.resourceItem(sub, change, 'updated'));
      }
    }
  }

  /** The account behind `userId` is a personal Microsoft account (consumers tenant; personal OneDrive). */
  isPersonal(userId: string): boolean {
    return this.state.findUser(userId)?.driveType === 'personal';
  }

  /** False (nothing sent) for a personal Microsoft account: Graph sends them no lifecycle notifications. */
  sendLifecycle(sub: SimSubscription, event: string): boolean {
    if (this.isPersonal(sub.userId)) return false;
    const url = sub.lifecycleNotificationUrl ?? sub.notificationUrl;
    this.enqueue(url, {
      subscriptionId: sub.id,
      subscriptionExpirationDateTime: sub.expirationDateTime,
      tenantId: sub.tenantId,
      clientState: sub.clientState,
      lifecycleEvent: event,
    });
    if (event === 'subscriptionRemoved') this.all.delete(sub.id);
    return true;
  }

  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  reset(): void {
    this.close();
    this.all.clear();
    this.queues.clear();
    this.deliveries.length = 0;
    this.options = defaultOptions();
  }

  private baseItem(sub: SimSubscription, changeType: string, resource: string): Record<string, unknown> {
    return {
      id: randomBytes(8).toString('base64url'),
      subscriptionId: sub.id,
      subscriptionExpirationDateTime: sub.expirationDateTime,
      clientState: sub.clientState,
      changeType,
      resource,
      tenantId: sub.tenantId,
    };
  }

  private resourceItem(sub: SimSubscription, change: SimChange, changeType: string): Record<string, unknown> {
    const collection = change.kind === 'message' ? 'Messages' : change.kind === 'event' ? 'Events' : 'Contacts';
    const type = change.kind === 'message' ? 'Message' : change.kind === 'event' ? 'Event' : 'Contact';
    // "Outlook change notifications": basic items say `#Microsoft.Graph.Message` and `Users/{id}/Messages/{id}`;
    // items with resource data say `#microsoft.graph.message` and `Users('{id}')/messages('{id}')` (§2.1).
    const withData = sub.includeResourceData === true && sub.encryption !== undefined;
    const path = withData ? `Users('${change.userId}')/${collection.toLowerCase()}('${change.id}')` : `Users/${change.userId}/${collection}/${change.id}`;
    const rich = withData ? this.richContent(sub, change) : undefined;
    return {
      ...(rich ? { encryptedContent: rich } : {}),
      ...this.baseItem(sub, changeType, path),
      resourceData: {
        '@odata.type': withData ? `#microsoft.graph.${type.toLowerCase()}` : `#Microsoft.Graph.${type}`,
        '@odata.id': path,
        ...(change.etag ? { '@odata.etag': change.etag } : {}),
        id: change.id,
      },
    };
  }

  /** §4: the resource JSON, encrypted for the subscriber (none for a deleted object). */
  private richContent(sub: SimSubscription, change: SimChange): Record<string, unknown> | undefined {
    const data = this.state.graph.store.user(change.userId);
    const collection = change.kind === 'message' ? data.messages : change.kind === 'event' ? data.events : data.contacts;
    const entry = (collection as { get(id: string): { obj: unknown } | undefined }).get(change.id);
    if (!entry || !sub.encryption) return undefined;
    // Only the `$select`ed properties travel ("Set up change notifications that include resource data").
    const obj = entry.obj as Record<string, unknown>;
    const picked: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(obj)) {
      if (key.startsWith('@odata.') || key === 'id' || sub.select?.some((p) => p.toLowerCase() === key.toLowerCase())) picked[key] = value;
    }
    return encryptedContentFor(picked, sub.encryption, sub.encryptionCertificateId ?? '');
  }

  /**
   * §4, §11.4: one signed validation token per app + tenant of the rich items in a batch, in the v1 form (`iss`
   * `https://sts.windows.net/{tid}/`, publisher in `appid`) or the v2 form (`iss` `{authority}/{tid}/v2.0`,
   * publisher in `azp`) as `validationTokens` says ("Set up change notifications that include resource data").
   */
  private validationTokens(items: Array<Record<string, unknown>>): string[] {
    const pairs = new Map<string, { appId: string; tenantId: string }>();
    for (const item of items) {
      if (!item.encryptedContent) continue;
      const sub = this.all.get(String(item.subscriptionId));
      if (sub) pairs.set(`${sub.applicationId} ${sub.tenantId}`, { appId: sub.applicationId, tenantId: sub.tenantId });
    }
    if (!pairs.size) return [];
    const mode = this.options.validationTokens;
    const v2 = mode === 'v2' || (mode === 'alternate' && this.batches++ % 2 === 1);
    const now = Math.floor(this.state.clock.now() / 1000);
    return [...pairs.values()].map(({ appId, tenantId }) =>
      signJwt(
        this.state,
        v2
          ? { aud: appId, iss: issuer(this.state, tenantId), azp: GRAPH_PUBLISHER_APP_ID, azpacr: '2', tid: tenantId, ver: '2.0', exp: now + 3600 }
          : { aud: appId, iss: `https://sts.windows.net/${tenantId}/`, appid: GRAPH_PUBLISHER_APP_ID, appidacr: '2', tid: tenantId, ver: '1.0', exp: now + 3600 },
      ),
    );
  }

  private enqueue(url: string, item: Record<string, unknown>): void {
    const queue = this.queues.get(url);
    if (queue) {
      queue.push(item);
      return;
    }
    this.queues.set(url, [item]);
    setImmediate(() => {
      const items = this.queues.get(url) ?? [];
      this.queues.delete(url);
      void this.deliver(url, items, Date.now(), 0);
    });
  }

  private async deliver(url: string, items: Array<Record<string, unknown>>, firstAt: number, attempt: number): Promise<void> {
    const tokens = this.validationTokens(items);
    const status = await postJson(url, JSON.stringify(tokens.length ? { value: items, validationTokens: tokens } : { value: items }), 3000);
    this.deliveries.push({ url, status, items: items.length, at: this.state.clock.nowIso() });
    if (this.deliveries.length > 10_000) this.deliveries.splice(0, 5_000);
    if (typeof status === 'number' && status >= 200 && status < 300) return;
    const delay = Math.min(1000 * 2 ** attempt, 30_000);
    if (Date.now() + delay - firstAt > this.options.retryHorizonMs) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.deliver(url, items, firstAt, attempt + 1);
    }, delay);
    timer.unref();
    this.timers.add(timer);
  }
}

/** The lifetime cap in minutes: drive, Outlook with resource data (1,440), basic Outlook. */
function maxMinutesOf(options: SubscriptionOptions, drive: boolean, rich: boolean): number {
  if (drive) return options.maxMinutes.drive;
  return rich ? Math.min(options.maxMinutes.outlookRich, options.maxMinutes.outlook) : options.maxMinutes.outlook;
}

function defaultOptions(): SubscriptionOptions {
  return {
    maxMinutes: { outlook: 4230, outlookRich: 1440, drive: 42300 },
    duplicates: false,
    createdPlusUpdated: false,
    retryHorizonMs: 4 * 3600 * 1000,
    validationTokens: 'alternate',
    driveResourceData: 'null',
  };
}

/** POST a body; resolves to the status code, or an error string (never throws). */
function postJson(url: string, body: string, timeoutMs: number, contentType = 'application/json'): Promise<number | string> {
  return request(url, body, timeoutMs, contentType).then((r) => (typeof r === 'string' ? r : r.status));
}

function request(url: string, body: string, timeoutMs: number, contentType: string): Promise<{ status: number; text: string; type: string } | string> {
  return new Promise((resolve) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      resolve('invalid url');
      return;
    }
    const lib = target.protocol === 'https:' ? https : http;
    const req = lib.request(target, { method: 'POST', headers: { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), type: String(res.headers['content-type'] ?? '') }));
      res.on('error', () => resolve('response error'));
    });
    req.on('timeout', () => {
      req.destroy();
      resolve('timeout');
    });
    req.on('error', (err) => resolve(err.message));
    req.end(body);
  });
}

/** The validation handshake of §1.2: the token arrives form-encoded (`+` for spaces) and must come back decoded. */
async function validateUrl(url: string): Promise<boolean> {
  const token = `Validation: Testing client application reachability for subscription Request-Id: ${randomUUID()}`;
  const sep = url.includes('?') ? '&' : '?';
  const encoded = new URLSearchParams({ validationToken: token }).toString();
  const res = await request(`${url}${sep}${encoded}`, '', 10_000, 'text/plain; charset=utf-8');
  return typeof res !== 'string' && res.status === 200 && res.text === token;
}

const subscriptionsByState = new WeakMap<SimState, SimSubscriptions>();

export function subscriptionsOf(state: SimState): SimSubscriptions {
  let subs = subscriptionsByState.get(state);
  if (!subs) {
    subs = new SimSubscriptions(state);
    subscriptionsByState.set(state, subs);
  }
  return subs;
}

interface Target {
  userId: string;
  kind: SimChange['kind'];
  folderId?: string;
  drive: boolean;
  /** The properties of `$select` in the resource's query, if any. */
  query: URLSearchParams;
}

/** Resolve a subscription `resource` (`me/messages`, `users/{id}/mailFolders('inbox')/messages`, `me/drive/root`, ...). */
function resolveResource(state: SimState, resource: string, callerUserId: string | undefined): Target | string {
  const [clean, search = ''] = resource.replace(/^\/+/, '').split('?') as [string, string?];
  const query = new URLSearchParams(search);
  const m = /^(me|users\/([^/]+)|drives\/([^/]+))\/(.+)$/i.exec(clean);
  if (!m) return `Unsupported resource '${resource}'.`;
  let userId: string | undefined;
  if (m[1].toLowerCase() === 'me') userId = callerUserId;
  else if (m[2]) userId = state.findUser(decodeURIComponent(m[2]))?.id;
  else if (m[3]) userId = state.graph.store.userOfDrive(m[3])?.user.id;
  if (!userId) return m[1].toLowerCase() === 'me' ? '/me request is only valid with delegated authentication flow.' : `Resource '${resource}' not found.`;
  const rest = m[4].replace(/\/+$/, '');
  if (/^(drive\/)?root$/i.test(rest)) return { userId, kind: 'driveItem', drive: true, query };
  const driveItem = /^(?:drive\/)?items\/([^/]+)$/i.exec(rest);
  if (driveItem) {
    // "Change notifications for OneDrive (driveItem)": never a file; a work or school drive only at its root; a
    // personal OneDrive at any folder. The messages are ours (Graph's exact wording is not documented).
    const data = state.graph.store.user(userId);
    const item = data.driveItems.get(decodeURIComponent(driveItem[1]!));
    if (!item) return `Resource '${resource}' not found.`;
    if (!item.obj.folder) return 'Subscriptions on a driveItem are only supported on folders, not on files.';
    if (item.id !== data.rootId && !subscriptionsOf(state).isPersonal(userId)) {
      return 'Subscriptions on OneDrive for Business and SharePoint are only supported on the root folder.';
    }
    return { userId, kind: 'driveItem', drive: true, query };
  }
  if (/^messages$/i.test(rest)) return { userId, kind: 'message', drive: false, query };
  const folder = /^mailFolders(?:\('([^']+)'\)|\/([^/]+))\/messages$/i.exec(rest);
  if (folder) {
    const f = state.graph.store.folder(userId, folder[1] ?? folder[2]);
    if (!f) return `Mail folder not found in '${resource}'.`;
    return { userId, kind: 'message', folderId: f.id, drive: false, query };
  }
  if (/^(calendar\/)?events$/i.test(rest)) return { userId, kind: 'event', drive: false, query };
  if (/^contacts$/i.test(rest)) return { userId, kind: 'contact', drive: false, query };
  return `Unsupported resource '${resource}'.`;
}

export function registerSubscriptions(app: Express, state: SimState): void {
  const subs = subscriptionsOf(state);
  state.changes.on('change', (change: SimChange) => subs.onChange(change));
  state.changes.on('reset', () => subs.reset());
  const json = express.json({ limit: '1mb' });
  const error = (res: Response, status: number, code: string, message: string) =>
    res.status(status).json(graphErrorBody(code, message, state.clock.now(), String(res.getHeader('request-id') ?? randomUUID())));
  const view = (sub: SimSubscription) => {
    const { userId: _u, kind: _k, folderId: _f, encryption: _e, select: _s, tenantId: _t, ...rest } = sub;
    return { '@odata.context': `${state.baseUrl}/v1.0/$metadata#subscriptions/$entity`, ...rest, latestSupportedTlsVersion: 'v1_2', notificationContentType: 'application/json' };
  };

  app.post('/v1.0/subscriptions', json, async (req: Request, res: Response) => {
    const principal = principalOf(res);
    const body = (req.body ?? {}) as Record<string, unknown>;
    for (const field of ['changeType', 'notificationUrl', 'resource', 'expirationDateTime']) {
      if (typeof body[field] !== 'string' || !body[field]) return error(res, 400, 'InvalidRequest', `${field} is required.`);
    }
    const changeType = String(body.changeType);
    if (!changeType.split(',').every((t) => ['created', 'updated', 'deleted'].includes(t.trim()))) {
      return error(res, 400, 'InvalidRequest', `Invalid changeType '${changeType}'.`);
    }
    if (body.clientState !== undefined && (typeof body.clientState !== 'string' || body.clientState.length > 128)) {
      return error(res, 400, 'InvalidRequest', 'clientState must be a string of at most 128 characters.');
    }
    for (const field of ['notificationUrl', 'lifecycleNotificationUrl']) {
      if (body[field] === undefined) continue;
      if (typeof body[field] !== 'string' || !/^https?:\/\//i.test(body[field] as string)) {
        return error(res, 400, 'InvalidRequest', `The ${field} must be an HTTPS URL.`);
      }
    }
    const target = resolveResource(state, String(body.resource), principal?.userId);
    if (typeof target === 'string') return error(res, 400, 'InvalidRequest', target);
    if (target.drive && changeType.trim() !== 'updated') {
      return error(res, 400, 'InvalidRequest', "Only 'updated' changeType is supported on the drive root.");
    }
    const rich = body.includeResourceData === true;
    let select: string[] | undefined;
    if (rich) {
      // "Set up change notifications that include resource data": not on OneDrive; Outlook needs $select.
      if (target.drive) return error(res, 400, 'ExtensionError', 'File Services workload is not enabled for rich notifications');
      const selectText = target.query.get('$select');
      if (!selectText) return error(res, 400, 'ExtensionError', 'select clause should be present in query string to support rich notifications');
      select = selectText.split(',').map((p) => p.trim()).filter(Boolean);
      if (select.some((p) => /^(body|uniqueBody)$/i.test(p))) {
        return error(res, 400, 'ExtensionError', 'Body and UniqueBody are not supported in the select clause for rich notifications.');
      }
      for (const option of ['$top', '$skip', '$orderby', '$expand']) {
        if (target.query.has(option)) return error(res, 400, 'ExtensionError', `${option} is not supported in the query string for rich notifications.`);
      }
    }
    const expiration = Date.parse(String(body.expirationDateTime));
    if (!Number.isFinite(expiration)) return error(res, 400, 'InvalidRequest', 'expirationDateTime is not a valid DateTimeOffset.');
    const max = maxMinutesOf(subs.options, target.drive, rich);
    const now = state.clock.now();
    if (expiration <= now) return error(res, 400, 'ExtensionError', 'Subscription expiration must be in the future.');
    if (expiration > now + max * 60_000) {
      return error(res, 400, 'ExtensionError', `Subscription expiration can only be ${max} minutes in the future.`);
    }
    let encryption: EncryptionKey | undefined;
    if (rich) {
      if (typeof body.encryptionCertificateId !== 'string' || !body.encryptionCertificateId) {
        return error(res, 400, 'InvalidRequest', 'encryptionCertificateId is required when includeResourceData is true.');
      }
      encryption = typeof body.encryptionCertificate === 'string' ? encryptionKeyOf(body.encryptionCertificate) : undefined;
      if (!encryption) return error(res, 400, 'InvalidRequest', 'encryptionCertificate is required when includeResourceData is true and must be a base64 X.509 certificate.');
    }
    const urls = [String(body.notificationUrl)];
    if (typeof body.lifecycleNotificationUrl === 'string') urls.push(body.lifecycleNotificationUrl);
    for (const url of urls) {
      if (!(await validateUrl(url))) {
        return error(res, 400, 'InvalidRequest', 'Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.');
      }
    }
    // The permission is checked after the handshake (users see the validation request, then the 403).
    const forbidden = subscriptionPermissionError(principal, target.kind, state.findUser(target.userId)?.driveType === 'personal');
    if (forbidden) return error(res, 403, forbidden.code, forbidden.message);
    const sub: SimSubscription = {
      id: randomUUID(),
      resource: String(body.resource),
      changeType,
      notificationUrl: String(body.notificationUrl),
      lifecycleNotificationUrl: typeof body.lifecycleNotificationUrl === 'string' ? body.lifecycleNotificationUrl : undefined,
      clientState: typeof body.clientState === 'string' ? body.clientState : undefined,
      expirationDateTime: ticksIso(expiration),
      applicationId: principal?.clientId ?? '',
      creatorId: principal?.userId ?? principal?.clientId ?? '',
      userId: target.userId,
      kind: target.kind,
      folderId: target.folderId,
      tenantId: subs.isPersonal(target.userId) ? CONSUMERS_TENANT_ID : state.tenantId,
      ...(encryption ? { includeResourceData: true, encryptionCertificateId: String(body.encryptionCertificateId), encryption, select } : {}),
    };
    subs.all.set(sub.id, sub);
    res.status(201).json(view(sub));
  });

  app.get('/v1.0/subscriptions', (_req: Request, res: Response) => {
    const principal = principalOf(res);
    const mine = [...subs.all.values()].filter((s) => subs.live(s.id) && s.applicationId === principal?.clientId);
    res.json({ '@odata.context': `${state.baseUrl}/v1.0/$metadata#subscriptions`, value: mine.map(view) });
  });

  const notFound = (res: Response) => error(res, 404, 'ResourceNotFound', 'The object was not found.');

  app.get('/v1.0/subscriptions/:id', (req: Request, res: Response) => {
    const sub = subs.live(req.params.id);
    if (!sub) return notFound(res);
    res.json(view(sub));
  });

  app.patch('/v1.0/subscriptions/:id', json, (req: Request, res: Response) => {
    const sub = subs.live(req.params.id);
    if (!sub) return notFound(res);
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (body.expirationDateTime !== undefined) {
      const expiration = Date.parse(String(body.expirationDateTime));
      const max = maxMinutesOf(subs.options, sub.kind === 'driveItem', sub.includeResourceData === true);
      const now = state.clock.now();
      if (!Number.isFinite(expiration) || expiration <= now) return error(res, 400, 'InvalidRequest', 'expirationDateTime must be in the future.');
      if (expiration > now + max * 60_000) return error(res, 400, 'ExtensionError', `Subscription expiration can only be ${max} minutes in the future.`);
      sub.expirationDateTime = ticksIso(expiration);
    }
    if (typeof body.notificationUrl === 'string') sub.notificationUrl = body.notificationUrl;
    res.json(view(sub));
  });

  app.post('/v1.0/subscriptions/:id/reauthorize', (req: Request, res: Response) => {
    if (!subs.live(req.params.id)) return notFound(res);
    res.status(204).end();
  });

  app.delete('/v1.0/subscriptions/:id', (req: Request, res: Response) => {
    if (!subs.live(req.params.id)) return notFound(res);
    subs.all.delete(req.params.id);
    res.status(204).end();
  });

  // Control API.
  app.get('/_sim/subscriptions', (_req: Request, res: Response) => {
    const now = state.clock.now();
    res.json([...subs.all.values()].map(({ encryption: _e, ...s }) => ({ ...s, expired: Date.parse(s.expirationDateTime) <= now })));
  });
  app.get('/_sim/subscriptions/deliveries', (_req: Request, res: Response) => {
    res.json(subs.deliveries);
  });
  app.put('/_sim/subscriptions/options', json, (req: Request, res: Response) => {
    const body = (req.body ?? {}) as Partial<SubscriptionOptions>;
    if (body.validationTokens !== undefined && !['v1', 'v2', 'alternate'].includes(body.validationTokens)) {
      return error(res, 400, 'BadRequest', "validationTokens must be 'v1', 'v2' or 'alternate'");
    }
    if (body.driveResourceData !== undefined && !['null', 'absent', 'driveItem'].includes(body.driveResourceData)) {
      return error(res, 400, 'BadRequest', "driveResourceData must be 'null', 'absent' or 'driveItem'");
    }
    subs.options = { ...subs.options, ...body, maxMinutes: { ...subs.options.maxMinutes, ...(body.maxMinutes ?? {}) } };
    res.json(subs.options);
  });
  app.post('/_sim/subscriptions/:id/lifecycle', json, (req: Request, res: Response) => {
    const sub = subs.live(req.params.id);
    const event = String((req.body ?? {}).event ?? '');
    if (!sub) return notFound(res);
    if (!['reauthorizationRequired', 'subscriptionRemoved', 'missed'].includes(event)) {
      return error(res, 400, 'InvalidRequest', 'event must be reauthorizationRequired, subscriptionRemoved or missed');
    }
    if (!subs.sendLifecycle(sub, event)) {
      return error(res, 409, 'Conflict', 'The subscription belongs to a personal Microsoft account: Graph sends it no lifecycle notifications.');
    }
    res.status(202).json({ sent: event });
  });
  app.post('/_sim/subscriptions/:id/expire', (req: Request, res: Response) => {
    const sub = subs.all.get(req.params.id);
    if (!sub) return notFound(res);
    sub.expirationDateTime = new Date(state.clock.now() - 1000).toISOString();
    res.status(204).end();
  });
}
