/**
 * The Open Connectors callback signature (reference/open-connectors.md §2): header `Elements-Webhook-Signature`,
 * value `sha256=` + standard padded Base64 of HMAC-SHA256(utf8(key), exact raw body bytes). `sign` and `verify`
 * mirror each other; the comparison is constant-time after a length check (STYLE.md §7).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'Elements-Webhook-Signature';
export const WEBHOOK_ID_HEADER = 'Elements-Webhook-Id';
const PREFIX = 'sha256=';

function requireKey(fn: string, key: unknown): string {
  if (typeof key !== 'string' || key === '') throw new TypeError(`[${fn}] key must be a non-empty string`);
  return key;
}

function bodyBytes(fn: string, body: unknown): Buffer {
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (Buffer.isBuffer(body)) return body;
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  throw new TypeError(`[${fn}] body must be a string, Buffer or Uint8Array (the exact bytes sent)`);
}

/** `sha256=<base64 HMAC-SHA256(key, body)>`: the `Elements-Webhook-Signature` value for these exact bytes. */
export function signElementsBody(key: string, body: string | Uint8Array): string {
  const k = requireKey('signElementsBody', key);
  return PREFIX + createHmac('sha256', k).update(bodyBytes('signElementsBody', body)).digest('base64');
}

/**
 * Receiver-side check of an Open Connectors / ms365-callback-out notification: true when `header` (the
 * `Elements-Webhook-Signature` value) is the signature of `rawBody` (the exact bytes received, not re-serialized
 * JSON) under `key`. Constant-time; a missing or malformed header gives false, a missing key or body throws a
 * TypeError (a programming error, not a bad request). There is no replay protection in the scheme: de-duplicate on
 * `message.eventId` (reference/open-connectors.md §2).
 */
export function verifyElementsSignature(key: string, rawBody: string | Uint8Array, header: string | string[] | undefined | null): boolean {
  const k = requireKey('verifyElementsSignature', key);
  const bytes = bodyBytes('verifyElementsSignature', rawBody);
  const value = Array.isArray(header) ? header[0] : header;
  if (typeof value !== 'string' || !value.startsWith(PREFIX)) return false;
  const expected = Buffer.from(createHmac('sha256', k).update(bytes).digest('base64'), 'utf8');
  const given = Buffer.from(value.slice(PREFIX.length), 'utf8');
  if (given.length !== expected.length) return false;
  return timingSafeEqual(given, expected);
}
