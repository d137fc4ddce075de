/**
 * Node-RED adapter for `ms365-webhook-in` (CONTRACT "ms365-webhook-in", `reference/graph.md` §1–§3):
 * a POST route on Node-RED's HTTP node root that answers Graph's validation handshake and change/lifecycle
 * notifications (202 once the batch is in the node's journal, work continues after), keeps the configured
 * subscriptions alive through `core/webhooks/subscription-manager`, and sends one message per change on output 1 and lifecycle /
 * subscription events on output 2. The orchestration lives in `core/webhooks/receiver` (and the modules it uses);
 * this file checks the configuration at deploy, owns the route and wires the receiver to Node-RED.
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeStatus } from 'node-red';
import type { Request, Response, NextFunction, RequestHandler } from 'express';
import { notificationBatchOf, parseNotificationBody } from '../core/webhooks/notifications';
import { WebhookReceiver } from '../core/webhooks/receiver';
import type { SubscriptionRecord, SubscriptionSpec } from '../core/webhooks/subscription-manager';
import { certificateForGraph, parseSubscriptionSpecs, resolveSpecs } from '../core/webhooks/subscription-specs';
import { useConnector } from './shared/use-connector';
import { nodeContextStore } from './shared/node-context';
import { durableCursors } from './shared/durable-cursors';
import { notificationJournal } from './shared/notification-journal-file';
import { leaseTtlMs } from './shared/cluster-api';
import { installationSecret } from './shared/connector-token-store';
import { alreadyRead, readBody, removePostRoute } from './shared/http-route';
import { translator } from './shared/i18n';
import { coalescedStatus } from './shared/coalesced-status';
import { registerSubscriptionRulesRoute } from './shared/subscription-rules-route';

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
/** The statuses that change with each batch received (a count): shown at most every 250 ms (`coalesced-status`). */
const COUNTING_STATUSES = new Set(['received', 'receivedDropped', 'standbyReceived', 'receivedInvalid']);

