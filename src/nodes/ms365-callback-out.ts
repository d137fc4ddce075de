/**
 * Node-RED adapter for `ms365-callback-out` (CONTRACT.md "ms365-callback-out"): events in, Open Connectors
 * notifications out to a callback URL, signed (reference/open-connectors.md §2), through a persistent outbox
 * (src/core/delivery/outbox.ts) so that neither a receiver outage nor a restart loses one, retried on the
 * 2^(3x) s schedule (§4). The node only wires: the core does envelope, signature, journal and retries.
 *
 * Inputs: `msg.payload` an event or array of events; `msg.redeliver = true` re-sends every given-up
 * notification; `msg.list = true` puts the given-up notifications on output 2 (one message, `msg.topic` "list").
 * Output 1: one message per delivered notification; output 2: one per notification given up.
 */
import os from 'node:os';
import path from 'node:path';
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow, NodeStatus } from 'node-red';
import { DEFAULT_RETRIES } from '../core/delivery/backoff';
import { buildNotifications, parseEvents, type Notification } from '../core/delivery/envelope';
import { Outbox, type OutboxEntry } from '../core/delivery/outbox';
import { NotificationSigner, parseSigning } from '../core/delivery/signing';
import { STATE_DIRECTORY_NAME, nodeStateFileName, stateDirectory } from './shared/state-dir';
import { CallbackSender, envelopeOf, validCallbackUrl, type SenderState } from '../core/delivery/sender';
import { translator } from './shared/i18n';

interface CallbackOutDef extends NodeDef {
  url?: string;
  batchSize?: string | number;
  retries?: string | number;
  signing?: string;
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

function listing(entry: OutboxEntry, notification: Notification | undefined) {
  return {
    eventId: entry.notificationId,
    attempts: entry.attempts,
    queuedAt: new Date(entry.queuedAt).toISOString(),
    ...(entry.givenUpAt !== undefined ? { givenUpAt: new Date(entry.givenUpAt).toISOString() } : {}),
    ...(entry.lastError !== undefined ? { error: entry.lastError } : {}),
    envelope: notification ? envelopeOf(notification) : null,
  };
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
    const unitEnv = Number(process.env[RETRY_UNIT_ENV]);
    const unitMs = Number.isFinite(unitEnv) && unitEnv > 0 ? unitEnv : 1000;
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
    let sender: CallbackSender | undefined;
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

    if (!url) {
      node.error(t('errors.invalidUrl'));
      show({ fill: 'red', shape: 'ring', text: text('invalidUrl') });
    } else if (signingError) {
      node.error(t('errors.signing', { error: signingError }));
      show({ fill: 'red', shape: 'ring', text: text('badSigning') });
    } else {
      show({ fill: 'grey', shape: 'ring', text: text('starting') });
    }

    const ready: Promise<Outbox> = Outbox.open(file).then(({ outbox, report }) => {
      if (report.skippedLines) node.warn(t('errors.skippedLines', { file, count: report.skippedLines }));
      if (closing) return outbox;
      if (url && signing && !signingError) {
        sender = new CallbackSender({
          url,
          outbox,
          retries,
          unitMs,
          signing,
          ...(signatureKey ? { signatureKey } : {}),
          logger: node,
          onDelivered: (d) => node.send([{ ...describe(d.notification), topic: 'delivered', statusCode: d.statusCode, attempts: d.attempts }, null]),
          onGivenUp: (g) =>
            node.send([null, { ...describe(g.notification), topic: 'given-up', statusCode: g.statusCode, attempts: g.attempts, error: g.error }]),
          onState: showState,
        });
        sender.kick();
      }
      return outbox;
    });
    ready.catch((err: unknown) => {
      node.error(t('errors.cannotOpen', { file, error: (err as Error).message }));
      show({ fill: 'red', shape: 'dot', text: text('outboxError') });
    });

    node.on('input', (msg: CallbackOutMsg, send, done) => {
      void (async () => {
        const outbox = await ready;
        if (msg.redeliver === true) {
          if (sender) await sender.redeliver();
          else await outbox.requeueGivenUp();
          return done();
        }
        if (msg.list === true) {
          const given = outbox.givenUp();
          const payload = await Promise.all(given.map(async (e) => listing(e, await outbox.notification(e).catch(() => undefined))));
          send([null, { topic: 'list', payload }]);
          return done();
        }
        const events = parseEvents(msg.payload);
        await outbox.add(buildNotifications(events, batchSize));
        sender?.kick();
        done();
      })().catch((err: unknown) => done(err instanceof Error ? err : new Error(String(err))));
    });

    node.on('close', (removed: boolean, done: () => void) => {
      closing = true;
      void (async () => {
        try {
          await sender?.close();
          const outbox = await ready.catch(() => undefined);
          await outbox?.close();
          if (removed) await Outbox.remove(file);
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
