/**
 * The simulated Microsoft identity platform v2 (`reference/graph.md` §8, §10 item 6):
 * - `GET /{tenant}/oauth2/v2.0/authorize`: automatic consent, 302 to `redirect_uri?code&state` (or `?error=`);
 *   PKCE `S256`/`plain`; codes are single-use and live 10 minutes.
 * - `POST /{tenant}/oauth2/v2.0/token`: `authorization_code`, `refresh_token` (rotation: a used refresh token is
 *   rejected, stricter than Microsoft so that a client keeping a stale one fails its tests), `client_credentials`
 *   (scope must be `<resource>/.default`, no refresh token). Refresh tokens only when `offline_access` was granted;
 *   `id_token` (RS256; `name` and `preferred_username` with `profile`) when `openid` was; `client_info` when asked. Errors carry the real AADSTS body shape.
 * - JWKS at `/{tenant}/discovery/v2.0/keys`, OpenID configuration at `/{tenant}/v2.0/.well-known/openid-configuration`
 *   (jwt.ts; `signJwt(state, payload)` signs id_tokens and Graph validation tokens with the same key).
 * Access tokens come from `state.accessTokens`, which the simulated Graph checks.
 *
 * Control API (JSON, loopback, no auth); the same operations in-process through `identityOf(state)`:
 * - `POST /_sim/identity/apps` `{clientId?, clientSecret?, displayName?, redirectUris?, appRoles?}` → 201 the app
 *   (default app: `SIM_CLIENT_ID` / `SIM_CLIENT_SECRET`, any loopback redirect URI, `DEFAULT_APP_ROLES`). Delegated
 *   tokens carry the Graph scopes the authorize request asked for (consent is automatic); app-only tokens the app's
 *   `appRoles`; the simulated Graph checks both (`graph/permissions.ts`).
 * - `POST /_sim/identity/faults` `{"kind": "revokeRefreshTokens"}` (next refresh: invalid_grant AADSTS50173),
 *   `{"kind": "tokenError", "error": "interaction_required|consent_required|invalid_grant|temporarily_unavailable|
 *   invalid_client|server_error", "count"?: n, "status"?: 5xx, "grantType"?: "refresh_token"}`,
 *   `{"kind": "authorizeError", "error"?: "access_denied"}`, `{"kind": "expireAccessTokens"}`, `{"kind": "revokeAccessTokens"}`.
 * - `DELETE /_sim/identity/faults`; `PUT /_sim/identity/access-token-lifetime` `{seconds}`;
 *   `PUT /_sim/identity/signed-in-user` `{user: id or UPN}`; `GET /_sim/identity/requests[?grantType=]` → `{value: [...]}`
 *   (time, grant type, client id, status, error: no secrets).
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import express, { type Express, type Request, type Response } from 'express';
import type { SimState, SimUser } from './state';
import { registerJwks, issuer, signJwt } from './jwt';

/** The default app registration every simulator knows (tests and the demo use it). */
export const SIM_CLIENT_ID = '6731de76-14a6-49ae-97bc-6eba6914391e';
export const SIM_CLIENT_SECRET = 'sim~client~secret~Q7x8Y9z0';

/** Authorization codes live about 10 minutes (§8). */
const CODE_LIFETIME_MS = 10 * 60_000;
/** Refresh tokens expire after 90 days of inactivity (§8). */
const REFRESH_INACTIVITY_MS = 90 * 24 * 3_600_000;
/** Scopes that are about sign-in, not about Graph. */
const OIDC_SCOPES = new Set(['openid', 'profile', 'email', 'offline_access']);
/**
 * App roles an admin granted to a simulated app unless it names its own: what the product needs app-only (polling
 * and subscriptions for mail, calendars, contacts and drives, `reference/graph.md` §11.6; drive subscriptions need
 * Files.ReadWrite.All).
 */
export const DEFAULT_APP_ROLES: readonly string[] = ['Mail.Read', 'Calendars.Read', 'Contacts.Read', 'Files.ReadWrite.All', 'User.Read.All'];
/** Delegated permissions configured on a simulated app unless it names its own (granted by a `.default` request). */
export const DEFAULT_DELEGATED_PERMISSIONS: readonly string[] = ['User.Read', 'Mail.Read', 'Calendars.Read', 'Contacts.Read', 'Files.ReadWrite.All'];

