/**
 * Retry schedule of callback delivery (CONTRACT.md, reference/open-connectors.md §4 "Current": 5 retries,
 * delay 2^(3x) s → 8 s, 64 s, 512 s, ...). Each delay is capped at RETRY_CAP_MS (1 hour, so a failing receiver
 * blocks its queue for about 2 h 10 min before the head is given up, instead of the 9 h of Open Connectors) and
 * jittered by ±20 %. A `Retry-After` on 429 or 503 replaces the computed delay (also capped).
 */
import { parseRetryAfter } from '../http/retry-after';

export const DEFAULT_RETRIES = 5;
export const RETRY_CAP_MS = 60 * 60 * 1000;
const JITTER = 0.2;

export interface BackoffOptions {
  /** How many ms one "second" of the schedule lasts: 1000 in production; tests shrink it. */
  unitMs?: number;
  /** Returns a number in [0, 1); 0.5 means no jitter. */
  random?: () => number;
}

/** Delay before retry number `retry` (1 = first retry): unit · 2^(3·retry), jittered, capped. */
export function retryDelayMs(retry: number, options: BackoffOptions = {}): number {
  const unit = options.unitMs ?? 1000;
  const random = options.random ?? Math.random;
  const base = unit * 2 ** (3 * retry);
  const jittered = base * (1 - JITTER + 2 * JITTER * random());
  return Math.round(Math.min(jittered, RETRY_CAP_MS * (unit / 1000)));
}

/**
 * A `Retry-After` header as a delay in ms (read by `http/retry-after.ts`), scaled to the schedule unit and capped
 * like the computed delays; undefined when absent or unreadable.
 */
export function retryAfterMs(header: unknown, nowMs: number, unitMs = 1000): number | undefined {
  const ms = parseRetryAfter(header, nowMs);
  if (ms === undefined) return undefined;
  return Math.round(Math.min(ms * (unitMs / 1000), RETRY_CAP_MS * (unitMs / 1000)));
}

/** Whether an HTTP answer is worth retrying: 408, 429 and 5xx; other 4xx (and 3xx) are not. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}
