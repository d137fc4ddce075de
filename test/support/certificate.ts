/**
 * A self-signed X.509 certificate for rich-notification tests ("Set up change notifications that include resource
 * data": `encryptionCertificate` is the base64 DER of a certificate), made with `selfsigned`, no openssl needed.
 */
import { generate } from 'selfsigned';

export interface TestCertificate {
  /** PEM private key (the node's `encryptionPrivateKey` credential). */
  privateKeyPem: string;
  /** PEM certificate (what a user pastes in the dialog). */
  certificatePem: string;
  /** Base64 DER of the certificate (what Graph wants). */
  certificateBase64: string;
  /** PEM public key alone (refused: not a certificate). */
  publicKeyPem: string;
}

export async function testCertificate(keySize = 2048): Promise<TestCertificate> {
  const made = await generate([{ name: 'commonName', value: 'node-red-ms365 test' }], { keySize, algorithm: 'sha256' });
  return {
    privateKeyPem: made.private,
    certificatePem: made.cert,
    certificateBase64: made.cert.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''),
    publicKeyPem: made.public,
  };
}