export interface SimApp {
  clientId: string;
  clientSecret: string;
  displayName: string;
  /** Exact redirect URIs; `http://localhost` / `http://127.0.0.1` URIs match on any port (as Microsoft does). */
  redirectUris: string[];
  /** Accept any loopback redirect URI (the default app: test servers listen on random ports). */
  anyLoopbackRedirect: boolean;
  /** Application permissions granted with admin consent: the `roles` of its app-only tokens. */
  appRoles: string[];
  /** Delegated permissions configured on the registration: what a `.default` scope request grants. */
  delegatedPermissions: string[];
}

interface AuthCode {
  clientId: string;
  redirectUri: string;
  scopes: string[];
  userId: string;
  tenantId: string;
  codeChallenge?: string;
  codeChallengeMethod?: string;
  nonce?: string;
  expiresAt: number;
  used: boolean;
}

interface RefreshTokenRecord {
  clientId: string;
  userId: string;
  tenantId: string;
  scopes: string[];
  lastUsedAt: number;
  used: boolean;
  revoked: boolean;
}

/** The OAuth error codes the token endpoint can be made to answer (one-shot faults). */
export type TokenFaultError =
  | 'invalid_grant'
  | 'interaction_required'
  | 'consent_required'
  | 'temporarily_unavailable'
  | 'invalid_client'
  | 'server_error';

export interface TokenFault {
  error: TokenFaultError;
  /** HTTP status; default 400 (500 for server_error, 503 for temporarily_unavailable). */
  status?: number;
  /** How many token requests fail this way; default 1. */
  count?: number;
  /** Only requests of this grant type fail. */
  grantType?: string;
}

/** One token endpoint request, as the control API reports it (no secrets). */
export interface TokenRequestLogEntry {
  at: number;
  grantType: string;
  clientId: string;
  status: number;
  error?: string;
}

const FAULT_DEFAULTS: Record<TokenFaultError, { status: number; aadsts: number; description: string }> = {
  invalid_grant: {
    status: 400,
    aadsts: 50173,
    description: 'The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.',
  },
  interaction_required: {
    status: 400,
    aadsts: 50076,
    description: 'Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access the resource.',
  },
  consent_required: {
    status: 400,
    aadsts: 65001,
    description: 'The user or administrator has not consented to use the application. Send an interactive authorization request for this user and resource.',
  },
  temporarily_unavailable: { status: 503, aadsts: 90033, description: 'A transient error has occurred. Please try again.' },
  invalid_client: { status: 401, aadsts: 7000222, description: 'The provided client secret keys for app are expired.' },
  server_error: { status: 500, aadsts: 90100, description: 'An internal server error occurred.' },
};

/** The identity platform's state for one simulator. */
export class SimIdentity {
  readonly apps = new Map<string, SimApp>();
  readonly codes = new Map<string, AuthCode>();
  readonly refreshTokens = new Map<string, RefreshTokenRecord>();
  readonly tokenLog: TokenRequestLogEntry[] = [];
  private readonly faults: Array<Required<Pick<TokenFault, 'error' | 'status' | 'count'>> & { grantType?: string }> = [];
  /** Answer the next authorize request with `?error=` (e.g. `access_denied`). */
  authorizeError?: { error: string; description: string };
  /** The user who "signs in" at the authorize endpoint when no `login_hint` names another. */
  signedInUserId: string;

  constructor(private readonly state: SimState) {
    this.signedInUserId = state.defaultUser.id;
    this.registerApp({ clientId: SIM_CLIENT_ID, clientSecret: SIM_CLIENT_SECRET, displayName: 'Node-RED MS365 events (simulator)', anyLoopbackRedirect: true });
  }

  registerApp(init: Partial<SimApp> = {}): SimApp {
    const app: SimApp = {
      clientId: init.clientId ?? randomUUID(),
      clientSecret: init.clientSecret ?? `sim~${randomBytes(18).toString('base64url')}`,
      displayName: init.displayName ?? 'Simulated app',
      redirectUris: init.redirectUris ?? [],
      anyLoopbackRedirect: init.anyLoopbackRedirect ?? (init.redirectUris === undefined || init.redirectUris.length === 0),
      appRoles: init.appRoles ?? [...DEFAULT_APP_ROLES],
      delegatedPermissions: init.delegatedPermissions ?? [...DEFAULT_DELEGATED_PERMISSIONS],
    };
    this.apps.set(app.clientId, app);
    return app;
  }