export = function register(RED: NodeAPI): void {
  function Ms365WebhookInNode(this: Node<WebhookCredentials>, def: WebhookDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const t = translator(RED, 'ms365-webhook-in');
    const path = `/${String(def.path ?? '').replace(/^\/+/, '')}`.replace(/\/+$/, '') || '/';
    const invalid = (message: string) => {
      node.status({ fill: 'red', shape: 'ring', text: t('status.invalidConfig') });
      node.error(t('errors.invalidConfig', { error: message }));
    };

    let specs: SubscriptionSpec[];
    const privateKey = typeof node.credentials?.encryptionPrivateKey === 'string' ? node.credentials.encryptionPrivateKey.trim() : '';
    let certificate = String(def.encryptionCertificate ?? '').trim();
    try {
      specs = parseSubscriptionSpecs(def.subscriptions);
      if (certificate && !privateKey) throw new Error(t('errors.certificateWithoutKey'));
      if (certificate) certificate = certificateForGraph(certificate);
      if (!def.path || !/^\/?[A-Za-z0-9._~\-/]+$/.test(def.path)) throw new Error(t('errors.badPath', { path: def.path ?? '' }));
      if (specs.length && !/^https?:\/\//i.test(def.notificationUrl ?? '')) {
        throw new Error(t('errors.badNotificationUrl'));
      }
    } catch (err) {
      invalid((err as Error).message);
      return;
    }
    if ((RED.settings as unknown as { httpNodeRoot?: unknown }).httpNodeRoot === false) {
      node.status({ fill: 'red', shape: 'ring', text: t('status.httpNodeRootDisabled') });
      node.warn(t('errors.httpNodeRootDisabled'));
      return;
    }
    const owner = routesInUse.get(path);
    if (owner && owner !== node.id) {
      node.status({ fill: 'red', shape: 'ring', text: t('status.pathInUse') });
      node.error(t('errors.pathInUse', { path, owner }));
      return;
    }
    const connector = useConnector(RED, node, def.connector);
    if (!connector) return;
    // A cluster that is named but not deployed: no fall-back to single-instance mode (the connector says why).
    if (connector.clusterId && !connector.cluster) return invalid(t('errors.clusterMissing', { cluster: connector.clusterId }));
    const rich = privateKey && certificate ? { certificate, certificateId: String(def.encryptionCertificateId ?? '').trim() || 'node-red-ms365' } : undefined;
    try {
      // Resource data only where Graph offers it (core/webhooks/subscription-specs): Outlook needs $select (else a
      // deploy error here); a drive or another resource is subscribed without it, reported on output 2.
      specs = resolveSpecs(specs, connector.mePath, rich !== undefined);
    } catch (err) {
      invalid((err as Error).message);
      return;
    }

    const clientState =
      (typeof node.credentials?.clientState === 'string' && node.credentials.clientState) || createHmac('sha256', installationSecret(RED)).update(`ms365-webhook-in clientState ${node.id}`).digest('hex');
    const store = nodeContextStore(node);
    const cluster = connector.cluster;
    let closing = false;
    /** Drive delta cursors and catch-up bookmarks, crash-safe (shared/durable-cursors). */
    const cursors = durableCursors(RED, node, {
      filePrefix: 'webhook',
      contextKey: 'webhookState',
      label: 'ms365-webhook-in',
      resend: (events) => receiver.resend(events),
    });
    const statuses = coalescedStatus((status) => node.status(status));
    const receiver: WebhookReceiver = new WebhookReceiver({
      graph: connector.graph,
      elementKey: connector.elementKey,
      instanceName: connector.instanceName,
      mePath: connector.mePath,
      clientState,
      fetchResource: def.fetchResource === undefined || def.fetchResource === true || def.fetchResource === 'true',
      privateKey: rich ? privateKey : undefined,
      notificationUrl: `${String(def.notificationUrl ?? '').replace(/\/+$/, '')}${path}`,
      specs,
      resourceData: rich,
      authorityHost: connector.authorityHost ?? 'https://login.microsoftonline.com',
      appId: connector.clientId ?? '',
      cursors,
      journal: notificationJournal(RED, node, (message) => node.warn(t('errors.message', { message }))),
      // Cluster mode: a notification that reaches two instances comes out once (keys scoped to this node).
      sharedDedupe: cluster ? { claim: async (key, ttl) => (await cluster.state()).dedupe.claim(`webhook-in:${node.id}:${key}`, ttl) } : undefined,
      // Cluster mode: one subscription owner per node across the instances, the records in Redis (fenced).
      sharedSubscriptions: cluster ? { open: () => cluster.state(), nodeId: node.id, ttlMs: leaseTtlMs(RED) } : undefined,
      sharedDriveCursors: cluster ? { open: () => cluster.state(), nodeId: node.id, ttlMs: leaseTtlMs(RED) } : undefined,
      loadSubscriptions: async () => (await store.get<SubscriptionRecord[]>('subscriptions')) ?? [],
      saveSubscriptions: (records) => store.set('subscriptions', records),
      sendEvent: (event, topic) => node.send([{ topic, payload: event, _msgid: randomUUID() } as NodeMessage, null]),
      sendSide: (topic, payload) => node.send([null, { topic, payload, _msgid: randomUUID() } as NodeMessage]),
      status: (fill, key, params) => {
        const status = () => ({ fill, shape: fill === 'green' ? 'dot' : 'ring', text: t(`status.${key}`, params) }) as NodeStatus;
        if (COUNTING_STATUSES.has(key)) statuses.frequent(status);
        else statuses.now(status());
      },
      warn: (message) => node.warn(t('errors.message', { message })),
      error: (message, item) => (item === undefined ? node.error(t('errors.message', { message })) : node.error(t('errors.message', { message }), { payload: item } as NodeMessage)),
    });

    const handler = async (req: Request, res: Response) => {
      const token = req.query.validationToken;
      if (typeof token === 'string') {
        // §1.2: echo the decoded token (Express decodes `+` to a space), text/plain, 200.
        res.status(200).type('text/plain').send(token);
        return;
      }
      let body: { parsed: unknown } | Buffer | undefined;
      try {
        body = alreadyRead(req) ?? (await readBody(req, MAX_BODY_BYTES));
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
        batch = Buffer.isBuffer(body) ? parseNotificationBody(body.toString('utf8')) : notificationBatchOf(body.parsed);
      } catch (err) {
        res.status(400).type('text/plain').send((err as Error).message);
        return;
      }
      // §2.2: 202 within 3 s once the batch is journaled (one fsync per group); else 503 so Graph sends it again.
      const journaled = closing ? false : await receiver.receive(batch).then(() => true, () => false);
      res.status(journaled ? 202 : 503).end();
    };

    const middleware = (RED.settings as unknown as { httpNodeMiddleware?: unknown }).httpNodeMiddleware;
    const chain: RequestHandler[] = [];
    if (typeof middleware === 'function') chain.push(middleware as RequestHandler);
    else if (Array.isArray(middleware)) chain.push(...(middleware.filter((m) => typeof m === 'function') as RequestHandler[]));
    RED.httpNode.post(path, ...chain, (req: Request, res: Response, next: NextFunction) => {
      handler(req, res).catch(next);
    });
    routesInUse.set(path, node.id);

    // The route exists first, so the validation handshake of each create succeeds.
    void receiver.start();
    const stopWatchingClock = connector.graph.onClockJump(() => receiver.recheck());

    node.on('close', (removed: boolean, done: () => void) => {
      closing = true;
      statuses.close();
      stopWatchingClock();
      removePostRoute(RED, path);
      if (routesInUse.get(path) === node.id) routesInUse.delete(path);
      // Removed (or disabled): the subscriptions are deleted too; both bounded in time.
      void receiver.close(removed).finally(done);
    });
  }

  registerSubscriptionRulesRoute(RED);
  RED.nodes.registerType('ms365-webhook-in', Ms365WebhookInNode, {
    credentials: { clientState: { type: 'password' }, encryptionPrivateKey: { type: 'password' } },
  });
};
