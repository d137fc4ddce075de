/**
 * Rich notifications (change notifications with resource data, `reference/graph.md` §4, §10 item 7): decrypting an
 * item's `encryptedContent` and validating the batch's `validationTokens`. Pure: node:crypto only, no I/O except
 * the JWKS fetch function the caller passes in.
 *
 * Decrypt (§4): `key = RSA-OAEP(SHA-1/MGF1)-decrypt(dataKey)`; check `base64(HMAC-SHA256(key, data)) == dataSignature`
 * (constant time), else `tampered_notification`; `AES-256-CBC(key, iv = key[0..16], PKCS7)` of `data` → resource JSON.
 *
 * Validation tokens (§4): each JWT is RS256-signed by a key of the authority's JWKS, not expired, `aud` = our app
 * (client) id, `iss` = `https://sts.windows.net/{tenantId}/` for one of our tenants, `appid` = the Graph
 * notification publisher `0bf30f3b-4a52-48df-9a82-234910c4a086`.
 */
import { createDecipheriv, createHmac, createPublicKey, createVerify, privateDecrypt, timingSafeEqual, constants } from 'node:crypto';
import { Ms365Error } from '../errors';

/** The Graph change-notification publisher's app id (`reference/graph.md` §4). */
export const GRAPH_NOTIFICATION_PUBLISHER_APP_ID = '0bf30f3b-4a52-48df-9a82-234910c4a086';

export interface EncryptedContent {
  data: string;
  dataSignature: string;
  dataKey: string;
  encryptionCertificateId?: string;
  encryptionCertificateThumbprint?: string;
}

/** A JSON Web Key as published in a JWKS (`kid`, `kty`, `n`, `e`, ...). */
export interface Jwk {
  kid?: string;
  kty?: string;
  [name: string]: unknown;
}

export interface Jwks {
  keys: Jwk[];
}

export function isEncryptedContent(value: unknown): value is EncryptedContent {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.data === 'string' && typeof v.dataSignature === 'string' && typeof v.dataKey === 'string';
}

/** Decrypts one item's `encryptedContent` to the resource JSON object; throws `Ms365Error` (never quotes the key). */
export function decryptResourceData(encryptedContent: EncryptedContent, privateKeyPem: string): Record<string, unknown> {
  if (!isEncryptedContent(encryptedContent)) {
    throw new Ms365Error('invalid_notification', 'encryptedContent must have data, dataSignature and dataKey.');
  }
  let key: Buffer;
  try {
    key = privateDecrypt({ key: privateKeyPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, Buffer.from(encryptedContent.dataKey, 'base64'));
  } catch (err) {
    throw new Ms365Error('decryption_failed', 'Cannot decrypt the notification key with the configured private key (wrong key or certificate?).', { cause: err });
  }
  if (key.length !== 32) throw new Ms365Error('decryption_failed', 'The notification key is not a 256-bit AES key.');
  const data = Buffer.from(encryptedContent.data, 'base64');
  const expected = createHmac('sha256', key).update(data).digest();
  const given = Buffer.from(encryptedContent.dataSignature, 'base64');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new Ms365Error('tampered_notification', 'The notification data signature does not match: the content was altered.');
  }
  let text: string;
  try {
    const decipher = createDecipheriv('aes-256-cbc', key, key.subarray(0, 16));
    text = Buffer.concat([decipher.update(data), decipher.final()]).toString('utf8');
  } catch (err) {
    throw new Ms365Error('decryption_failed', 'Cannot decrypt the notification data.', { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Ms365Error('decryption_failed', 'The decrypted notification data is not JSON.', { cause: err });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Ms365Error('decryption_failed', 'The decrypted notification data is not a JSON object.');
  }
  return parsed as Record<string, unknown>;
}

export interface ValidationTokenOptions {
  /** Our app (client) id: the tokens' `aud`. */
  appId: string;
  /** Tenants we accept in `iss` (`https://sts.windows.net/{tenantId}/`). */
  tenantIds: string[];
  /** Fetches the authority's JWKS (the caller caches it). */
  jwks: () => Promise<Jwks>;
  /** Now in ms (default `Date.now()`). */
  now?: number;
  /** Clock skew allowed on `exp`/`nbf`, seconds (default 300). */
  clockSkewSeconds?: number;
}

/**
 * Validates every token of a batch's `validationTokens`; resolves when all are valid, otherwise rejects with
 * `Ms365Error('invalid_validation_token')` whose message says which check failed (never the token itself).
 */
export async function validateValidationTokens(tokens: unknown, options: ValidationTokenOptions): Promise<void> {
  if (!Array.isArray(tokens) || tokens.length === 0) throw invalid('validationTokens is missing or empty.');
  let jwks: Jwks | undefined;
  for (const token of tokens) {
    if (typeof token !== 'string') throw invalid('a validation token is not a string.');
    const parts = token.split('.');
    if (parts.length !== 3) throw invalid('a validation token is not a compact JWT.');
    const header = decodePart(parts[0], 'header');
    const payload = decodePart(parts[1], 'payload');
    if (header.alg !== 'RS256') throw invalid(`unsupported signing algorithm '${String(header.alg)}'.`);
    jwks ??= await options.jwks();
    const candidates = jwks.keys.filter((k) => k.kty === 'RSA' && (header.kid === undefined || k.kid === header.kid));
    if (candidates.length === 0) throw invalid('no key of the authority JWKS matches the token (kid).');
    const input = `${parts[0]}.${parts[1]}`;
    const signature = Buffer.from(parts[2], 'base64url');
    const verified = candidates.some((jwk) => {
      try {
        const key = createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
        return createVerify('RSA-SHA256').update(input).verify(key, signature);
      } catch {
        return false;
      }
    });
    if (!verified) throw invalid('the signature does not verify.');
    const now = Math.floor((options.now ?? Date.now()) / 1000);
    const skew = options.clockSkewSeconds ?? 300;
    if (typeof payload.exp !== 'number' || payload.exp + skew < now) throw invalid('the token has expired.');
    if (typeof payload.nbf === 'number' && payload.nbf - skew > now) throw invalid('the token is not valid yet.');
    const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    if (!aud.includes(options.appId)) throw invalid('the audience is not this app.');
    const issuers = options.tenantIds.map((t) => `https://sts.windows.net/${t}/`);
    if (typeof payload.iss !== 'string' || !issuers.includes(payload.iss)) throw invalid('the issuer is not one of our tenants.');
    if (payload.appid !== GRAPH_NOTIFICATION_PUBLISHER_APP_ID) throw invalid('the token was not issued to the Graph notification publisher.');
  }
}

function decodePart(part: string, what: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw invalid(`the token ${what} is not JSON.`);
}

function invalid(reason: string): Ms365Error {
  return new Ms365Error('invalid_validation_token', `Invalid notification validation token: ${reason}`);
}