  /** Fault: revoke every refresh token issued so far (next refresh → `invalid_grant` AADSTS50173). */
  revokeRefreshTokens(): number {
    let n = 0;
    for (const record of this.refreshTokens.values()) {
      if (!record.revoked) n++;
      record.revoked = true;
    }
    return n;
  }

  injectTokenFault(fault: TokenFault): void {
    const defaults = FAULT_DEFAULTS[fault.error];
    this.faults.push({ error: fault.error, status: fault.status ?? defaults.status, count: fault.count ?? 1, grantType: fault.grantType });
  }

  /** Forget codes, refresh tokens, the request log, faults and registered apps (the default app stays). */
  reset(): void {
    this.codes.clear();
    this.refreshTokens.clear();
    this.tokenLog.length = 0;
    this.clearFaults();
    for (const id of [...this.apps.keys()]) if (id !== SIM_CLIENT_ID) this.apps.delete(id);
    this.signedInUserId = this.state.defaultUser.id;
  }

  clearFaults(): void {
    this.faults.length = 0;
    this.authorizeError = undefined;
  }

  /** Token requests of one grant type (or all), in order. */
  requests(grantType?: string): TokenRequestLogEntry[] {
    return grantType ? this.tokenLog.filter((e) => e.grantType === grantType) : [...this.tokenLog];
  }

  takeFault(grantType: string): { error: TokenFaultError; status: number } | undefined {
    const index = this.faults.findIndex((f) => !f.grantType || f.grantType === grantType);
    if (index < 0) return undefined;
    const fault = this.faults[index];
    fault.count -= 1;
    if (fault.count <= 0) this.faults.splice(index, 1);
    return { error: fault.error, status: fault.status };
  }

  user(): SimUser {
    return this.state.findUser(this.signedInUserId) ?? this.state.defaultUser;
  }
}

const identities = new WeakMap<SimState, SimIdentity>();

/** The identity platform of a simulator (created on first use). */
export function identityOf(state: SimState): SimIdentity {
  let identity = identities.get(state);
  if (!identity) {
    identity = new SimIdentity(state);
    identities.set(state, identity);
  }
  return identity;
}

/** An error answer of the token endpoint, in Microsoft's shape (§8). */
export function aadError(state: SimState, error: string, aadsts: number, description: string): Record<string, unknown> {
  const traceId = randomUUID();
  const correlationId = randomUUID();
  // "2016-01-09 02:02:12Z": whole seconds, a space before the time (the error samples of "Microsoft identity platform
  // and OAuth 2.0 authorization code flow").
  const timestamp = `${new Date(state.clock.now()).toISOString().slice(0, 19).replace('T', ' ')}Z`;
  return {
    error,
    error_description: `AADSTS${aadsts}: ${description}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${timestamp}`,
    error_codes: [aadsts],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `${state.baseUrl}/error?code=${aadsts}`,
  };
}

class TokenEndpointError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly aadsts: number,
    readonly description: string,
  ) {
    super(error);
  }
}

function isKnownTenant(state: SimState, tenant: string): boolean {
  const t = tenant.toLowerCase();
  return ['common', 'organizations', 'consumers', state.tenantId, 'contoso.example', 'contoso.onmicrosoft.com'].includes(t);
}

function splitScopes(scope: unknown): string[] {
  return typeof scope === 'string' ? scope.split(' ').filter((s) => s.length > 0) : [];
}

/** `https://graph.microsoft.com/Mail.Read` → `Mail.Read`; OIDC scopes stay as they are. */
function shortScope(scope: string): string {
  const match = /^https:\/\/graph\.microsoft\.com\/(.+)$/i.exec(scope);
  return match ? match[1] : scope;
}

