/**
 * One connector's token: the `TokenSource` the Graph client asks before every request.
 * - Refreshed before expiry (`refreshMarginMs`, default 5 min) and single-flight: ten callers at once cause one
 *   token request; they all get its result.
 * - Rotated refresh tokens are persisted to the `TokenStore` before the new access token is handed out, so a crash
 *   right after a refresh cannot leave the store with a refresh token Microsoft no longer accepts
 *   (`reference/graph.md` §8: "persist it, discard the old").
 * - `invalid_grant` / `interaction_required` / `consent_required` ⇒ state `sign_in_needed`, no more token requests
 *   until a new sign-in; `temporarily_unavailable` / 5xx / network ⇒ exponential backoff with jitter, bounded (§8).
 */
import { Ms365Error } from '../errors';
import type { TokenSource } from '../graph/client';
import { silentLogger, type Logger } from '../logger';
import { OAuthError } from './errors';
import type { MicrosoftOAuth, TokenSet } from './oauth';
import type { StoredTokens, TokenStore } from './token-store';

export type AuthState = 'signed_out' | 'signed_in' | 'refreshing' | 'sign_in_needed' | 'error';

export interface AuthStatus {
  state: AuthState;
  /** Who signed in (`preferred_username`), when known. */
  account?: string;
  /** Expiry of the current access token (epoch ms). */
  expiresAt?: number;
  /** What went wrong (`OAuthError` message: OAuth code and Microsoft's first line, never a secret). */
  error?: string;
}

/**
 * Single-flight refresh across instances (cluster mode, `core/state/refresh-gate`): either the tokens another instance
 * stored (when `usable` accepts them) or `grant` run with the freshest stored record while this instance holds the
 * connector's refresh lease.
 */
export interface RefreshGate {
  run(usable: (stored: StoredTokens) => boolean, grant: (stored: StoredTokens | undefined) => Promise<string>): Promise<{ adopted: StoredTokens } | { token: string }>;
}

export interface TokenManagerOptions {
  grantType: 'authorization_code' | 'client_credentials';
  oauth: MicrosoftOAuth;
  /** Space-separated scopes to request (client credentials: `https://graph.microsoft.com/.default`). */
  scope: string;
  store: TokenStore;
  /** Stored tokens with another binding (another app/tenant/authority) are ignored. */
  binding?: string;
  /** Refresh this long before expiry; default 5 minutes. */
  refreshMarginMs?: number;
  /** Extra attempts on transient failures; default 3. */
  transientRetries?: number;
  /** First backoff delay; default 1 s, doubled per attempt, capped at `backoffMaxMs` (default 30 s), full jitter. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Refresh in the background before expiry (keeps status and the refresh token fresh); default false. */
  autoRefresh?: boolean;
  now?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  logger?: Logger;
  /** Cluster mode: token requests only through this gate (the store is then shared by every instance). */
  gate?: RefreshGate;
}

const TIMER_MAX = 2 ** 31 - 1;

export class TokenManager implements TokenSource {
  private tokens?: TokenSet;
  private account?: string;
  private stateValue: AuthState = 'signed_out';
  private lastError?: string;
  private inflight?: Promise<string>;
  private timer?: NodeJS.Timeout;
  private readonly abort = new AbortController();
  private readonly listeners = new Set<(status: AuthStatus) => void>();
  private readonly now: () => number;
  private readonly logger: Logger;
  /** Token requests made (refreshes and client-credential requests), for tests and benchmarks. */
  tokenRequests = 0;

  constructor(readonly options: TokenManagerOptions) {
    this.now = options.now ?? Date.now;
    this.logger = options.logger ?? silentLogger;
  }

  /** Load persisted tokens (if any, and bound to this app). */
  async init(): Promise<AuthStatus> {
    let stored: StoredTokens | undefined;
    try {
      stored = await this.options.store.load();
    } catch (err) {
      this.logger.warn(`token store unreadable: ${(err as Error).message}`);
    }
    if (stored && (!this.options.binding || stored.binding === this.options.binding)) {
      this.account = stored.account;
      if (stored.accessToken || stored.refreshToken) {
        this.tokens = {
          accessToken: stored.accessToken ?? '',
          refreshToken: stored.refreshToken,
          expiresAt: stored.accessToken ? (stored.expiresAt ?? 0) : 0,
          scope: stored.scope,
          account: stored.account,
        };
        const usable = this.options.grantType === 'client_credentials' || Boolean(stored.refreshToken) || this.tokens.expiresAt > this.now();
        this.setState(usable ? 'signed_in' : 'signed_out');
        this.schedule();
      }
    }
    return this.status();
  }

