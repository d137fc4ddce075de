/**
 * Microsoft Graph client (axios). CONTRACT + issue 3: bearer auth from a TokenSource, 401 → one refresh and
 * retry, 429/503/504 honour `Retry-After` (else exponential backoff with jitter), at most 4 concurrent requests
 * per mailbox, `@odata.nextLink`/`deltaLink` followed only on the configured Graph host, timeouts, errors
 * carrying Graph's error code and request id.
 *
 * SKELETON: signatures fixed so that other modules can code against them; implemented by issue 3.
 */
import { Ms365Error } from '../errors';
import type { Logger } from '../logger';

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

export class GraphClient {
  readonly baseUrl: string;

  constructor(readonly options: GraphClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
  }

  async request<T>(_req: GraphRequest): Promise<GraphResponse<T>> {
    throw new Ms365Error('not_implemented', 'GraphClient.request is not implemented yet');
  }

  async get<T>(url: string, headers?: Record<string, string>, signal?: AbortSignal): Promise<T> {
    return (await this.request<T>({ method: 'GET', url, headers, signal })).data;
  }
}
