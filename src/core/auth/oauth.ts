/**
 * The token endpoint client of the Microsoft identity platform v2, on `simple-oauth2`
 * (`reference/graph.md` §8; `reference/node-red.md` §3). Each grant is one method returning a `TokenSet`;
 * every failure becomes an `OAuthError` (classified, without tokens, secrets or the raw response).
 */
import { AuthorizationCode, ClientCredentials, type ModuleOptions } from 'simple-oauth2';
import { ConfigurationError } from '../errors';
import { OAuthError } from './errors';
import { accountOf } from './id-token';

export interface OAuthSettings {
  /** e.g. `https://login.microsoftonline.com` (national clouds, the simulator). */
  authorityHost: string;
  /** `common`, `organizations`, `consumers`, a tenant id or domain. */
  tenant: string;
  clientId: string;
  clientSecret: string;
  /** Per token request; default 30 s. */
  timeoutMs?: number;
  /** Clock for `expiresAt` (tests); default `Date.now`. */
  now?: () => number;
}

/** The tokens of one sign-in (or of app-only access). */
export interface TokenSet {
  accessToken: string;
  /** Only for `authorization_code` with `offline_access`; rotated on every refresh. */
  refreshToken?: string;
  /** Epoch ms at which the access token expires. */
  expiresAt: number;
  scope?: string;
  /** `preferred_username` of the id_token (kept from the sign-in across refreshes). */
  account?: string;
}

const TENANT = /^[A-Za-z0-9.-]{1,253}$/;

/** Check the settings that go into URLs; throws `ConfigurationError` naming the setting. */
export function checkOAuthSettings(settings: Pick<OAuthSettings, 'authorityHost' | 'tenant' | 'clientId'>): void {
  let url: URL;
  try {
    url = new URL(settings.authorityHost);
  } catch {
    throw new ConfigurationError('authorityHost', 'is not a URL');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname))) {
    throw new ConfigurationError('authorityHost', 'must be https (http only on loopback)');
  }
  if (!TENANT.test(settings.tenant)) throw new ConfigurationError('tenant', 'must be common, organizations, consumers, a tenant id or a domain');
  if (!settings.clientId) throw new ConfigurationError('clientId', 'is required');
}

export class MicrosoftOAuth {
  private readonly config: ModuleOptions;
  private readonly now: () => number;
  private readonly timeoutMs: number;

  constructor(readonly settings: OAuthSettings) {
    checkOAuthSettings(settings);
    const host = settings.authorityHost.replace(/\/+$/, '');
    const base = `/${encodeURIComponent(settings.tenant)}/oauth2/v2.0`;
    this.now = settings.now ?? Date.now;
    this.timeoutMs = settings.timeoutMs ?? 30_000;
    this.config = {
      client: { id: settings.clientId, secret: settings.clientSecret },
      auth: { tokenHost: host, tokenPath: `${base}/token`, authorizeHost: host, authorizePath: `${base}/authorize` },
      // client_secret in the form body, as Microsoft's docs show it (§8).
      options: { authorizationMethod: 'body', bodyFormat: 'form', scopeSeparator: ' ' },
      http: { timeout: this.timeoutMs, redirects: 0 } as ModuleOptions['http'],
    };
  }

  /**
   * The URL to open in the browser (`response_type=code`, `response_mode=query`, PKCE S256).
   * @param params.state single-use value the callback must present back (CSRF)
   * @param params.codeChallenge BASE64URL(SHA256(verifier)) from `createPkce()`
   * @see RFC 6749 §4.1.1; RFC 7636 §4.3
   */
  authorizeUrl(params: { redirectUri: string; scope: string; state: string; codeChallenge: string; loginHint?: string }): string {
    const client = new AuthorizationCode(this.config);
    return client.authorizeURL({
      redirect_uri: params.redirectUri,
      scope: params.scope,
      state: params.state,
      code_challenge: params.codeChallenge,
      code_challenge_method: 'S256',
      response_mode: 'query',
      ...(params.loginHint ? { login_hint: params.loginHint } : {}),
    } as Parameters<AuthorizationCode['authorizeURL']>[0]);
  }

  /**
   * Redeem an authorization code (single-use, ~10 min) with its PKCE verifier.
   * @returns the TokenSet (refresh token only if `offline_access` was granted; account from the id_token)
   * @throws OAuthError (`invalid_grant` for a used/expired code or a wrong verifier)
   * @see RFC 6749 §4.1.3; RFC 7636 §4.5
   */
  async redeemCode(params: { code: string; redirectUri: string; codeVerifier: string; scope: string }): Promise<TokenSet> {
    const client = new AuthorizationCode(this.config);
    return this.call(async () =>
      (await client.getToken({ code: params.code, redirect_uri: params.redirectUri, scope: params.scope, code_verifier: params.codeVerifier } as Parameters<AuthorizationCode['getToken']>[0])).token,
    );
  }

