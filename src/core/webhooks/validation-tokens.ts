/**
 * The `validationTokens` of change notifications with resource data ("Set up change notifications that include
 * resource data": validating the tokens; `reference/graph.md` §4, §11.4), verified with `jose`:
 * - the keys come from the `jwks_uri` of the authority's OpenID configuration
 *   (`{authorityHost}/common/v2.0/.well-known/openid-configuration`), through `createRemoteJWKSet`: cached an hour,
 *   fetched again at once when a token names a key id (`kid`) the cached set lacks, at most once every 5 minutes
 *   (the Entra signing-key guidance); a token whose key is still unknown during that cooldown waits for it to end
 *   and is verified again once, so a key rotation at Microsoft drops no batch (at most `MAX_WAITING` batches wait:
 *   tokens naming made-up keys cannot make the receiver hold an unbounded number of bodies);
 * - RS256 signature, `exp` / `nbf` within a bounded clock skew on Graph's clock, `aud` = our app (client) id;
 * - both forms Graph issues: v1 (`iss` `https://sts.windows.net/{tid}/`, the publisher in `appid`) and v2 (`iss`
 *   the authority's v2 issuer `https://login.microsoftonline.com/{tid}/v2.0`, the publisher in `azp`), `{tid}` one of
 *   the tenants of the batch's items, the publisher the Graph change-notification publisher
 *   `0bf30f3b-4a52-48df-9a82-234910c4a086`.
 */
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { Ms365Error } from '../errors';

/** Batches that may wait for the end of a key-fetch cooldown at the same time; more are refused at once. */
export const MAX_WAITING = 50;

/** The Graph change-notification publisher's app id (`reference/graph.md` §4, §11.4). */
export const GRAPH_NOTIFICATION_PUBLISHER_APP_ID = '0bf30f3b-4a52-48df-9a82-234910c4a086';

export interface ValidationTokenVerifierOptions {
  /** `https://login.microsoftonline.com` (or a national cloud, or the simulator). */
  authorityHost: string;
  /** Our app (client) id: the tokens' `aud`. */
  appId: string;
  /** Now in ms on Graph's clock (default `Date.now`). */
  now?: () => number;
  /** Clock skew allowed on `exp` / `nbf`, seconds (default 300). */
  clockSkewSeconds?: number;
  /** Least time between two fetches of the key set on unknown key ids, ms (default 5 min). */
  cooldownMs?: number;
  /** Key set cache lifetime, ms (default 1 h). */
  cacheMaxAgeMs?: number;
  /** Stops a wait for the cooldown (the node closing). */
  signal?: AbortSignal;
}

type KeySet = ReturnType<typeof createRemoteJWKSet>;

interface Authority {
  keys: KeySet;
  /** The v2 issuer with `{tenantid}` in place of the tenant. */
  v2Issuer: string;
}

export class ValidationTokenVerifier {
  private authority: Promise<Authority> | undefined;
  private readonly now: () => number;
  private readonly cooldownMs: number;

  constructor(private readonly options: ValidationTokenVerifierOptions) {
    this.now = options.now ?? Date.now;
    this.cooldownMs = options.cooldownMs ?? 300_000;
  }

  /**
   * Resolves when every token of a batch is valid for at least one of `tenantIds`; otherwise rejects with
   * `Ms365Error('invalid_validation_token')` naming the failed check (never the token). `receivedAt` (ms, default
   * now): when the batch reached us; its tokens' lifetime (`exp`, `nbf`, an hour from Graph) is checked at that
   * instant, so a batch journaled before its 202 and replayed after a long stop is judged as it arrived.
   */
  async verifyAll(tokens: unknown, tenantIds: readonly string[], receivedAt?: number): Promise<void> {
    if (!Array.isArray(tokens) || tokens.length === 0) throw invalid('validationTokens is missing or empty.');
    for (const token of tokens) {
      if (typeof token !== 'string') throw invalid('a validation token is not a string.');
      await this.verify(token, tenantIds, receivedAt ?? this.now());
    }
  }

