/**
 * Node-RED adapter for `ms365-webhook-in` (CONTRACT "ms365-webhook-in", `reference/graph.md` §1–§3):
 * a POST route on Node-RED's HTTP node root that answers Graph's validation handshake and change/lifecycle
 * notifications (202 at once, work continues after), keeps the configured subscriptions alive through
 * `core/webhooks/subscription-manager`, and sends one message per change on output 1 and lifecycle /
 * subscription events on output 2. Logic lives in `core/webhooks`; this file wires it to Node-RED.
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import type { Request, Response, NextFunction, RequestHandler } from 'express';
import { eventTopic, type Ms365Event } from '../core/events';
import { GraphError, MissingPermissionError } from '../core/graph/client';
import {
  clientStateMatches,
  driveResourceOf,
  normalizeNotification,
  notificationKey,
  objectTypeOf,
  parseNotificationBody,
  withoutClientState,
  type NotificationItem,
} from '../core/webhooks/notifications';
import { BoundedSet } from '../core/webhooks/bounded-set';
import { advanceBookmark, catchUpQuery, versionKey } from '../core/webhooks/catch-up';
import { decryptResourceData, isEncryptedContent } from '../core/webhooks/rich-notifications';
import { ValidationTokenVerifier } from '../core/webhooks/validation-tokens';
import { certificateForGraph, isDriveResource, parseSubscriptionSpecs, resourceDataPlan } from '../core/webhooks/subscription-specs';
import { SubscriptionManager, type SubscriptionRecord, type SubscriptionSpec } from '../core/webhooks/subscription-manager';
import { startDelta } from '../core/changes/delta-engine';
import { serialRounds } from '../core/changes/serial-rounds';
import { pollResource, type PollerCursor } from '../core/changes';
import type { EngineContext } from '../core/changes/shared';
import { parsePollerConfiguration, type ResourceConfig } from '../core/opencon/poller-config';
import { useConnector } from './shared/use-connector';
import { nodeContextStore } from './shared/node-context';
import { durableCursors } from './shared/durable-cursors';
import { installationSecret } from './shared/connector-token-store';
import type { ConnectorNode } from './shared/connector-api';

interface WebhookDef extends NodeDef {
  connector: string;
  path: string;
  notificationUrl: string;
  subscriptions: string | SubscriptionSpec[];
  fetchResource: boolean | string;
  /** Rich notifications (graph.md §4): base64 DER or PEM X.509 certificate whose private key is the credential. */
  encryptionCertificate?: string;
  encryptionCertificateId?: string;
}

interface WebhookCredentials {
  clientState: unknown;
  /** PEM private key of `encryptionCertificate` (secret). */
  encryptionPrivateKey?: unknown;
}

const MAX_BODY_BYTES = 1024 * 1024;
/** Routes taken, by normalized path → node id (two nodes on one path would remove each other's routes). */
const routesInUse = new Map<string, string>();