  /**
   * Redeem a refresh token; the answer carries a NEW refresh token that replaces it (§8).
   * @throws OAuthError (`invalid_grant` / `interaction_required` / `consent_required`: `needsSignIn`)
   * @see RFC 6749 §6
   */
  async refresh(params: { refreshToken: string; scope: string; account?: string }): Promise<TokenSet> {
    const client = new AuthorizationCode(this.config);
    const set = await this.call(async () => (await client.createToken({ refresh_token: params.refreshToken }).refresh({ scope: params.scope })).token);
    return { ...set, refreshToken: set.refreshToken ?? params.refreshToken, account: set.account ?? params.account };
  }

  /**
   * App-only token: `scope` must be `<resource>/.default`; no refresh token, ask again before expiry (§8).
   * @throws OAuthError (`invalid_client`, `invalid_scope`, `temporarily_unavailable`, ...)
   * @see RFC 6749 §4.4
   */
  async clientCredentials(scope: string): Promise<TokenSet> {
    const { authorizeHost: _h, authorizePath: _p, ...auth } = this.config.auth;
    const client = new ClientCredentials({ ...this.config, auth });
    return this.call(async () => (await client.getToken({ scope })).token);
  }

  private async call(request: () => Promise<Record<string, unknown>>): Promise<TokenSet> {
    const started = this.now();
    let token: Record<string, unknown>;
    try {
      token = await request();
    } catch (err) {
      throw toOAuthError(err);
    }
    const accessToken = token.access_token;
    const expiresIn = Number(token.expires_in);
    if (typeof accessToken !== 'string' || !accessToken || !Number.isFinite(expiresIn)) {
      throw new OAuthError({ error: 'invalid_response', description: 'the token endpoint answered without access_token or expires_in' });
    }
    return {
      accessToken,
      refreshToken: typeof token.refresh_token === 'string' ? token.refresh_token : undefined,
      expiresAt: started + expiresIn * 1000,
      scope: typeof token.scope === 'string' ? token.scope : undefined,
      account: accountOf(typeof token.id_token === 'string' ? token.id_token : undefined),
    };
  }
}

interface BoomLike {
  isBoom?: boolean;
  output?: { statusCode?: number };
  data?: { isResponseError?: boolean; payload?: unknown; res?: { statusCode?: number } } | null;
  message?: string;
}

/** A simple-oauth2 (wreck/Boom) failure as an OAuthError; the Boom error (with the response) is not kept. */
function toOAuthError(err: unknown): OAuthError {
  const boom = err as BoomLike;
  const data = boom?.data ?? undefined;
  const status = data?.res?.statusCode;
  let payload = data?.payload;
  if (Buffer.isBuffer(payload)) {
    try {
      payload = JSON.parse(payload.toString('utf8'));
    } catch {
      payload = undefined;
    }
  }
  if (data?.isResponseError && payload && typeof payload === 'object' && typeof (payload as { error?: unknown }).error === 'string') {
    const body = payload as { error: string; error_description?: unknown; error_codes?: unknown };
    const codes = Array.isArray(body.error_codes) ? body.error_codes : [];
    return new OAuthError({
      error: body.error,
      description: typeof body.error_description === 'string' ? body.error_description : undefined,
      aadsts: typeof codes[0] === 'number' ? codes[0] : undefined,
      status,
    });
  }
  if (status !== undefined && status >= 400) {
    return new OAuthError({ error: status >= 500 ? 'server_error' : 'invalid_response', description: `HTTP ${status} from the token endpoint`, status });
  }
  if (!boom?.isBoom) {
    // simple-oauth2 choked on the answer's shape (a JSON string, an array…): its message quotes the answer, which may
    // hold a token, so it is not repeated (found by test/reliability/token-fuzz.test.ts).
    return new OAuthError({ error: 'invalid_response', description: 'the token endpoint answered something that is not a token response' });
  }
  return new OAuthError({ error: 'network_error', description: unquoted(String(boom.message)).slice(0, 200) });
}

/** A transport error message without quoted parts (a parser's message may quote the answer it could not read). */
function unquoted(message: string): string {
  return message.replace(/'[^']*'|"[^"]*"|`[^`]*`/g, '…');
}
