/**
 * A loopback callback receiver for end-to-end tests of ms365-callback-out: it records every notification with the
 * request path, the events of its Open Connectors envelope, and whether `Elements-Webhook-Signature` matched an
 * independent HMAC computation (when a key is given). A body that is not an envelope (a delivery cut by a kill)
 * gets 400, so the sender retries.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedEvent {
  eventType: string;
  objectId: string;
  objectType: string;
  eventId: string;
  source: string;
}

export interface ReceivedNotification {
  path: string;
  events: ReceivedEvent[];
  signatureOk?: boolean;
}

export interface CallbackReceiver {
  /** `http://127.0.0.1:<port>` (append a path). */
  url: string;
  notifications: ReceivedNotification[];
  /** Every received event, in arrival order (optionally only those posted to `path`). */
  events(path?: string): ReceivedEvent[];
  close(): Promise<void>;
}

export async function startCallbackReceiver(options: { signatureKey?: string } = {}): Promise<CallbackReceiver> {
  const notifications: ReceivedNotification[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => undefined);
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      let events: ReceivedEvent[];
      try {
        events = (JSON.parse(body.toString('utf8')) as { message: { events: ReceivedEvent[] } }).message.events;
        if (!Array.isArray(events)) throw new Error('no events');
      } catch {
        res.statusCode = 400;
        res.end();
        return;
      }
      const signatureOk = options.signatureKey
        ? req.headers['elements-webhook-signature'] === `sha256=${crypto.createHmac('sha256', options.signatureKey).update(body).digest('base64')}`
        : undefined;
      notifications.push({ path: req.url ?? '', events, signatureOk });
      res.statusCode = 200;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    notifications,
    events: (path) => notifications.filter((n) => path === undefined || n.path === path).flatMap((n) => n.events),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
