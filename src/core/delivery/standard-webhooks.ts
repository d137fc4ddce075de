/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com, specification "Standard Webhooks", section
 * "Signature scheme"): headers `webhook-id` (the message id, the same on every retry), `webhook-timestamp` (integer
 * Unix seconds of this attempt) and `webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`
 * (several space-separated values allowed). Unlike `Elements-Webhook-Signature`, the signed timestamp lets a receiver
 * refuse a replayed request: one older (or newer) than its tolerance (5 minutes, as the reference libraries) fails,
 * and within the tolerance it de-duplicates on `webhook-id`.
 *
 * Keys: the `signatureKey` credential is one string for both schemes. A key that starts with `whsec_` is a Standard
 * Webhooks secret: the HMAC key is the base64 after the prefix (as the reference libraries read it). Any other key
 * is used as its UTF-8 bytes (the bytes `Elements-Webhook-Signature` uses), so one key signs both headers; a
 * receiver using a reference library then passes those bytes as a raw key (`new Webhook(bytes, { format: 'raw' })`).
 * The Open Connectors signature always uses the UTF-8 bytes of the whole key, `whsec_` included, as before.
 * `sign` and `verify` mirror each other; comparisons are constant-time after a length check (STYLE.md §7).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const STANDARD_WEBHOOK_ID_HEADER = 'webhook-id';
export const STANDARD_WEBHOOK_TIMESTAMP_HEADER = 'webhook-timestamp';
export const STANDARD_WEBHOOK_SIGNATURE_HEADER = 'webhook-signature';
/** How far a `webhook-timestamp` may be from the receiver's clock, either way (the reference libraries' 5 minutes). */
export const STANDARD_WEBHOOK_TOLERANCE_SECONDS = 5 * 60;
const SECRET_PREFIX = 'whsec_';
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * The HMAC key bytes of a `signatureKey`: base64-decoded after a `whsec_` prefix, else the UTF-8 bytes of the key.
 * Throws a prefixed TypeError (never quoting the key) for an empty key or a `whsec_` key that is not base64.
 */
export function standardWebhookKey(key: unknown, fn = 'standardWebhookKey'): Buffer {
  if (Buffer.isBuffer(key) && key.length > 0) return key;
  if (typeof key !== 'string' || key === '') throw new TypeError(`[${fn}] key must be a non-empty string`);
  if (!key.startsWith(SECRET_PREFIX)) return Buffer.from(key, 'utf8');
  const encoded = key.slice(SECRET_PREFIX.length);
  if (!encoded || !BASE64.test(encoded)) throw new TypeError(`[${fn}] a key starting with "whsec_" must continue with base64 (standard alphabet, padded)`);
  return Buffer.from(encoded, 'base64');
}

function bodyBytes(fn: string, body: unknown): Buffer {
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (Buffer.isBuffer(body)) return body;
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  throw new TypeError(`[${fn}] body must be a string, Buffer or Uint8Array (the exact bytes sent)`);
}

function hmac(key: Buffer, id: string, timestamp: number, body: Buffer): string {
  return createHmac('sha256', key).update(`${id}.${timestamp}.`, 'utf8').update(body).digest('base64');
}

/**
 * `v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`: the `webhook-signature` value for these exact bytes.
 * `key` is a `signatureKey` (see above) or key bytes from `standardWebhookKey`; `timestamp` in whole Unix seconds.
 */
export function signStandardWebhook(key: string | Buffer, id: string, timestamp: number, body: string | Uint8Array): string {
  const fn = 'signStandardWebhook';
  const k = standardWebhookKey(key, fn);
  if (typeof id !== 'string' || id === '') throw new TypeError(`[${fn}] id must be a non-empty string`);
  if (!Number.isInteger(timestamp) || timestamp < 0) throw new TypeError(`[${fn}] timestamp must be whole Unix seconds`);
  return `v1,${hmac(k, id, timestamp, bodyBytes(fn, body))}`;
}

export interface StandardWebhookVerifyOptions {
  /** Largest accepted distance between `webhook-timestamp` and now, seconds; default 300. */
  toleranceSeconds?: number;
  /** The receiver's clock, ms (default `Date.now()`). */
  nowMs?: number;
}

type HeaderBag = Record<string, string | string[] | undefined | null> | { get(name: string): string | null };

function header(headers: HeaderBag, name: string): string | undefined {
  if (typeof (headers as { get?: unknown }).get === 'function') return (headers as { get(n: string): string | null }).get(name) ?? undefined;
  const bag = headers as Record<string, string | string[] | undefined | null>;
  let value = bag[name];
  if (value === undefined) {
    const found = Object.keys(bag).find((k) => k.toLowerCase() === name);
    value = found === undefined ? undefined : bag[found];
  }
  const first = Array.isArray(value) ? value[0] : value;
  return typeof first === 'string' ? first : undefined;
}

/**
 * Receiver-side check of a Standard Webhooks request (the sibling of `verifyElementsSignature`): true when the
 * `webhook-timestamp` is within the tolerance of now (default ±5 minutes: a captured request replayed later fails)
 * and one of the `v1,` values of `webhook-signature` signs `webhook-id`, that timestamp and `rawBody` (the exact
 * bytes received) under `key`. `headers` is Node's `req.headers` (or any record, any case) or a fetch `Headers`.
 * A missing, malformed or stale header gives false; a missing key or body throws a TypeError. Within the tolerance
 * a replay still verifies: de-duplicate on `webhook-id`.
 */
export function verifyStandardWebhookSignature(
  key: string | Buffer,
  rawBody: string | Uint8Array,
  headers: HeaderBag,
  options: StandardWebhookVerifyOptions = {},
): boolean {
  const fn = 'verifyStandardWebhookSignature';
  const k = standardWebhookKey(key, fn);
  const bytes = bodyBytes(fn, rawBody);
  if (!headers || typeof headers !== 'object') return false;
  const id = header(headers, STANDARD_WEBHOOK_ID_HEADER);
  const stamp = header(headers, STANDARD_WEBHOOK_TIMESTAMP_HEADER);
  const signatures = header(headers, STANDARD_WEBHOOK_SIGNATURE_HEADER);
  if (!id || !stamp || !signatures || !/^\d{1,15}$/.test(stamp.trim())) return false;
  const timestamp = Number(stamp.trim());
  const tolerance = options.toleranceSeconds ?? STANDARD_WEBHOOK_TOLERANCE_SECONDS;
  const now = Math.floor((options.nowMs ?? Date.now()) / 1000);
  if (Math.abs(now - timestamp) > tolerance) return false;
  const expected = Buffer.from(hmac(k, id, timestamp, bytes), 'utf8');
  let ok = false;
  for (const versioned of signatures.split(' ')) {
    const comma = versioned.indexOf(',');
    if (comma < 0 || versioned.slice(0, comma) !== 'v1') continue;
    const given = Buffer.from(versioned.slice(comma + 1), 'utf8');
    if (given.length === expected.length && timingSafeEqual(given, expected)) ok = true;
  }
  return ok;
}
