/**
 * The headers of one delivery attempt of a notification, per the callback-out option `signing` (CONTRACT.md
 * "ms365-callback-out"): `open-connectors` (default: `Elements-Webhook-Signature`, signature.ts), `standard-webhooks`
 * (`webhook-id`, `webhook-timestamp`, `webhook-signature`, standard-webhooks.ts) or `both`. `Elements-Webhook-Id`
 * is sent in every mode. The key is read once, at construction; the Standard Webhooks timestamp is that of each
 * attempt, so a retry is signed anew while its id stays the same.
 */
import type { Notification } from './envelope';
import { signElementsBody, SIGNATURE_HEADER, WEBHOOK_ID_HEADER } from './signature';
import {
  signStandardWebhook,
  standardWebhookKey,
  STANDARD_WEBHOOK_ID_HEADER,
  STANDARD_WEBHOOK_SIGNATURE_HEADER,
  STANDARD_WEBHOOK_TIMESTAMP_HEADER,
} from './standard-webhooks';

export const CALLBACK_SIGNINGS = ['open-connectors', 'standard-webhooks', 'both'] as const;
export type CallbackSigning = (typeof CALLBACK_SIGNINGS)[number];
export const DEFAULT_SIGNING: CallbackSigning = 'open-connectors';

/** A `signing` setting: empty/absent is the default; anything not listed is undefined (a configuration error). */
export function parseSigning(value: unknown): CallbackSigning | undefined {
  if (value === undefined || value === null || value === '') return DEFAULT_SIGNING;
  return (CALLBACK_SIGNINGS as readonly unknown[]).includes(value) ? (value as CallbackSigning) : undefined;
}

export class NotificationSigner {
  private readonly elementsKey: string | undefined;
  private readonly standardKey: Buffer | undefined;

  /**
   * Throws a TypeError (the key never quoted) when `standard-webhooks`/`both` has no key (a receiver could not
   * verify anything: unsigned requests would be refused and given up) or a `whsec_` key that is not base64.
   * `open-connectors` without a key sends unsigned notifications, as Open Connectors did.
   */
  constructor(
    readonly signing: CallbackSigning = DEFAULT_SIGNING,
    key?: string,
  ) {
    const k = key || undefined;
    if (signing !== 'standard-webhooks') this.elementsKey = k;
    if (signing !== 'open-connectors') {
      if (!k) throw new TypeError(`signing "${signing}" needs a signature key`);
      this.standardKey = standardWebhookKey(k, 'signature key');
    }
  }

  /** Headers for one attempt at `nowMs` of `notification`, whose exact body bytes are `body`. */
  headers(notification: Notification, body: Buffer, nowMs: number): Record<string, string> {
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      // The notification id (= message.eventId): non-empty, stable across retries and redeliveries.
      [WEBHOOK_ID_HEADER]: notification.id,
    };
    if (this.elementsKey) headers[SIGNATURE_HEADER] = signElementsBody(this.elementsKey, body);
    if (this.standardKey) {
      const timestamp = Math.floor(nowMs / 1000);
      headers[STANDARD_WEBHOOK_ID_HEADER] = notification.id;
      headers[STANDARD_WEBHOOK_TIMESTAMP_HEADER] = String(timestamp);
      headers[STANDARD_WEBHOOK_SIGNATURE_HEADER] = signStandardWebhook(this.standardKey, notification.id, timestamp, body);
    }
    return headers;
  }

  /** Whether the headers change from one attempt to the next (the timestamp), or can be computed once. */
  get perAttempt(): boolean {
    return this.standardKey !== undefined;
  }
}
