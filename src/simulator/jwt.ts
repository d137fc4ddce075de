/**
 * Signing keys of one simulated tenant: an RSA key pair per simulator (rotated on request, the old key kept published
 * for a while), published as a JWKS at
 * `/common/discovery/v2.0/keys` and `/{tenant}/discovery/v2.0/keys` (with an OpenID configuration pointing at it),
 * and `signJwt(state, payload)` for RS256 JWTs: the identity platform's `id_token`s and Graph's signed
 * `validationTokens` of rich notifications (`reference/graph.md` §4, §10 item 7).
 */
import { createSign, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import type { Express } from 'express';
import type { SimState } from './state';

interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** A rotated-out key stays published until then (simulated clock, ms); undefined for the current key. */
  retiresAt?: number;
}

interface KeyRing {
  current: SigningKey;
  previous: SigningKey[];
}

const rings = new WeakMap<SimState, KeyRing>();

function newKey(): SigningKey {
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid: randomBytes(12).toString('base64url'), privateKey: pair.privateKey, publicKey: pair.publicKey };
}

function ring(state: SimState): KeyRing {
  let keys = rings.get(state);
  if (!keys) {
    keys = { current: newKey(), previous: [] };
    rings.set(state, keys);
  }
  return keys;
}

/** The simulator's current signing key (created on first use, one per SimState). */
export function signingKey(state: SimState): SigningKey {
  return ring(state).current;
}

/**
 * Rotate the signing key, as the identity platform does about daily ("Signing key rollover in the Microsoft identity
 * platform"): tokens are signed with a new key at once; the old key stays published in the key set for
 * `keepOldMs` (simulated clock) so tokens it signed still verify. Returns the new key id.
 */
export function rotateSigningKey(state: SimState, keepOldMs = 24 * 3600_000): string {
  const keys = ring(state);
  keys.previous.push({ ...keys.current, retiresAt: state.clock.now() + keepOldMs });
  keys.current = newKey();
  return keys.current.kid;
}

/** The published keys, current first, then rotated-out keys not yet retired, as a JSON Web Key Set. */
export function publicJwks(state: SimState): { keys: Array<Record<string, unknown>> } {
  const keys = ring(state);
  const now = state.clock.now();
  keys.previous = keys.previous.filter((k) => (k.retiresAt ?? 0) > now);
  return {
    keys: [keys.current, ...keys.previous].map((key) => {
      const jwk = key.publicKey.export({ format: 'jwk' }) as { n: string; e: string };
      return { kty: 'RSA', use: 'sig', kid: key.kid, x5t: key.kid, n: jwk.n, e: jwk.e, issuer: issuer(state, state.tenantId) };
    }),
  };
}

/** `https://login.microsoftonline.com/{tid}/v2.0` on the simulator. */
export function issuer(state: SimState, tenantId: string): string {
  return `${state.baseUrl}/${tenantId}/v2.0`;
}

/** An RS256 compact JWT signed with the simulator's key; `iat`/`nbf` default to the simulated clock. */
export function signJwt(state: SimState, payload: Record<string, unknown>, header: Record<string, unknown> = {}): string {
  const key = signingKey(state);
  const now = Math.floor(state.clock.now() / 1000);
  const fullHeader = { typ: 'JWT', alg: 'RS256', kid: key.kid, x5t: key.kid, ...header };
  const body = { iat: now, nbf: now, ...payload };
  const input = `${b64(fullHeader)}.${b64(body)}`;
  const signature = createSign('RSA-SHA256').update(input).sign(key.privateKey).toString('base64url');
  return `${input}.${signature}`;
}

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** JWKS and OpenID configuration routes. */
export function registerJwks(app: Express, state: SimState): void {
  app.get('/:tenant/discovery/v2.0/keys', (_req, res) => {
    res.json(publicJwks(state));
  });
  app.get('/:tenant/v2.0/.well-known/openid-configuration', (req, res) => {
    const tenant = req.params.tenant;
    const base = `${state.baseUrl}/${tenant}`;
    res.json({
      issuer: issuer(state, tenant === 'common' || tenant === 'organizations' || tenant === 'consumers' ? '{tenantid}' : state.tenantId),
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      token_endpoint: `${base}/oauth2/v2.0/token`,
      jwks_uri: `${base}/discovery/v2.0/keys`,
      response_types_supported: ['code', 'id_token', 'code id_token'],
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
      code_challenge_methods_supported: ['S256', 'plain'],
      tenant_region_scope: 'EU',
    });
  });
}
