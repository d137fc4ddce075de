/**
 * Node-RED adapter for `ms365-callback-out` (CONTRACT.md "ms365-callback-out"): events in, Open Connectors
 * notifications out to a callback URL, signed (reference/open-connectors.md §2), retried on the 2^(3x) s schedule
 * (§4). Notifications wait in a persistent outbox file (src/core/delivery/outbox.ts) so that neither a receiver
 * outage nor a restart loses one; with an optional `cluster` (an `ms365-cluster` config node; CONTRACT is silent
 * here, README says so) they wait in a BullMQ queue in Redis shared by every instance (issue 17 item 4). The node
 * only chooses and wires (src/core/delivery/callback-delivery.ts): the core does envelope, signature, storage and
 * retries.
 *
 * Inputs: `msg.payload` an event or array of events; `msg.redeliver = true` re-sends every given-up
 * notification; `msg.list = true` puts the given-up notifications on output 2 (one message, `msg.topic` "list").
 * Output 1: one message per delivered notification; output 2: one per notification given up.
 */
import os from 'node:os';
import path from 'node:path';
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow, NodeStatus } from 'node-red';
import { DEFAULT_RETRIES } from '../core/delivery/backoff';
import { FileDelivery, QueueDelivery, type CallbackDelivery, type DeliveryHooks, type DeliveryProblem, type SendSettings } from '../core/delivery/callback-delivery';
import { buildNotifications, parseEvents, type Notification } from '../core/delivery/envelope';
import { NotificationSigner, parseSigning } from '../core/delivery/signing';
import { STATE_DIRECTORY_NAME, nodeStateFileName, stateDirectory } from './shared/state-dir';
import { envelopeOf, validCallbackUrl, type SenderState } from '../core/delivery/sender';
import type { ClusterNode } from './shared/cluster-api';
import { translator } from './shared/i18n';

interface CallbackOutDef extends NodeDef {
  url?: string;
  batchSize?: string | number;
  retries?: string | number;
  signing?: string;
  cluster?: string;
}

interface CallbackOutCredentials {
  signatureKey?: string;
}

type CallbackOutMsg = NodeMessageInFlow & { redeliver?: unknown; list?: unknown };

/**
 * Test-only: how many ms one second of the retry schedule lasts (default 1000). Lets tests run the real
 * schedule (8, 64, 512 "seconds") in ms; Retry-After seconds are scaled the same way.
 */
const RETRY_UNIT_ENV = 'MS365_CALLBACK_RETRY_UNIT_MS';
/** Test-only (cluster mode): the delivery lock in ms, so a killed instance's delivery is taken up sooner. */
const LOCK_ENV = 'MS365_CALLBACK_QUEUE_LOCK_MS';

/**
 * Where the outbox journal of node `id` lives: `<userDir>/.ms365-events/outbox-<id>.jsonl`. Node-RED's file storage
 * always sets `userDir`; a runtime without one (the test helper) gets a folder under the OS temp directory.
 */
function outboxFile(RED: NodeAPI, id: string): string {
  const dir = stateDirectory(RED) ?? path.join(os.tmpdir(), 'node-red-ms365-events', STATE_DIRECTORY_NAME);
  return path.join(dir, nodeStateFileName('outbox', id, '.jsonl'));
}

function intSetting(value: unknown, fallback: number | undefined, min: number): number | undefined {
  if (value === undefined || value === null || value === '') return fallback;
  const n = Number(value);
  return Number.isInteger(n) && n >= min ? n : fallback;
}

function clock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}

/** What output messages say about a notification. */
function describe(notification: Notification) {
  return { eventId: notification.id, payload: envelopeOf(notification) };
}