  status(): AuthStatus {
    return {
      state: this.stateValue,
      account: this.account,
      expiresAt: this.tokens && this.tokens.expiresAt > 0 ? this.tokens.expiresAt : undefined,
      error: this.lastError,
    };
  }

  /** Called with every status change. Returns a function that removes the listener. */
  onChange(listener: (status: AuthStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A valid access token, refreshed first if it expires within the margin. */
  async getAccessToken(): Promise<string> {
    if (this.abort.signal.aborted) throw new Ms365Error('closed', 'the connector is closed');
    const tokens = this.tokens;
    if (tokens?.accessToken && tokens.expiresAt - this.margin() > this.now()) return tokens.accessToken;
    return this.refresh();
  }

  /** Graph rejected `rejectedToken` with 401: refresh unless a newer token is already there. */
  async onUnauthorized(rejectedToken: string): Promise<void> {
    if (this.inflight) {
      await this.inflight;
      return;
    }
    if (this.tokens && this.tokens.accessToken === rejectedToken) {
      this.tokens = { ...this.tokens, expiresAt: 0 };
      await this.refresh();
    }
  }

  /** A fresh token request now (single-flight). */
  refresh(): Promise<string> {
    if (!this.inflight) {
      this.inflight = this.doRefresh().finally(() => {
        this.inflight = undefined;
      });
    }
    return this.inflight;
  }

  /** Tokens from a completed sign-in (authorization code redeemed): persisted, then used. */
  async signedIn(tokens: TokenSet): Promise<void> {
    // A new sign-in replaces whatever another instance of a cluster stored meanwhile.
    await this.persist(tokens, true);
    this.tokens = tokens;
    this.account = tokens.account ?? this.account;
    this.lastError = undefined;
    this.setState('signed_in');
    this.schedule();
  }

  /** Forget every token (and the persisted copy). */
  async signOut(): Promise<void> {
    this.tokens = undefined;
    this.account = undefined;
    this.lastError = undefined;
    await this.options.store.clear();
    this.setState('signed_out');
  }

  /** Stop timers and pending backoffs; later calls fail with `closed`. */
  close(): void {
    this.abort.abort();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.listeners.clear();
  }

  private margin(): number {
    return this.options.refreshMarginMs ?? 5 * 60_000;
  }

  private doRefresh(): Promise<string> {
    return this.options.gate ? this.gatedRefresh(this.options.gate) : this.grantNow();
  }

  /** Stored tokens this manager may use (bound to this app). */
  private bound(stored: StoredTokens): boolean {
    return !this.options.binding || stored.binding === this.options.binding;
  }

  /**
   * Cluster mode: the tokens another instance refreshed (not the access token this one holds or Graph rejected, and
   * not within the refresh margin), or a grant with the freshest stored refresh token while holding the lease.
   */
  private async gatedRefresh(gate: RefreshGate): Promise<string> {
    const held = this.tokens?.accessToken;
    const result = await gate.run(
      (stored) => this.bound(stored) && Boolean(stored.accessToken) && stored.accessToken !== held && (stored.expiresAt ?? 0) - this.margin() > this.now(),
      (stored) => {
        if (stored && this.bound(stored) && stored.refreshToken) this.tokens = { accessToken: stored.accessToken ?? '', refreshToken: stored.refreshToken, expiresAt: 0, scope: stored.scope, account: stored.account };
        return this.grantNow();
      },
    );
    if ('token' in result) return result.token;
    const stored = result.adopted;
    this.tokens = { accessToken: stored.accessToken ?? '', refreshToken: stored.refreshToken, expiresAt: stored.expiresAt ?? 0, scope: stored.scope, account: stored.account };
    this.account = stored.account ?? this.account;
    this.lastError = undefined;
    this.setState('signed_in');
    this.schedule();
    return this.tokens.accessToken;
  }

  private async grantNow(): Promise<string> {
    const grant = this.options.grantType;
    if (grant === 'authorization_code' && !this.tokens?.refreshToken) {
      const error = this.stateValue === 'sign_in_needed' && this.lastError ? this.lastError : 'not signed in: use "Sign in with Microsoft" in the connector and deploy';
      if (this.stateValue !== 'sign_in_needed') this.setState(this.tokens || this.account ? 'sign_in_needed' : 'signed_out', error);
      throw new OAuthError({ error: 'no_refresh_token', description: error });
    }
    this.setState('refreshing');
    const retries = this.options.transientRetries ?? 3;
    for (let attempt = 0; ; attempt++) {
      try {
        this.tokenRequests++;
        const current = this.tokens;
        const fresh =
          grant === 'client_credentials'
            ? await this.options.oauth.clientCredentials(this.options.scope)
            : await this.options.oauth.refresh({ refreshToken: current?.refreshToken ?? '', scope: this.options.scope, account: current?.account ?? this.account });
        if (this.abort.signal.aborted) throw new Ms365Error('closed', 'the connector is closed');
        await this.persist(fresh);
        this.tokens = fresh;
        this.account = fresh.account ?? this.account;
        this.lastError = undefined;
        this.setState('signed_in');
        this.schedule();
        return fresh.accessToken;
      } catch (err) {
        if (!(err instanceof OAuthError)) {
          this.setState('error', (err as Error).message);
          throw err;
        }
        if (err.needsSignIn) {
          // The refresh token is dead: forget it (persisted too), keep the account for "sign in again as ...".
          this.tokens = undefined;
          await this.persist(undefined).catch(() => undefined);
          this.setState('sign_in_needed', err.message);
          this.logger.warn(err.message);
          throw err;
        }
        if (err.kind === 'transient' && attempt < retries && !this.abort.signal.aborted) {
          const cap = Math.min(this.options.backoffMaxMs ?? 30_000, (this.options.backoffBaseMs ?? 1000) * 2 ** attempt);
          const delay = Math.round(cap / 2 + (Math.random() * cap) / 2);
          this.logger.debug(`token request failed (${err.error}); retrying in ${delay} ms`);
          await (this.options.sleep ?? abortableSleep)(delay, this.abort.signal);
          continue;
        }
        this.setState('error', err.message);
        throw err;
      }
    }
  }

  /** Save `tokens` (or, with undefined, the account without tokens) before they are used. */
  private async persist(tokens: TokenSet | undefined, overwrite = false): Promise<void> {
    const record: StoredTokens = {
      refreshToken: tokens?.refreshToken,
      accessToken: tokens?.accessToken,
      expiresAt: tokens?.expiresAt,
      account: tokens?.account ?? this.account,
      scope: tokens?.scope,
      binding: this.options.binding,
      savedAt: this.now(),
    };
    try {
      await this.options.store.save(record).catch(async (err: unknown) => {
        // A shared store refused a stale version (`token_record_conflict`): read the current one, then write over it.
        if (!overwrite || !(err instanceof Ms365Error) || err.code !== 'token_record_conflict') throw err;
        await this.options.store.load();
        await this.options.store.save(record);
      });
    } catch (err) {
      // Keep working with the tokens in memory; say that a restart would need a new sign-in.
      this.logger.error(`could not persist the rotated tokens (${(err as Error).message}); a restart will need a new sign-in`);
    }
  }

  private schedule(): void {
    if (!this.options.autoRefresh || this.abort.signal.aborted) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const tokens = this.tokens;
    if (!tokens || tokens.expiresAt <= 0) return;
    this.scheduleIn(tokens.expiresAt - this.margin() - this.now());
  }

  private scheduleIn(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.refresh().catch((err: unknown) => {
        // A transient failure in the background: try again in a minute (the next Graph call may be far away).
        if (err instanceof OAuthError && err.kind === 'transient' && !this.abort.signal.aborted) this.scheduleIn(60_000);
      });
    }, Math.min(TIMER_MAX, Math.max(1000, ms)));
    this.timer.unref?.();
  }

  private setState(state: AuthState, error?: string): void {
    const changed = state !== this.stateValue || error !== this.lastError;
    this.stateValue = state;
    if (state === 'sign_in_needed' || state === 'error') this.lastError = error;
    if (!changed) return;
    const status = this.status();
    for (const listener of [...this.listeners]) {
      try {
        listener(status);
      } catch (err) {
        this.logger.error(`status listener failed: ${(err as Error).message}`);
      }
    }
  }
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Ms365Error('closed', 'the connector is closed'));
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new Ms365Error('closed', 'the connector is closed'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
