/**
 * The simulated Graph's side of rich notifications (`reference/graph.md` §4, §10 item 7): the inverse of
 * `src/core/webhooks/rich-notifications.ts`. A random 32-byte key per item; AES-256-CBC (IV = key[0..16], PKCS7)
 * of the resource JSON; HMAC-SHA256 over the ciphertext bytes; the key RSA-OAEP (SHA-1) encrypted with the
 * subscriber's certificate.
 *
 * `encryptionCertificate` must be what "Create subscription" asks for: the base64 encoding of an X.509 certificate
 * (DER) whose key is RSA of 2048 to 4096 bits ("Set up change notifications that include resource data"). A PEM text
 * (with `-----BEGIN` lines) or a bare public key is refused, as the harsher plausible reading.
 */
import { X509Certificate, constants, createCipheriv, createHmac, publicEncrypt, randomBytes, type KeyObject } from 'node:crypto';

export interface EncryptionKey {
  publicKey: KeyObject;
  /** SHA-1 thumbprint, upper-case hex (as Graph echoes `encryptionCertificateThumbprint`). */
  thumbprint: string;
}

/** The public key of a subscription's `encryptionCertificate`, or undefined when it is not one Graph takes. */
export function encryptionKeyOf(certificate: string): EncryptionKey | undefined {
  const text = certificate.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return undefined;
  try {
    const cert = new X509Certificate(Buffer.from(text, 'base64'));
    const bits = cert.publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
    if (cert.publicKey.asymmetricKeyType !== 'rsa' || bits < 2048 || bits > 4096) return undefined;
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
