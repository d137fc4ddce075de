/**
 * Microsoft Graph client (axios). CONTRACT + issue 3: bearer auth from a TokenSource, 401 → one refresh and
 * retry, 429/503/504 honour `Retry-After` (else exponential backoff with jitter), at most 4 concurrent requests
 * per mailbox, `@odata.nextLink`/`deltaLink` followed only on the configured Graph host, timeouts, errors
 * carrying Graph's error code and request id.
 *
 * Rules from `reference/graph.md` §7 (throttling: Retry-After, 4 concurrent requests per mailbox) and §8
 * (401 `InvalidAuthenticationToken` ⇒ new token). The bearer token is only ever sent to the origin of `baseUrl`
 * (TARGETS.md: "bearer token sent to the configured Graph host only"); redirects are not followed.
 */
import { ClockOffset } from './clock-offset';
import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import { Ms365Error } from '../errors';
import { parseRetryAfter } from '../http/retry-after';
import { silentLogger, type Logger } from '../logger';
import { permissionFor, permissionName, type RequiredPermission } from './permissions';

/** Where the client gets bearer tokens; the connector's token manager implements it. */
export interface TokenSource {
  /** A valid access token (refreshed first if it is about to expire). */
  getAccessToken(): Promise<string>;
  /** Graph answered 401 to `rejectedToken`: refresh now (single-flight) unless a newer token is already there. */
  onUnauthorized(rejectedToken: string): Promise<void>;
}

export interface GraphClientOptions {
  /** e.g. `https://graph.microsoft.com/v1.0`; relative request URLs are resolved against it. */
  baseUrl: string;
  tokens: TokenSource;
  /** Concurrent requests per client (one client per mailbox/connector); default 4. */
  maxConcurrency?: number;
  /** Per-request timeout; default 30 s. */
  timeoutMs?: number;
  /** Retries for 429/503/504/network errors; default 4. */
  maxRetries?: number;
  logger?: Logger;
  /** For tests of backoff: how to wait. */
  sleep?: (ms: number) => Promise<void>;
  /** Longest wait honoured for one `Retry-After`/backoff; default 120 s (longer waits fail the request). */
  maxRetryDelayMs?: number;
  /** First backoff delay without `Retry-After`; default 1 s, doubled per attempt (full jitter), capped at 30 s. */
  backoffBaseMs?: number;
  /** Tokens are app-only (client credentials): a 403 names the application permission, else the delegated one. */
  appOnly?: boolean;
}

export interface GraphRequest {
  method?: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** A path relative to baseUrl (`/me/messages?$top=10`) or an absolute nextLink/deltaLink on the Graph host. */
  url: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** Abort (node closing). */
  signal?: AbortSignal;
}

export interface GraphResponse<T> {
  status: number;
  data: T;
  headers: Record<string, string>;
}

/** A failed Graph call: HTTP status, Graph's `error.code`, request id, and for 410 the `Location` to resync from. */
export class GraphError extends Ms365Error {
  readonly status: number;
  readonly graphCode: string;
  readonly requestId?: string;
  readonly location?: string;
  readonly retryAfterMs?: number;

  constructor(init: { status: number; graphCode: string; message: string; requestId?: string; location?: string; retryAfterMs?: number }) {
    super(`graph_${init.status}`, init.message);
    this.name = 'GraphError';
    this.status = init.status;
    this.graphCode = init.graphCode;
    this.requestId = init.requestId;
    this.location = init.location;
    this.retryAfterMs = init.retryAfterMs;
  }
}

/**
 * Graph answered 403 (`reference/graph.md` §11.6: Outlook `ErrorAccessDenied`, drive `accessDenied`, subscription
 * `ExtensionError` "Status Code: Forbidden"): the token lacks the permission `permission` names (from
 * `permissions.ts`; undefined when the request is not in its table). The message starts "missing permission X".
 */
export class MissingPermissionError extends GraphError {
  readonly permission?: string;
  readonly required?: RequiredPermission;

  constructor(cause: GraphError, required: RequiredPermission | undefined, appOnly: boolean | undefined) {
    const permission = required ? permissionName(required, appOnly) : undefined;
    const kind = appOnly === true ? 'application permission' : appOnly === false ? 'delegated permission' : 'permission';
    super({
      status: cause.status,
      graphCode: cause.graphCode,
      requestId: cause.requestId,
      message: permission
        ? `missing permission ${permission} (the ${kind} Microsoft Graph needs to ${required!.operation}${required!.delegatedPersonal && appOnly !== true ? `; personal accounts: ${required!.delegatedPersonal}` : ''}; grant it to the app and consent; ${cause.message})`
        : `missing permission (${cause.message})`,
    });
    this.name = 'MissingPermissionError';
    this.permission = permission;
    this.required = required;
  }
}

/**
 * A change of this size between Graph's clock and ours is a jump (a clock stepped, a VM resumed, Graph's clock set);
 * smaller differences are noise: the `Date` header has second resolution and answers take time to arrive.
 */
