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
 * - Leniency on purpose: `http://` notification URLs are accepted (Graph requires HTTPS) so tests can use loopback.
 *
 * Control API (loopback only):
 *   GET  /_sim/subscriptions                    every subscription, expired ones included (with `expired`)
 *   PUT  /_sim/subscriptions/options            {maxMinutes?: {outlook?, drive?}, duplicates?, createdPlusUpdated?, retryHorizonMs?}
 *   POST /_sim/subscriptions/{id}/lifecycle     {"event": "reauthorizationRequired" | "subscriptionRemoved" | "missed"}
 *   POST /_sim/subscriptions/{id}/expire        expire it now (as a missed renewal would)
 *   GET  /_sim/subscriptions/deliveries         delivery log [{url, status, items, at}]
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { encryptedContentFor, encryptionKeyOf, type EncryptionKey } from './rich-notifications';
import { signJwt } from './jwt';
import http from 'node:http';
import https from 'node:https';
import express, { type Express, type Request, type Response } from 'express';
import type { SimChange, SimState } from './state';
import { principalOf } from './graph/gate';
import { graphErrorBody } from './graph/errors';
import { subscriptionPermissionError } from './graph/permissions';

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
  /** Rich notifications (§4): resource data encrypted with this public key. */
  includeResourceData?: boolean;
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
  maxMinutes: { outlook: number; drive: number };
  /** Deliver every item twice (Graph delivers at least once). */
  duplicates: boolean;
  /** A new Outlook item gives `created` plus `updated` (as Graph often does, §2.1). */
  createdPlusUpdated: boolean;
  retryHorizonMs: number;
}

export class SimSubscriptions {
  readonly all = new Map<string, SimSubscription>();
  readonly deliveries: DeliveryLogEntry[] = [];
  options: SubscriptionOptions = defaultOptions();
  private readonly queues = new Map<string, Array<Record<string, unknown>>>();
  private readonly timers = new Set<NodeJS.Timeout>();

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
        this.enqueue(sub.notificationUrl, this.baseItem(sub, 'updated', sub.resource));
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