  private async verify(token: string, tenantIds: readonly string[], at: number): Promise<void> {
    const authority = await this.load();
    let payload: JWTPayload;
    try {
      payload = await this.verifySignature(token, authority, at, true);
    } catch (err) {
      throw describe(err);
    }
    const iss = typeof payload.iss === 'string' ? payload.iss : '';
    const v1 = tenantIds.some((t) => iss === `https://sts.windows.net/${t}/`);
    const v2 = tenantIds.some((t) => iss === authority.v2Issuer.replace('{tenantid}', t));
    if (!v1 && !v2) throw invalid('the issuer is not one of our tenants.');
    if (payload.ver !== undefined && String(payload.ver) !== (v1 ? '1.0' : '2.0')) throw invalid(`the token version ${String(payload.ver)} does not match its issuer.`);
    const publisher = v1 ? payload.appid : payload.azp;
    if (publisher !== GRAPH_NOTIFICATION_PUBLISHER_APP_ID) throw invalid('the token was not issued to the Graph notification publisher.');
  }

  private async verifySignature(token: string, authority: Authority, at: number, mayWait: boolean): Promise<JWTPayload> {
    try {
      const { payload } = await jwtVerify(token, authority.keys, {
        algorithms: ['RS256'],
        audience: this.options.appId,
        clockTolerance: this.options.clockSkewSeconds ?? 300,
        currentDate: new Date(at),
        requiredClaims: ['exp'],
      });
      return payload;
    } catch (err) {
      // An unknown key while the set was fetched moments ago: wait for the cooldown, then fetch and try once more.
      if (mayWait && err instanceof joseErrors.JWKSNoMatchingKey && authority.keys.coolingDown && this.waiting < MAX_WAITING) {
        this.waiting += 1;
        try {
          await this.waitForCooldown();
        } finally {
          this.waiting -= 1;
        }
        return this.verifySignature(token, authority, at, false);
      }
      throw err;
    }
  }

  private cooldownWait: Promise<void> | undefined;
  private waiting = 0;

  private waitForCooldown(): Promise<void> {
    this.cooldownWait ??= new Promise<void>((resolve) => {
      const timer = setTimeout(done, this.cooldownMs);
      timer.unref?.();
      const signal = this.options.signal;
      signal?.addEventListener('abort', done, { once: true });
      function done() {
        clearTimeout(timer);
        resolve();
      }
    }).finally(() => {
      this.cooldownWait = undefined;
    });
    return this.cooldownWait;
  }

  /** The authority's OpenID configuration and key set, discovered once (again after a failure). */
  private load(): Promise<Authority> {
    this.authority ??= this.discover().catch((err: unknown) => {
      this.authority = undefined;
      throw err;
    });
    return this.authority;
  }

  private async discover(): Promise<Authority> {
    const host = this.options.authorityHost.replace(/\/+$/, '');
    const url = `${host}/common/v2.0/.well-known/openid-configuration`;
    let config: { jwks_uri?: unknown; issuer?: unknown };
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
      if (!res.ok) throw new Error(`answered ${res.status}`);
      config = (await res.json()) as typeof config;
    } catch (err) {
      throw new Ms365Error('invalid_validation_token', `Cannot read the authority's OpenID configuration (${(err as Error).message}).`, { cause: err });
    }
    if (typeof config.jwks_uri !== 'string') throw new Ms365Error('invalid_validation_token', "The authority's OpenID configuration names no jwks_uri.");
    const v2Issuer = typeof config.issuer === 'string' ? config.issuer : `${host}/{tenantid}/v2.0`;
    const keys = createRemoteJWKSet(new URL(config.jwks_uri), {
      cooldownDuration: this.cooldownMs,
      cacheMaxAge: this.options.cacheMaxAgeMs ?? 3_600_000,
      timeoutDuration: 10_000,
    });
    return { keys, v2Issuer };
  }
}

/** A jose failure as the check that failed. */
function describe(err: unknown): Ms365Error {
  if (err instanceof Ms365Error) return err;
  if (err instanceof joseErrors.JWTExpired) return invalid('the token has expired.');
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return invalid('the audience is not this app.');
    if (err.claim === 'nbf') return invalid('the token is not valid yet.');
    return invalid(`the ${err.claim} claim is not valid.`);
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return invalid('the signature does not verify.');
  if (err instanceof joseErrors.JWKSNoMatchingKey) return invalid('no key of the authority matches the token (kid).');
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return invalid('unsupported signing algorithm.');
  if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid) return invalid('the token is not a valid compact JWT.');
  if (err instanceof joseErrors.JOSEError) return invalid(`the key set could not be used (${err.code}).`);
  return invalid((err as Error)?.message ?? String(err));
}

function invalid(reason: string): Ms365Error {
  return new Ms365Error('invalid_validation_token', `Invalid notification validation token: ${reason}`);
}
