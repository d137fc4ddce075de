/**
 * Who signed in, read from the `id_token` of a token response. The token comes straight from the token endpoint
 * over TLS, so its signature need not be checked to use its claims (OpenID Connect Core 1.0 §3.1.3.7, item 6).
 */
export interface IdTokenClaims {
  preferred_username?: string;
  name?: string;
  email?: string;
  oid?: string;
  tid?: string;
}

/** The claims of a compact JWT, or undefined if it is not one. */
export function decodeIdToken(idToken: string | undefined): IdTokenClaims | undefined {
  if (!idToken) return undefined;
  const parts = idToken.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    return claims && typeof claims === 'object' ? (claims as IdTokenClaims) : undefined;
  } catch {
    return undefined;
  }
}

/** The account to show as "signed in as ...": `preferred_username`, else email, else name. */
export function accountOf(idToken: string | undefined): string | undefined {
  const claims = decodeIdToken(idToken);
  return claims?.preferred_username ?? claims?.email ?? claims?.name;
}
