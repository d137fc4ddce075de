/**
 * PKCE (RFC 7636 §4.1, §4.2) with the `S256` method, and the random `state` of the authorization request.
 */
import { createHash, randomBytes } from 'node:crypto';

export interface Pkce {
  /** 43 characters of base64url (32 random bytes), sent with the token request. */
  verifier: string;
  /** BASE64URL(SHA256(verifier)), sent with the authorization request. */
  challenge: string;
  method: 'S256';
}

export function createPkce(): Pkce {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: pkceChallenge(verifier), method: 'S256' };
}

export function pkceChallenge(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

/** An unguessable single-use `state` value (32 random bytes). */
export function randomState(): string {
  return randomBytes(32).toString('base64url');
}