export const CLOCK_JUMP_MS = 60_000;

export class GraphClient {
  readonly baseUrl: string;
  private readonly origin: string;
  private readonly http: AxiosInstance;
  private readonly logger: Logger;
  private readonly maxConcurrency: number;
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly clock = new ClockOffset();
  private readonly clockJumpListeners = new Set<(shiftMs: number) => void>();

  constructor(readonly options: GraphClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    let parsed: URL;
    try {
      parsed = new URL(this.baseUrl);
    } catch {
      throw new Ms365Error('invalid_configuration', `graphBaseUrl: '${this.baseUrl}' is not a URL`);
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
      throw new Ms365Error('invalid_configuration', 'graphBaseUrl: must be an http(s) URL');
    }
    this.origin = parsed.origin;
    this.logger = options.logger ?? silentLogger;
    this.maxConcurrency = Math.max(1, options.maxConcurrency ?? 4);
    this.http = axios.create({
      timeout: options.timeoutMs ?? 30_000,
      maxRedirects: 0,
      validateStatus: () => true,
      responseType: 'json',
      headers: { Accept: 'application/json' },
    });
  }

  /**
   * Now on Graph's clock (ms): our clock corrected by what the `Date` headers of Graph's answers allow (`ClockOffset`:
   * never ahead of Graph, within a few ms of it after a few answers). Windows of changes ("modified since") are in
   * Graph's time: a jump of our clock, or of Graph's, does not move them. Our own clock until Graph has answered once.
   */
  serverNow(): number {
    return Date.now() + (this.clock.offsetMs ?? 0);
  }

  /**
   * Called when Graph's clock and ours moved apart by `CLOCK_JUMP_MS` or more (`shiftMs`: how far Graph's clock moved
   * relative to ours). Returns the unsubscribe function.
   */
  onClockJump(listener: (shiftMs: number) => void): () => void {
    this.clockJumpListeners.add(listener);
    return () => this.clockJumpListeners.delete(listener);
  }

  private noteServerDate(date: string | undefined, sentAt: number, receivedAt: number): void {
    const at = answerDate(date);
    if (at === undefined) return;
    const shift = this.clock.observe(at, sentAt, receivedAt);
    if (Math.abs(shift) < CLOCK_JUMP_MS) return;
    this.logger.debug(`Graph's clock moved ${Math.round(shift / 1000)} s relative to ours`);
    for (const listener of this.clockJumpListeners) {
      try {
        listener(shift);
      } catch (err) {
        this.logger.warn(`clock jump listener failed: ${(err as Error).message}`);
      }
    }
  }

  /** Requests running now (at most `maxConcurrency`). */
  get activeRequests(): number {
    return this.active;
  }

  /**
   * Resolve a request URL: a path relative to `baseUrl`, or an absolute URL on the same origin (a nextLink or
   * deltaLink). Anything else throws `Ms365Error('foreign_url')` before a token is fetched or sent.
   */
  resolveUrl(url: string): string {
    if (/^[a-z][a-z0-9+.-]*:/i.test(url) || url.startsWith('//')) {
      let absolute: URL;
      try {
        absolute = new URL(url);
      } catch {
        throw new Ms365Error('foreign_url', 'Refusing a malformed absolute Graph URL');
      }
      if (absolute.origin !== this.origin) {
        throw new Ms365Error('foreign_url', `Refusing to call ${absolute.origin}: only ${this.origin} (graphBaseUrl) gets the access token`);
      }
      return absolute.toString();
    }
    return `${this.baseUrl}${url.startsWith('/') ? '' : '/'}${url}`;
  }

  async request<T>(req: GraphRequest): Promise<GraphResponse<T>> {
    const url = this.resolveUrl(req.url);
    const method = req.method ?? 'GET';
    const maxRetries = this.options.maxRetries ?? 4;
    const idempotent = method === 'GET' || method === 'DELETE';
    let refreshed = false;
    for (let attempt = 0; ; attempt++) {
      throwIfAborted(req.signal);
      const token = await this.options.tokens.getAccessToken();
      let res: AxiosResponse<unknown>;
      await this.acquire(req.signal);
      const sentAt = Date.now();
      try {
        throwIfAborted(req.signal);
        res = await this.http.request({
          method,
          url,
          data: req.body === undefined ? undefined : req.body,
          headers: {
            ...(req.body === undefined ? {} : { 'Content-Type': 'application/json' }),
            ...req.headers,
            Authorization: `Bearer ${token}`,
          },
          signal: req.signal,
        });
      } catch (err) {
        if (req.signal?.aborted) throw new Ms365Error('aborted', `${method} ${pathOf(url)} aborted`);
        const retry = idempotent && attempt < maxRetries;
        const reason = axios.isAxiosError(err) ? (err.code ?? err.message) : (err as Error).message;
        if (!retry) throw new Ms365Error('network_error', `${method} ${pathOf(url)} failed: ${reason}`);
        const delay = this.backoff(attempt);
        this.logger.debug(`${method} ${pathOf(url)}: ${reason}; retry in ${delay} ms`);
        await this.wait(delay, req.signal);
        continue;
      } finally {
        this.release();
      }
      const headers = flatHeaders(res.headers as Record<string, unknown>);
      this.noteServerDate(headers.date, sentAt, Date.now());
      if (res.status < 400) return { status: res.status, data: res.data as T, headers };
      const error = toGraphError(res.status, res.data, headers);
      if (res.status === 401 && !refreshed) {
        refreshed = true;
        this.logger.debug(`${method} ${pathOf(url)}: 401 ${error.graphCode}; refreshing the token once`);
        await this.options.tokens.onUnauthorized(token);
        attempt--;
        continue;
      }
      if (res.status === 403) throw new MissingPermissionError(error, permissionFor(method, this.versionPath(url), req.body), this.options.appOnly);
      const retryable = res.status === 429 || res.status === 503 || res.status === 504;
      if (!retryable || attempt >= maxRetries) throw error;
      const delay = error.retryAfterMs ?? this.backoff(attempt);
      if (delay > (this.options.maxRetryDelayMs ?? 120_000)) throw error;
      this.logger.debug(`${method} ${pathOf(url)}: ${res.status}; retry in ${delay} ms`);
      await this.wait(delay, req.signal);
    }
  }