function redirectAllowed(app: SimApp, uri: string): boolean {
  if (app.redirectUris.includes(uri)) return true;
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return false;
  }
  const loopback = url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (!loopback) return false;
  if (app.anyLoopbackRedirect) return true;
  // Microsoft ignores the port of loopback redirect URIs.
  return app.redirectUris.some((registered) => {
    try {
      const r = new URL(registered);
      return r.hostname === url.hostname && r.pathname === url.pathname && r.protocol === url.protocol;
    } catch {
      return false;
    }
  });
}

function safeEqual(a: string, b: string): boolean {
  const ba = Buffer.from(a);
  const bb = Buffer.from(b);
  return ba.length === bb.length && timingSafeEqual(ba, bb);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function stringParam(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

export function registerIdentity(app: Express, state: SimState): void {
  const identity = identityOf(state);
  registerJwks(app, state);
  const form = express.urlencoded({ extended: false, limit: '64kb' });
  const json = express.json({ limit: '64kb' });

  // --- authorize -------------------------------------------------------------------------------------------
  app.get('/:tenant/oauth2/v2.0/authorize', (req: Request, res: Response) => {
    const q = req.query;
    const tenant = req.params.tenant;
    const clientId = stringParam(q.client_id);
    const redirectUri = stringParam(q.redirect_uri);
    const errorPage = (aadsts: number, message: string) =>
      res.status(400).type('html').send(`<!doctype html><title>Sign in</title><p>AADSTS${aadsts}: ${escapeHtml(message)}</p>`);
    if (!isKnownTenant(state, tenant)) return errorPage(90002, `Tenant '${tenant}' not found.`);
    const registered = clientId ? identity.apps.get(clientId) : undefined;
    if (!registered) return errorPage(700016, `Application with identifier '${clientId ?? ''}' was not found in the directory.`);
    if (!redirectUri || !redirectAllowed(registered, redirectUri)) {
      return errorPage(50011, `The redirect URI '${redirectUri ?? ''}' specified in the request does not match the redirect URIs configured for the application.`);
    }
    const target = new URL(redirectUri);
    const stateParam = stringParam(q.state);
    const redirectWith = (params: Record<string, string>) => {
      for (const [k, v] of Object.entries(params)) target.searchParams.set(k, v);
      if (stateParam !== undefined) target.searchParams.set('state', stateParam);
      res.redirect(302, target.toString());
    };
    if (q.response_type !== 'code') {
      return redirectWith({ error: 'unsupported_response_type', error_description: 'AADSTS700054: response_type must be code.' });
    }
    const scopes = splitScopes(q.scope);
    if (scopes.length === 0) {
      return redirectWith({ error: 'invalid_request', error_description: "AADSTS900144: The request body must contain the following parameter: 'scope'." });
    }
    const method = stringParam(q.code_challenge_method) ?? (q.code_challenge ? 'plain' : undefined);
    if (method && method !== 'S256' && method !== 'plain') {
      return redirectWith({ error: 'invalid_request', error_description: 'AADSTS501491: Invalid code_challenge_method.' });
    }
    if (identity.authorizeError) {
      const { error, description } = identity.authorizeError;
      identity.authorizeError = undefined;
      return redirectWith({ error, error_description: description });
    }
    const hint = stringParam(q.login_hint);
    const user = (hint && state.findUser(hint)) || identity.user();
    const code = `sim-code-${randomBytes(24).toString('base64url')}`;
    identity.codes.set(code, {
      clientId: registered.clientId,
      redirectUri,
      scopes,
      userId: user.id,
      tenantId: state.tenantId,
      codeChallenge: stringParam(q.code_challenge),
      codeChallengeMethod: method,
      nonce: stringParam(q.nonce),
      expiresAt: state.clock.now() + CODE_LIFETIME_MS,
      used: false,
    });
    redirectWith({ code, session_state: randomUUID() });
  });

  // --- token -----------------------------------------------------------------------------------------------
  app.post('/:tenant/oauth2/v2.0/token', form, (req: Request, res: Response) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const grantType = stringParam(body.grant_type) ?? '';
    let clientId = stringParam(body.client_id);
    let clientSecret = stringParam(body.client_secret);
    const basic = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (basic) {
      const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) {
        clientId = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '));
        clientSecret = decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' '));
      }
    }
    const log = (status: number, error?: string) => identity.tokenLog.push({ at: state.clock.now(), grantType, clientId: clientId ?? '', status, error });
    try {
      const tenant = req.params.tenant;
      if (!isKnownTenant(state, tenant)) throw new TokenEndpointError(400, 'invalid_request', 90002, `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`);
      if (!grantType) throw new TokenEndpointError(400, 'invalid_request', 900144, "The request body must contain the following parameter: 'grant_type'.");
      const registered = clientId ? identity.apps.get(clientId) : undefined;
      if (!registered) throw new TokenEndpointError(400, 'unauthorized_client', 700016, `Application with identifier '${clientId ?? ''}' was not found in the directory '${tenant}'.`);
      if (!clientSecret || !safeEqual(clientSecret, registered.clientSecret)) {
        throw new TokenEndpointError(401, 'invalid_client', 7000215, 'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.');
      }
      const fault = identity.takeFault(grantType);
      if (fault) {
        const d = FAULT_DEFAULTS[fault.error];
        throw new TokenEndpointError(fault.status, fault.error, d.aadsts, d.description);
      }
      let answer: Record<string, unknown>;
      if (grantType === 'client_credentials') answer = clientCredentials(tenant, registered, body);
      else if (grantType === 'authorization_code') answer = authorizationCode(registered, body);
      else if (grantType === 'refresh_token') answer = refreshToken(registered, body);
      else throw new TokenEndpointError(400, 'unsupported_grant_type', 70003, `The app requested an unsupported grant type '${grantType}'.`);
      log(200);
      res.set('Cache-Control', 'no-store').json(answer);
    } catch (err) {
      if (!(err instanceof TokenEndpointError)) throw err;
      log(err.status, err.error);
      res.status(err.status).set('Cache-Control', 'no-store').json(aadError(state, err.error, err.aadsts, err.description));
    }
  });

  function clientCredentials(tenant: string, registered: SimApp, body: Record<string, unknown>): Record<string, unknown> {
    if (['common', 'organizations', 'consumers'].includes(tenant.toLowerCase())) {
      throw new TokenEndpointError(400, 'invalid_request', 900023, `Specified tenant identifier '${tenant}' is neither a valid DNS name, nor a valid external domain.`);
    }
    const scopes = splitScopes(body.scope);
    if (scopes.length !== 1 || !scopes[0].endsWith('/.default')) {
      throw new TokenEndpointError(400, 'invalid_scope', 1002012, `The provided value for scope ${scopes.join(' ')} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`);
    }
    const issued = state.accessTokens.issue({ clientId: registered.clientId, tenantId: state.tenantId, scopes: [], roles: [...registered.appRoles], appOnly: true });
    return { token_type: 'Bearer', expires_in: issued.expiresIn, ext_expires_in: issued.expiresIn, access_token: issued.token };
  }

  function authorizationCode(registered: SimApp, body: Record<string, unknown>): Record<string, unknown> {
    const code = stringParam(body.code);
    if (!code) throw new TokenEndpointError(400, 'invalid_request', 900144, "The request body must contain the following parameter: 'code'.");
    const record = identity.codes.get(code);
    if (!record || record.clientId !== registered.clientId) {
      throw new TokenEndpointError(400, 'invalid_grant', 9002313, 'Invalid request. Request is malformed or invalid: the authorization code is not valid.');
    }
    if (record.used) throw new TokenEndpointError(400, 'invalid_grant', 54005, 'OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.');
    if (record.expiresAt <= state.clock.now()) {
      throw new TokenEndpointError(400, 'invalid_grant', 70008, 'The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.');
    }
    record.used = true;
    if (stringParam(body.redirect_uri) !== record.redirectUri) {
      throw new TokenEndpointError(400, 'invalid_grant', 50148, 'The redirect_uri specified in the token request does not match the redirect_uri used in the authorization request.');
    }
    if (record.codeChallenge) {
      const verifier = stringParam(body.code_verifier);
      if (!verifier) throw new TokenEndpointError(400, 'invalid_request', 50148, 'The code_verifier is missing for a request with a code_challenge.');
      const computed = record.codeChallengeMethod === 'S256' ? createHash('sha256').update(verifier).digest('base64url') : verifier;
      if (!safeEqual(computed, record.codeChallenge)) {
        throw new TokenEndpointError(400, 'invalid_grant', 501481, 'The Code_Verifier does not match the code_challenge supplied in the authorization request.');
      }
    }
    return grantTokens(registered, record.userId, record.tenantId, record.scopes, { nonce: record.nonce, clientInfo: body.client_info === '1' });
  }

  function refreshToken(registered: SimApp, body: Record<string, unknown>): Record<string, unknown> {
    const token = stringParam(body.refresh_token);
    if (!token) throw new TokenEndpointError(400, 'invalid_request', 900144, "The request body must contain the following parameter: 'refresh_token'.");
    const record = identity.refreshTokens.get(token);
    if (!record || record.clientId !== registered.clientId) {
      throw new TokenEndpointError(400, 'invalid_grant', 9002313, 'Invalid request. Request is malformed or invalid: the refresh token is not valid.');
    }
    if (record.revoked) {
      throw new TokenEndpointError(400, 'invalid_grant', 50173, 'The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.');
    }
    if (record.used) {
      throw new TokenEndpointError(400, 'invalid_grant', 70000, 'The provided value for the input parameter \'refresh_token\' is not valid: it has already been redeemed (the simulator rejects rotated refresh tokens).');
    }
    if (record.lastUsedAt + REFRESH_INACTIVITY_MS <= state.clock.now()) {
      throw new TokenEndpointError(400, 'invalid_grant', 700082, `The refresh token has expired due to inactivity. The token was issued on ${new Date(record.lastUsedAt).toISOString()} and was inactive for 90.00:00:00.`);
    }
    const requested = splitScopes(body.scope);
    const granted = new Set(record.scopes.map(shortScope));
    const missing = requested.filter((s) => !OIDC_SCOPES.has(s) && !granted.has(shortScope(s)));
    if (missing.length > 0) {
      throw new TokenEndpointError(400, 'consent_required', 65001, `The user or administrator has not consented to use the application for the scopes ${missing.join(' ')}.`);
    }
    record.used = true;
    return grantTokens(registered, record.userId, record.tenantId, record.scopes, { clientInfo: body.client_info === '1' });
  }

  /**
   * A user token answer. `clientInfo`: the client sent `client_info=1` (MSAL always does): the answer carries
   * `client_info`, base64url JSON `{"uid": <object id>, "utid": <tenant id>}`, from which MSAL keys its account
   * cache (`uid.utid` = `homeAccountId`) ("Microsoft identity platform and OAuth 2.0 authorization code flow";
   * MSAL's client_info). The id_token carries the claims of "ID token claims reference" (v2.0).
   */
  function grantTokens(registered: SimApp, userId: string, tenantId: string, scopes: string[], options: { nonce?: string; clientInfo?: boolean } = {}): Record<string, unknown> {
    const { nonce } = options;
    const user = state.findUser(userId) ?? state.defaultUser;
    // `.default`: the delegated permissions configured on the app registration ("The /.default scope").
    const graphScopes = [...new Set(scopes.filter((s) => !OIDC_SCOPES.has(s)).map(shortScope).flatMap((s) => (s === '.default' ? registered.delegatedPermissions : [s])))];
    const issued = state.accessTokens.issue({ userId: user.id, clientId: registered.clientId, tenantId, scopes: graphScopes, appOnly: false });
    const answer: Record<string, unknown> = {
      token_type: 'Bearer',
      scope: graphScopes.map((s) => (s.includes('://') ? s : `https://graph.microsoft.com/${s}`)).join(' '),
      expires_in: issued.expiresIn,
      ext_expires_in: issued.expiresIn,
      access_token: issued.token,
    };
    if (scopes.includes('offline_access')) {
      const refresh = `sim-rt-${randomBytes(32).toString('base64url')}`;
      identity.refreshTokens.set(refresh, { clientId: registered.clientId, userId: user.id, tenantId, scopes: [...scopes], lastUsedAt: state.clock.now(), used: false, revoked: false });
      answer.refresh_token = refresh;
    }
    if (options.clientInfo) answer.client_info = Buffer.from(JSON.stringify({ uid: user.id, utid: tenantId })).toString('base64url');
    if (scopes.includes('openid')) {
      const now = Math.floor(state.clock.now() / 1000);
      answer.id_token = signJwt(state, {
        aud: registered.clientId,
        iss: issuer(state, tenantId),
        exp: now + 3600,
        sub: createHash('sha256').update(`${registered.clientId}:${user.id}`).digest('base64url').slice(0, 43),
        oid: user.id,
        tid: tenantId,
        ver: '2.0',
        // "ID token claims reference": name and preferred_username need the profile scope, email the email scope.
        ...(scopes.includes('profile') ? { name: user.displayName, preferred_username: user.userPrincipalName } : {}),
        ...(scopes.includes('email') ? { email: user.mail } : {}),
        ...(nonce ? { nonce } : {}),
      });
    }
    return answer;
  }

  // --- control ---------------------------------------------------------------------------------------------
  app.post('/_sim/identity/apps', json, (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const redirectUris = Array.isArray(body.redirectUris) ? body.redirectUris.filter((u): u is string => typeof u === 'string') : undefined;
    const appRoles = Array.isArray(body.appRoles) ? body.appRoles.filter((r): r is string => typeof r === 'string') : undefined;
    const created = identity.registerApp({
      clientId: stringParam(body.clientId),
      clientSecret: stringParam(body.clientSecret),
      displayName: stringParam(body.displayName),
      redirectUris,
      appRoles,
    });
    res.status(201).json(created);
  });

  /**
   * Faults: `{"kind":"revokeRefreshTokens"}`, `{"kind":"tokenError","error":"interaction_required","count":2,"status":400,
   * "grantType":"refresh_token"}`, `{"kind":"authorizeError","error":"access_denied"}`, `{"kind":"expireAccessTokens"}`,
   * `{"kind":"revokeAccessTokens"}`.
   */
  app.post('/_sim/identity/faults', json, (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    switch (body.kind) {
      case 'revokeRefreshTokens':
        return res.json({ revoked: identity.revokeRefreshTokens() });
      case 'expireAccessTokens':
        state.accessTokens.expireAll();
        return res.json({ ok: true });
      case 'revokeAccessTokens':
        state.accessTokens.revokeAll();
        return res.json({ ok: true });
      case 'tokenError': {
        const error = body.error as TokenFaultError;
        if (!(error in FAULT_DEFAULTS)) return res.status(400).json({ error: `unknown error '${String(body.error)}'; one of ${Object.keys(FAULT_DEFAULTS).join(', ')}` });
        const status = typeof body.status === 'number' && body.status >= 400 && body.status < 600 ? body.status : undefined;
        const count = typeof body.count === 'number' && body.count > 0 ? Math.floor(body.count) : undefined;
        identity.injectTokenFault({ error, status, count, grantType: stringParam(body.grantType) });
        return res.json({ ok: true });
      }
      case 'authorizeError':
        identity.authorizeError = {
          error: stringParam(body.error) ?? 'access_denied',
          description: stringParam(body.description) ?? 'AADSTS65004: User declined to consent to access the app.',
        };
        return res.json({ ok: true });
      default:
        return res.status(400).json({ error: 'kind must be revokeRefreshTokens, expireAccessTokens, revokeAccessTokens, tokenError or authorizeError' });
    }
  });

  app.delete('/_sim/identity/faults', (_req, res) => {
    identity.clearFaults();
    res.status(204).end();
  });

  app.put('/_sim/identity/access-token-lifetime', json, (req, res) => {
    const seconds = (req.body as Record<string, unknown> | undefined)?.seconds;
    if (typeof seconds !== 'number' || !(seconds > 0) || seconds > 86_400) return res.status(400).json({ error: 'seconds must be a number in (0, 86400]' });
    state.accessTokens.lifetimeSeconds = seconds;
    res.json({ seconds });
  });

  app.put('/_sim/identity/signed-in-user', json, (req, res) => {
    const user = state.findUser(String((req.body as Record<string, unknown> | undefined)?.user ?? ''));
    if (!user) return res.status(404).json({ error: 'unknown user' });
    identity.signedInUserId = user.id;
    res.json({ id: user.id, userPrincipalName: user.userPrincipalName });
  });

  app.get('/_sim/identity/requests', (req, res) => {
    res.json({ value: identity.requests(stringParam(req.query.grantType)) });
  });
}