  sendLifecycle(sub: SimSubscription, event: string): void {
    const url = sub.lifecycleNotificationUrl ?? sub.notificationUrl;
    this.enqueue(url, {
      subscriptionId: sub.id,
      subscriptionExpirationDateTime: sub.expirationDateTime,
      tenantId: this.state.tenantId,
      clientState: sub.clientState,
      lifecycleEvent: event,
    });
    if (event === 'subscriptionRemoved') this.all.delete(sub.id);
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
      tenantId: this.state.tenantId,
    };
  }

  private resourceItem(sub: SimSubscription, change: SimChange, changeType: string): Record<string, unknown> {
    const collection = change.kind === 'message' ? 'Messages' : change.kind === 'event' ? 'Events' : 'Contacts';
    const type = change.kind === 'message' ? 'Message' : change.kind === 'event' ? 'Event' : 'Contact';
    const path = `Users/${change.userId}/${collection}/${change.id}`;
    const rich = sub.includeResourceData && sub.encryption ? this.richContent(sub, change) : undefined;
    return {
      ...(rich ? { encryptedContent: rich } : {}),
      ...this.baseItem(sub, changeType, path),
      resourceData: {
        '@odata.type': `#Microsoft.Graph.${type}`,
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
    return encryptedContentFor(entry.obj, sub.encryption, sub.encryptionCertificateId ?? '');
  }

  /** §4: one signed validation token per app + tenant of the rich items in a batch. */
  private validationTokens(items: Array<Record<string, unknown>>): string[] {
    const apps = new Set<string>();
    for (const item of items) {
      if (!item.encryptedContent) continue;
      const sub = this.all.get(String(item.subscriptionId));
      if (sub) apps.add(sub.applicationId);
    }
    const now = Math.floor(this.state.clock.now() / 1000);
    return [...apps].map((appId) =>
      signJwt(this.state, { aud: appId, iss: `https://sts.windows.net/${this.state.tenantId}/`, appid: '0bf30f3b-4a52-48df-9a82-234910c4a086', tid: this.state.tenantId, exp: now + 3600 }),
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

function defaultOptions(): SubscriptionOptions {
  return { maxMinutes: { outlook: 4230, drive: 42300 }, duplicates: false, createdPlusUpdated: false, retryHorizonMs: 4 * 3600 * 1000 };
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
}

/** Resolve a subscription `resource` (`me/messages`, `users/{id}/mailFolders('inbox')/messages`, `me/drive/root`, ...). */
function resolveResource(state: SimState, resource: string, callerUserId: string | undefined): Target | string {
  const clean = resource.replace(/^\/+/, '').split('?')[0];
  const m = /^(me|users\/([^/]+)|drives\/([^/]+))\/(.+)$/i.exec(clean);
  if (!m) return `Unsupported resource '${resource}'.`;
  let userId: string | undefined;
  if (m[1].toLowerCase() === 'me') userId = callerUserId;
  else if (m[2]) userId = state.findUser(decodeURIComponent(m[2]))?.id;
  else if (m[3]) userId = state.graph.store.userOfDrive(m[3])?.user.id;
  if (!userId) return m[1].toLowerCase() === 'me' ? '/me request is only valid with delegated authentication flow.' : `Resource '${resource}' not found.`;
  const rest = m[4].replace(/\/+$/, '');
  if (/^(drive\/)?root$/i.test(rest)) return { userId, kind: 'driveItem', drive: true };
  if (/^messages$/i.test(rest)) return { userId, kind: 'message', drive: false };
  const folder = /^mailFolders(?:\('([^']+)'\)|\/([^/]+))\/messages$/i.exec(rest);
  if (folder) {
    const f = state.graph.store.folder(userId, folder[1] ?? folder[2]);
    if (!f) return `Mail folder not found in '${resource}'.`;
    return { userId, kind: 'message', folderId: f.id, drive: false };
  }
  if (/^(calendar\/)?events$/i.test(rest)) return { userId, kind: 'event', drive: false };
  if (/^contacts$/i.test(rest)) return { userId, kind: 'contact', drive: false };
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
    const { userId: _u, kind: _k, folderId: _f, encryption: _e, ...rest } = sub;
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
    const expiration = Date.parse(String(body.expirationDateTime));
    if (!Number.isFinite(expiration)) return error(res, 400, 'InvalidRequest', 'expirationDateTime is not a valid DateTimeOffset.');
    const max = target.drive ? subs.options.maxMinutes.drive : subs.options.maxMinutes.outlook;
    const now = state.clock.now();
    if (expiration <= now) return error(res, 400, 'ExtensionError', 'Subscription expiration must be in the future.');
    if (expiration > now + max * 60_000) {
      return error(res, 400, 'ExtensionError', `Subscription expiration can only be ${max} minutes in the future.`);
    }
    let encryption: EncryptionKey | undefined;
    if (body.includeResourceData === true) {
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
      expirationDateTime: new Date(expiration).toISOString(),
      applicationId: principal?.clientId ?? '',
      creatorId: principal?.userId ?? principal?.clientId ?? '',
      userId: target.userId,
      kind: target.kind,
      folderId: target.folderId,
      ...(encryption ? { includeResourceData: true, encryptionCertificateId: String(body.encryptionCertificateId), encryption } : {}),
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
      const max = sub.kind === 'driveItem' ? subs.options.maxMinutes.drive : subs.options.maxMinutes.outlook;
      const now = state.clock.now();
      if (!Number.isFinite(expiration) || expiration <= now) return error(res, 400, 'InvalidRequest', 'expirationDateTime must be in the future.');
      if (expiration > now + max * 60_000) return error(res, 400, 'ExtensionError', `Subscription expiration can only be ${max} minutes in the future.`);
      sub.expirationDateTime = new Date(expiration).toISOString();
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
    subs.sendLifecycle(sub, event);
    res.status(202).json({ sent: event });
  });
  app.post('/_sim/subscriptions/:id/expire', (req: Request, res: Response) => {
    const sub = subs.all.get(req.params.id);
    if (!sub) return notFound(res);
    sub.expirationDateTime = new Date(state.clock.now() - 1000).toISOString();
    res.status(204).end();
  });
}