  /** The path of a resolved URL below `baseUrl` (`/me/messages`), for the permission table. */
  private versionPath(url: string): string {
    const base = new URL(this.baseUrl).pathname.replace(/\/+$/, '');
    const path = new URL(url).pathname;
    return path.toLowerCase().startsWith(base.toLowerCase()) ? path.slice(base.length) : path;
  }

  async get<T>(url: string, headers?: Record<string, string>, signal?: AbortSignal): Promise<T> {
    return (await this.request<T>({ method: 'GET', url, headers, signal })).data;
  }

  private backoff(attempt: number): number {
    const cap = Math.min(30_000, (this.options.backoffBaseMs ?? 1000) * 2 ** attempt);
    return Math.round(Math.random() * cap);
  }

  private async wait(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.options.sleep) {
      await this.options.sleep(ms);
      throwIfAborted(signal);
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(done, ms);
      function done() {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }
      function onAbort() {
        clearTimeout(timer);
        reject(new Ms365Error('aborted', 'Graph request aborted'));
      }
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private acquire(signal?: AbortSignal): Promise<void> {
    if (this.active < this.maxConcurrency) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const grant = () => {
        signal?.removeEventListener('abort', onAbort);
        this.active++;
        resolve();
      };
      const onAbort = () => {
        const index = this.waiting.indexOf(grant);
        if (index >= 0) this.waiting.splice(index, 1);
        reject(new Ms365Error('aborted', 'Graph request aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(grant);
    });
  }

  private release(): void {
    this.active--;
    const next = this.waiting.shift();
    if (next) next();
  }
}

function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new Ms365Error('aborted', 'Graph request aborted');
}

/** The path of a URL without its query (queries may carry delta/skip tokens: not logged). */
function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return '?';
  }
}

function flatHeaders(headers: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers ?? {})) {
    if (value === undefined || value === null) continue;
    out[key.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return out;
}

/** `Retry-After` as milliseconds: one parser for the package (src/core/http/retry-after.ts), re-exported here. */
export { parseRetryAfter };

/** An answer's `Date` header (Graph's clock) in ms; undefined when absent or unreadable. */
function answerDate(date: string | undefined): number | undefined {
  const at = date ? Date.parse(date) : NaN;
  return Number.isFinite(at) ? at : undefined;
}

/** Graph's error body `{"error":{"code","message","innerError":{"request-id"}}}` as a GraphError. */
export function toGraphError(status: number, data: unknown, headers: Record<string, string>): GraphError {
  const error = (data && typeof data === 'object' ? (data as { error?: unknown }).error : undefined) as
    | { code?: unknown; message?: unknown; innerError?: Record<string, unknown>; innererror?: Record<string, unknown> }
    | undefined;
  const inner = error?.innerError ?? error?.innererror;
  const graphCode = typeof error?.code === 'string' ? error.code : `HTTP${status}`;
  const message = typeof error?.message === 'string' ? error.message.slice(0, 500) : `HTTP ${status}`;
  const requestId = headers['request-id'] ?? headers['client-request-id'] ?? (typeof inner?.['request-id'] === 'string' ? inner['request-id'] : undefined);
  return new GraphError({
    status,
    graphCode,
    message: `Graph ${status} ${graphCode}: ${message}`,
    requestId,
    location: headers.location,
    // An HTTP-date is Graph's clock: read against the answer's own `Date` (RFC 9110 §10.2.3), not ours, which may be
    // minutes off; delay-seconds (what Graph sends, "Microsoft Graph throttling guidance") need no clock.
    retryAfterMs: parseRetryAfter(headers['retry-after'], answerDate(headers.date) ?? Date.now()),
  });
}