/** `me/...` → `users/{userId}/...` for an app-only connector (CONTRACT). */
function resourceFor(connector: ConnectorNode, resource: string): string {
  const clean = resource.replace(/^\/+/, '');
  return connector.mePath === '/me' ? clean : clean.replace(/^me\//i, `${connector.mePath.replace(/^\//, '')}/`);
}

/** Read the body with a size limit; undefined when it is too large. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) over = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(over ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * A body some middleware already read (Node-RED's HTTP node app parses JSON and form bodies before routes run):
 * its text, re-serialized when it was parsed; undefined when the stream is still ours to read.
 */
function alreadyParsed(req: Request): Buffer | undefined {
  const consumed = (req as unknown as { _body?: boolean })._body === true || req.readableEnded;
  if (!consumed) return undefined;
  const body: unknown = req.body;
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  return Buffer.from(JSON.stringify(body ?? null), 'utf8');
}

function removeRoute(RED: NodeAPI, path: string): void {
  const app = RED.httpNode as unknown as { _router?: { stack: Array<{ route?: { path: string; methods: Record<string, boolean> } }> } };
  const stack = app._router?.stack;
  if (!stack) return;
  for (let i = stack.length - 1; i >= 0; i -= 1) {
    const route = stack[i].route;
    if (route && route.path === path && route.methods.post) stack.splice(i, 1);
  }
}

/** An event the poller engines produced for this node (drive delta, catch-up): source "webhook", no pollDate. */
function asWebhookEvent({ pollDate: _pollDate, ...event }: Ms365Event): Ms365Event {
  return { ...event, source: 'webhook' };
}

export = function register(RED: NodeAPI): void {
  function Ms365WebhookInNode(this: Node<WebhookCredentials>, def: WebhookDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const path = `/${String(def.path ?? '').replace(/^\/+/, '')}`.replace(/\/+$/, '') || '/';

    let specs: SubscriptionSpec[];
    const privateKey = typeof node.credentials?.encryptionPrivateKey === 'string' ? node.credentials.encryptionPrivateKey.trim() : '';
    let certificate = String(def.encryptionCertificate ?? '').trim();
    try {
      specs = parseSubscriptionSpecs(def.subscriptions);
      if (certificate && !privateKey) throw new Error('encryptionCertificate is set but the encryptionPrivateKey credential is empty: give both for rich notifications, or neither');
      if (certificate) certificate = certificateForGraph(certificate);
      if (!def.path || !/^\/?[A-Za-z0-9._~\-/]+$/.test(def.path)) throw new Error(`path "${def.path ?? ''}" must be a URL path such as /ms365/notifications`);
      if (specs.length && !/^https?:\/\//i.test(def.notificationUrl ?? '')) {
        throw new Error('notificationUrl must be the public base URL (https://...) at which Microsoft reaches this Node-RED');
      }
    } catch (err) {
      node.status({ fill: 'red', shape: 'ring', text: 'invalid configuration' });
      node.error(`ms365-webhook-in: ${(err as Error).message}`);
      return;
    }
    if ((RED.settings as unknown as { httpNodeRoot?: unknown }).httpNodeRoot === false) {
      node.status({ fill: 'red', shape: 'ring', text: 'httpNodeRoot disabled' });
      node.warn('ms365-webhook-in: not created, httpNodeRoot is false in settings.js');
      return;
    }
    const owner = routesInUse.get(path);
    if (owner && owner !== node.id) {
      node.status({ fill: 'red', shape: 'ring', text: 'path in use' });
      node.error(`ms365-webhook-in: the path ${path} is already used by node ${owner}`);
      return;
    }
    const connector = useConnector(RED, node, def.connector);
    if (!connector) return;
    const rich = privateKey && certificate ? { certificate, certificateId: String(def.encryptionCertificateId ?? '').trim() || 'node-red-ms365' } : undefined;
    try {
      // Resource data only where Graph offers it (core/webhooks/subscription-specs): Outlook needs $select (else a
      // deploy error here); a drive or another resource is subscribed without it, reported on output 2.
      specs = specs.map((spec) => {
        const resource = resourceFor(connector, spec.resource);
        if (!rich) return { ...spec, resource };
        const plan = resourceDataPlan(resource);
        return plan.include ? { ...spec, resource, includeResourceData: true } : { ...spec, resource, includeResourceData: false, note: plan.reason };
      });
    } catch (err) {
      node.status({ fill: 'red', shape: 'ring', text: 'invalid configuration' });
      node.error(`ms365-webhook-in: ${(err as Error).message}`);
      return;
    }

    const clientState =
      (typeof node.credentials?.clientState === 'string' && node.credentials.clientState) || createHmac('sha256', installationSecret(RED)).update(`ms365-webhook-in clientState ${node.id}`).digest('hex');
    const fetchResource = def.fetchResource === undefined || def.fetchResource === true || def.fetchResource === 'true';
    const notificationUrl = `${String(def.notificationUrl ?? '').replace(/\/+$/, '')}${path}`;
    let invalidTokens = 0;
    const store = nodeContextStore(node);
    const ctxGet = store.get;
    const ctxSet = store.set;

    const seen = new BoundedSet(10_000);
    /** Versions (id + etag) already emitted, by a notification or a catch-up: neither path emits one twice. */
    const versionsSeen = new BoundedSet(10_000);
    let mismatches = 0;
    let closing = false;
    let received = 0;
    const abort = new AbortController();
    /** The batch's validation tokens (graph.md §4, §11.4), checked with jose on Graph's clock. */
    const tokenVerifier = new ValidationTokenVerifier({
      authorityHost: connector.authorityHost ?? 'https://login.microsoftonline.com',
      appId: connector.clientId ?? '',
      now: () => connector.graph.serverNow(),
      signal: abort.signal,
    });

    const show = (fill: 'green' | 'yellow' | 'red' | 'grey', text: string) => node.status({ fill, shape: fill === 'green' ? 'dot' : 'ring', text });
    const sendEvent = (event: Ms365Event) => node.send([{ topic: eventTopic(event), payload: event, _msgid: randomUUID() } as NodeMessage, null]);
    const sendSide = (topic: string, payload: unknown) => node.send([null, { topic, payload, _msgid: randomUUID() } as NodeMessage]);

    const manager = new SubscriptionManager({
      graph: connector.graph,
      now: () => connector.graph.serverNow(), // expirations and renewals on Graph's clock
      notificationUrl,
      clientState,
      resourceData: rich,
      specs,
      load: async () => (await ctxGet<SubscriptionRecord[]>('subscriptions')) ?? [],
      save: (records) => ctxSet('subscriptions', records),
      onEvent: (event) => {
        sendSide(`subscription/${event.kind}`, event);
        if (event.kind === 'created' || event.kind === 'recreated') void catchUp(event.resource, { onlyIfBookmarked: event.kind === 'created' });
        else if (event.kind === 'renewed' || event.kind === 'reauthorized') {
          heard(event.resource, connector.graph.serverNow());
          void cursors.flush().catch((err: Error) => node.warn(`ms365-webhook-in: saving catch-up bookmarks: ${err.message}`));
        }
        if (event.kind === 'failed') {
          show('red', event.missingPermission ? `missing permission ${event.missingPermission}` : 'subscription failed');
          node.error(`ms365-webhook-in: subscription for ${event.resource} failed: ${event.error ?? ''}`);
        }
      },
    });

    /**
     * Drive notifications name no item (graph.md §2.1): the poller's delta engine resolves them. One drive delta
     * resource per subscribed drive root, its cursor kept by `shared/durable-cursors` (started at `token=latest`: nothing old replayed).
     */
    const driveResource = (resource: string): ResourceConfig =>
      parsePollerConfiguration(
        { driveItems: { url: `/${resource.replace(/^\/+|\/+$/g, '')}/delta`, idField: 'id', mode: 'delta' } },
        { elementKey: connector.elementKey, timezone: 'UTC', mePath: connector.mePath },
      )[0];
    const engineContext = (): EngineContext => ({
      graph: connector.graph,
      elementKey: connector.elementKey,
      instanceName: connector.instanceName,
      pollStart: connector.graph.serverNow(),
      signal: abort.signal,
    });
    /**
     * Drive delta cursors (key: the subscription resource) and catch-up bookmarks of Outlook resources (key:
     * `catchup:<resource>`), crash-safe (shared/durable-cursors).
     */
    const cursors = durableCursors(RED, node, {
      filePrefix: 'webhook',
      contextKey: 'webhookState',
      label: 'ms365-webhook-in',
      resend: (events) => {
        for (const event of events) if (seen.add(event.eventId)) sendEvent(event);
      },
    });
    const ensureDriveCursor = async (resource: string): Promise<PollerCursor> => {
      await cursors.loaded;
      const stored = cursors.get(resource);
      if (stored) return stored;
      const { cursor } = await startDelta(engineContext(), driveResource(resource));
      await cursors.beforeSend(resource, cursor, []);
      await cursors.afterSend();
      return cursor;
    };

    /**
     * Drive notification or catch-up: every change since the cursor, one event per item. The new cursor and the
     * events reach the state file before the send (a crash sends them again, same eventIds), node context after.
     */
    const resolveDrive = serialRounds(async (resource: string) => {
      const cursor = await ensureDriveCursor(resource);
      const round = await pollResource(engineContext(), driveResource(resource), cursor);
      const events = round.events.map(asWebhookEvent);
      await cursors.beforeSend(resource, round.cursor, events);
      for (const event of events) if (seen.add(event.eventId)) sendEvent(event);
      if (round.resynced) sendSide('lifecycle/resync', { resource, reason: 'drive delta token expired (410); resynced' });
      await cursors.afterSend();
    });

    const bookmarkKey = (resource: string) => `catchup:${resource}`;
    /** The subscription on `resource` delivered (or was confirmed alive) at `at`: a later catch-up starts there. */
    const heard = (resource: string, at: number, version?: { objectId: string; updatedMs: number }) => {
      if (!catchUpQuery(resource)) return;
      cursors.note(bookmarkKey(resource), advanceBookmark(cursors.get(bookmarkKey(resource)), at, version));
    };

    /**
     * One catch-up round of an Outlook collection from its bookmark; rounds of one resource run one at a time (like
     * drive rounds: two from the same bookmark would let the older one's cursor win).
     */
    const catchUpFromBookmark = serialRounds(async (resource: string) => {
      const query = catchUpQuery(resource);
      const bookmark = cursors.get(bookmarkKey(resource));
      if (!query || !bookmark) return;
      const [config] = parsePollerConfiguration(
        { [query.objectType]: { url: query.url, idField: 'id' } },
        { elementKey: connector.elementKey, timezone: 'UTC', mePath: connector.mePath },
      );
      const round = await pollResource(engineContext(), config!, bookmark);
      const events: Ms365Event[] = [];
      for (const polled of round.events) {
        const key = versionKey(polled.objectId, (polled.raw as Record<string, unknown> | undefined)?.['@odata.etag']);
        if (key && !versionsSeen.add(key)) continue; // delivered by a notification already
        events.push(asWebhookEvent(polled));
      }
      await cursors.beforeSend(bookmarkKey(resource), round.cursor, events);
      for (const event of events) if (seen.add(event.eventId)) sendEvent(event);
      await cursors.afterSend();
      sendSide('lifecycle/catchup', { resource, since: new Date(bookmark.mode === 'filter' ? bookmark.watermark : connector.graph.serverNow()).toISOString(), events: events.length });
    });

    /**
     * After a recreate, a `missed` notification or a subscription created anew over a bookmark from an earlier run
     * (`core/webhooks/catch-up`): drive resources read their delta; Outlook collections read what changed since the
     * bookmark ($filter on lastModifiedDateTime; deletions in the gap cannot be seen); other resources are reported
     * on output 2 (`lifecycle/catchup-needed`).
     */
    const catchUp = async (resource: string, options: { onlyIfBookmarked?: boolean } = {}) => {
      try {
        await cursors.loaded;
        if (isDriveResource(resource)) {
          if (!options.onlyIfBookmarked) await resolveDrive(resource);
          return;
        }
        const query = catchUpQuery(resource);
        if (!query) {
          if (!options.onlyIfBookmarked) sendSide('lifecycle/catchup-needed', { resource, reason: 'notifications may have been missed; poll this resource (ms365-poller) to catch up' });
          return;
        }
        const bookmark = cursors.get(bookmarkKey(resource));
        if (!bookmark) {
          // A first subscription: nothing before it is owed; later gaps start here.
          heard(resource, connector.graph.serverNow());
          await cursors.flush();
          if (!options.onlyIfBookmarked) sendSide('lifecycle/catchup-needed', { resource, reason: 'no bookmark to catch up from' });
          return;
        }
        await catchUpFromBookmark(resource);
      } catch (err) {
        if (err instanceof MissingPermissionError && err.permission) show('red', `missing permission ${err.permission}`);
        node.error(`ms365-webhook-in: catch-up of ${resource} failed: ${(err as Error).message}`);
      }
    };

    const handleItem = async (item: NotificationItem, receivedAt: number) => {
      if (!clientStateMatches(clientState, item.clientState)) {
        mismatches += 1;
        if (mismatches === 1) node.warn('ms365-webhook-in: dropped a notification whose clientState does not match (counted in the status)');
        return;
      }
      if (item.lifecycleEvent) {
        sendSide(`lifecycle/${item.lifecycleEvent}`, withoutClientState(item));
        const id = String(item.subscriptionId);
        if (item.lifecycleEvent === 'reauthorizationRequired') await manager.reauthorize(id);
        else if (item.lifecycleEvent === 'subscriptionRemoved') await manager.recreate(id);
        else if (item.lifecycleEvent === 'missed') {
          const record = manager.current.find((r) => r.id === id);
          if (record) await catchUp(record.resource);
        }
        return;
      }
      // By id; else by resource: a subscription of an earlier run that Graph still serves (ids lost with memory context).
      const itemResource = String(item.resource ?? '').replace(/^\/+/, '').toLowerCase();
      const record =
        manager.current.find((r) => r.id === item.subscriptionId) ??
        manager.current.find((r) => itemResource === r.resource.toLowerCase() || itemResource.startsWith(`${r.resource.toLowerCase()}/`));
      const drive = driveResourceOf(item, record?.resource, isDriveResource);
      if (drive) {
        await resolveDrive(drive);
        return;
      }
      const key = notificationKey(item);
      if (key && !seen.add(key)) return;
      if (item.changeType !== 'deleted' && item.resourceData) {
        const key = versionKey(String(item.resourceData.id ?? ''), item.resourceData['@odata.etag']);
        if (key && !versionsSeen.add(key)) return; // emitted by a catch-up already
      }
      let resource: Record<string, unknown> | undefined;
      let resourceError: string | undefined;
      const encrypted = (item as { encryptedContent?: unknown }).encryptedContent;
      if (isEncryptedContent(encrypted) && privateKey) {
        // §4: the resource travels in the notification; no fetch needed.
        resource = decryptResourceData(encrypted, privateKey);
      } else if (fetchResource && item.changeType !== 'deleted' && item.resource) {
        try {
          resource = await connector.graph.get<Record<string, unknown>>(`/${String(item.resource).replace(/^\/+/, '')}`, undefined, abort.signal);
        } catch (err) {
          if (abort.signal.aborted) throw err;
          // Deleted meanwhile (404): not an error. Anything else (throttled or unavailable beyond the client's
          // retries, forbidden…): the notification is answered already and Graph will not send it again, so the
          // event goes out without the resource rather than not at all.
          if (!(err instanceof GraphError && err.status === 404)) {
            resourceError = (err as Error).message;
            node.warn(`ms365-webhook-in: the changed ${objectTypeOf(item)} could not be fetched (${resourceError}); its event goes out without raw.resource`);
          }
        }
      }
      const event = normalizeNotification(item, { elementKey: connector.elementKey, instanceName: connector.instanceName, receivedAt }, resource, resourceError);
      if (record) heard(record.resource, receivedAt, resource ? { objectId: event.objectId, updatedMs: Date.parse(String(resource.lastModifiedDateTime)) } : undefined);
      sendEvent(event);
    };

    const handler = async (req: Request, res: Response) => {
      const token = req.query.validationToken;
      if (typeof token === 'string') {
        // §1.2: echo the decoded token (Express decodes `+` to a space), text/plain, 200.
        res.status(200).type('text/plain').send(token);
        return;
      }
      let body: Buffer | undefined;
      try {
        body = alreadyParsed(req) ?? (await readBody(req, MAX_BODY_BYTES));
      } catch {
        res.status(400).end();
        return;
      }
      if (!body) {
        res.status(413).type('text/plain').send('notification too large');
        return;
      }
      let batch;
      try {
        batch = parseNotificationBody(body.toString('utf8'));
      } catch (err) {
        res.status(400).type('text/plain').send((err as Error).message);
        return;
      }
      // §2.2: answer 202 within 3 s whatever happens next; the work continues after the answer.
      res.status(202).end();
      const receivedAt = connector.graph.serverNow(); // bookmarks are on Graph's clock
      if (batch.validationTokens.length || batch.items.some((i) => (i as { encryptedContent?: unknown }).encryptedContent !== undefined)) {
        // §4: a batch with resource data must carry valid tokens (aud = our app, iss = the items' tenant, Graph publisher).
        const tenantIds = [...new Set(batch.items.map((i) => String((i as { tenantId?: unknown }).tenantId ?? '')).filter(Boolean))];
        try {
          await tokenVerifier.verifyAll(batch.validationTokens, tenantIds);
        } catch (err) {
          invalidTokens += batch.items.length;
          if (invalidTokens === batch.items.length) node.warn(`ms365-webhook-in: dropped notifications with invalid validation tokens (${(err as Error).message})`);
          show('yellow', `${received} received, ${invalidTokens} invalid`);
          return;
        }
      }
      for (const item of batch.items) {
        if (closing) return;
        try {
          await handleItem(item, receivedAt);
          received += 1;
        } catch (err) {
          node.error(`ms365-webhook-in: ${(err as Error).message}`, { payload: withoutClientState(item) } as NodeMessage);
        }
      }
      show('green', `${received} received${mismatches ? `, ${mismatches} dropped` : ''}`);
    };

    const middleware = (RED.settings as unknown as { httpNodeMiddleware?: unknown }).httpNodeMiddleware;
    const chain: RequestHandler[] = [];
    if (typeof middleware === 'function') chain.push(middleware as RequestHandler);
    else if (Array.isArray(middleware)) chain.push(...(middleware.filter((m) => typeof m === 'function') as RequestHandler[]));
    RED.httpNode.post(path, ...chain, (req: Request, res: Response, next: NextFunction) => {
      handler(req, res).catch(next);
    });
    routesInUse.set(path, node.id);

    show('yellow', specs.length ? 'subscribing' : 'listening');
    // The route exists first, so the validation handshake of each create succeeds.
    void (async () => {
      try {
        // Drive cursors first: a change made once a subscription exists is after its cursor.
        for (const { resource } of specs) {
          if (!isDriveResource(resource)) continue;
          // A failure here is retried by the first notification's resolution (ensureDriveCursor again).
          await ensureDriveCursor(resource).catch((err: Error) => node.error(`ms365-webhook-in: drive cursor for ${resource}: ${err.message}`));
        }
        await manager.start();
        if (!closing) show(manager.current.length === specs.length ? 'green' : 'red', specs.length ? `${manager.current.length} subscription(s)` : 'listening');
      } catch (err) {
        show('red', 'subscribe failed');
        node.error(`ms365-webhook-in: ${(err as Error).message}`);
      }
    })();

    // A clock jump (ours or Graph's): a subscription may have expired on Graph's clock; renew or recreate it now.
    const stopWatchingClock = connector.graph.onClockJump(() => manager.recheck());

    node.on('close', (removed: boolean, done: () => void) => {
      closing = true;
      stopWatchingClock();
      abort.abort();
      removeRoute(RED, path);
      if (routesInUse.get(path) === node.id) routesInUse.delete(path);
      const saveCursors = () => cursors.close(removed).catch((err: Error) => node.warn(`ms365-webhook-in: saving drive cursors on close: ${err.message}`));
      if (!removed) {
        manager.stop();
        const guard = setTimeout(done, 5000);
        void saveCursors().finally(() => {
          clearTimeout(guard);
          done();
        });
        return;
      }
      // Removed (or disabled): delete the subscriptions, bounded in time.
      const timer = setTimeout(done, 10_000);
      manager
        .removeAll()
        .catch((err: Error) => node.warn(`ms365-webhook-in: deleting subscriptions failed: ${err.message}`))
        .then(saveCursors)
        .finally(() => {
          clearTimeout(timer);
          done();
        });
    });
  }

  RED.nodes.registerType('ms365-webhook-in', Ms365WebhookInNode, {
    credentials: { clientState: { type: 'password' }, encryptionPrivateKey: { type: 'password' } },
  });
};
