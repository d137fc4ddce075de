/**
 * Rich notifications (change notifications with resource data, `reference/graph.md` §4, §10 item 7): decrypting an
 * item's `encryptedContent`. Pure: node:crypto only. The batch's `validationTokens` are checked by
 * `validation-tokens.ts` (jose).
 *
 * Decrypt (§4): `key = RSA-OAEP(SHA-1/MGF1)-decrypt(dataKey)`; check `base64(HMAC-SHA256(key, data)) == dataSignature`
 * (constant time), else `tampered_notification`; `AES-256-CBC(key, iv = key[0..16], PKCS7)` of `data` → resource JSON.
 */
import { createDecipheriv, createHmac, privateDecrypt, timingSafeEqual, constants } from 'node:crypto';
import { Ms365Error } from '../errors';

export interface EncryptedContent {
  data: string;
  dataSignature: string;
  dataKey: string;
  encryptionCertificateId?: string;
  encryptionCertificateThumbprint?: string;
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