function envNumber(name: string): number | undefined {
  const n = Number(process.env[name]);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

export = function register(RED: NodeAPI): void {
  const t = translator(RED, 'ms365-callback-out');
  const text = (key: string, params: Record<string, string | number> = {}): string => t(`status.${key}`, params);

  function Ms365CallbackOutNode(this: Node<CallbackOutCredentials>, def: CallbackOutDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const url = validCallbackUrl(def.url);
    const batchSize = intSetting(def.batchSize, undefined, 1);
    const retries = intSetting(def.retries, DEFAULT_RETRIES, 0) ?? DEFAULT_RETRIES;
    const unitMs = envNumber(RETRY_UNIT_ENV) ?? 1000;
    const file = outboxFile(RED, node.id);
    const signatureKey = node.credentials?.signatureKey || undefined;
    const signing = parseSigning(def.signing);
    // Checked at deploy (never quoting the key): a signing the receiver could not verify would only get refusals.
    let signingError: string | undefined;
    if (!signing) signingError = t('errors.badSigningValue');
    else {
      try {
        new NotificationSigner(signing, signatureKey);
      } catch (err) {
        signingError = (err as Error).message;
      }
    }
    let closing = false;

    const show = (status: NodeStatus) => {
      if (!closing) node.status(status);
    };
    const showState = (s: SenderState) => {
      if (!url || signingError) return;
      const suffix = s.givenUp ? `, ${text('givenUp', { count: s.givenUp })}` : '';
      if (s.failingSince !== undefined && s.queued > 0) {
        show({ fill: 'red', shape: 'ring', text: text('failing', { time: clock(s.failingSince), count: s.queued }) + suffix });
      } else if (s.queued > 0) {
        show({ fill: 'blue', shape: 'dot', text: text('queued', { count: s.queued }) + suffix });
      } else if (s.lastDeliveryAt !== undefined) {
        show({ fill: s.givenUp ? 'yellow' : 'green', shape: 'dot', text: text('delivered', { time: clock(s.lastDeliveryAt) }) + suffix });
      } else {
        show({ fill: s.givenUp ? 'yellow' : 'grey', shape: 'ring', text: s.givenUp ? text('givenUp', { count: s.givenUp }) : text('idle') });
      }
    };
    const showProblem = ({ kind, error }: DeliveryProblem) => {
      if (closing) return;
      if (kind === 'outbox') node.error(t('errors.cannotOpen', { file, error: error.message }));
      else node.error(t(kind === 'cluster' ? 'errors.clusterUnavailable' : 'errors.redis', { error: error.message }));
      show({ fill: 'red', shape: kind === 'cluster' ? 'ring' : 'dot', text: text({ outbox: 'outboxError', cluster: 'clusterError', redis: 'redisError' }[kind]) });
    };

    if (!url) {
      node.error(t('errors.invalidUrl'));
      show({ fill: 'red', shape: 'ring', text: text('invalidUrl') });
    } else if (signingError) {
      node.error(t('errors.signing', { error: signingError }));
      show({ fill: 'red', shape: 'ring', text: text('badSigning') });
    } else {
      show({ fill: 'grey', shape: 'ring', text: text('starting') });
    }

    const send: SendSettings | undefined =
      url && signing && !signingError ? { url, signing, retries, unitMs, ...(signatureKey ? { signatureKey } : {}) } : undefined;
    const hooks: DeliveryHooks = {
      logger: node,
      onDelivered: (d) => node.send([{ ...describe(d.notification), topic: 'delivered', statusCode: d.statusCode, attempts: d.attempts }, null]),
      onGivenUp: (g) => node.send([null, { ...describe(g.notification), topic: 'given-up', statusCode: g.statusCode, attempts: g.attempts, error: g.error }]),
      onState: showState,
      onProblem: showProblem,
      onSkippedLines: (count) => node.warn(t('errors.skippedLines', { file, count })),
    };
    // The node only chooses where notifications wait: a cluster's Redis queue, or the outbox file (never a fall-back).
    const cluster = def.cluster ? (RED.nodes.getNode(def.cluster) as ClusterNode | null) : undefined;
    let delivery: CallbackDelivery | undefined;
    if (cluster === null) {
      node.error(t('errors.clusterMissing'));
      show({ fill: 'red', shape: 'ring', text: text('clusterError') });
    } else if (cluster) {
      const lockMs = envNumber(LOCK_ENV);
      const connections = async () => (await cluster.state()).queues;
      delivery = new QueueDelivery({ nodeId: node.id, connections, ...(lockMs ? { lockMs } : {}) }, send, hooks);
    } else delivery = new FileDelivery(file, send, hooks);

    node.on('input', (msg: CallbackOutMsg, sendMsg, done) => {
      void (async () => {
        if (!delivery) throw new Error(t('errors.clusterMissing'));
        if (msg.redeliver === true) {
          await delivery.redeliver();
        } else if (msg.list === true) {
          sendMsg([null, { topic: 'list', payload: await delivery.givenUp() }]);
        } else {
          await delivery.add(buildNotifications(parseEvents(msg.payload), batchSize));
        }
        done();
      })().catch((err: unknown) => done(err instanceof Error ? err : new Error(String(err))));
    });

    node.on('close', (removed: boolean, done: () => void) => {
      closing = true;
      void (async () => {
        try {
          await delivery?.close(removed);
        } catch (err) {
          node.warn(t('errors.closing', { error: (err as Error).message }));
        }
        done();
      })();
    });
  }

  RED.nodes.registerType('ms365-callback-out', Ms365CallbackOutNode as unknown as (this: Node, def: NodeDef) => void, {
    credentials: { signatureKey: { type: 'password' } },
  });
};
