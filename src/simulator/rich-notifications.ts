/**
 * The simulated Graph's side of rich notifications (`reference/graph.md` §4, §10 item 7): the inverse of
 * `src/core/webhooks/rich-notifications.ts`. A random 32-byte key per item; AES-256-CBC (IV = key[0..16], PKCS7)
 * of the resource JSON; HMAC-SHA256 over the ciphertext bytes; the key RSA-OAEP (SHA-1) encrypted with the
 * subscriber's certificate.
 *
 * Leniency on purpose: besides a base64 DER or PEM X.509 certificate, a PEM public key is accepted (tests without
 * `openssl`).
 */
import { X509Certificate, constants, createCipheriv, createHash, createHmac, createPublicKey, publicEncrypt, randomBytes, type KeyObject } from 'node:crypto';

export interface EncryptionKey {
  publicKey: KeyObject;
  /** SHA-1 thumbprint, upper-case hex (as Graph echoes `encryptionCertificateThumbprint`). */
  thumbprint: string;
}

/** The public key of a subscription's `encryptionCertificate`, or undefined when it is not one. */
export function encryptionKeyOf(certificate: string): EncryptionKey | undefined {
  const text = certificate.trim();
  try {
    if (/-----BEGIN PUBLIC KEY-----/.test(text)) {
      const publicKey = createPublicKey(text);
      const der = publicKey.export({ format: 'der', type: 'spki' });
      return { publicKey, thumbprint: createHash('sha1').update(der).digest('hex').toUpperCase() };
    }
    const cert = new X509Certificate(/-----BEGIN CERTIFICATE-----/.test(text) ? text : Buffer.from(text, 'base64'));
    if (cert.publicKey.asymmetricKeyType !== 'rsa') return undefined;
    return { publicKey: cert.publicKey, thumbprint: cert.fingerprint.replace(/:/g, '').toUpperCase() };
  } catch {
    return undefined;
  }
}

/** An item's `encryptedContent` for this resource. */
export function encryptedContentFor(resource: unknown, key: EncryptionKey, certificateId: string): Record<string, string> {
  const aesKey = randomBytes(32);
  const cipher = createCipheriv('aes-256-cbc', aesKey, aesKey.subarray(0, 16));
  const data = Buffer.concat([cipher.update(JSON.stringify(resource), 'utf8'), cipher.final()]);
  const dataSignature = createHmac('sha256', aesKey).update(data).digest('base64');
  const dataKey = publicEncrypt({ key: key.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, aesKey).toString('base64');
  return {
    data: data.toString('base64'),
    dataSignature,
    dataKey,
    encryptionCertificateId: certificateId,
    encryptionCertificateThumbprint: key.thumbprint,
  };
}
