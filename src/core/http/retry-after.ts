/**
 * The one `Retry-After` reader of the package (RFC 9110 §10.2.3 "Retry-After"): the value is either delay-seconds
 * (`120`) or an HTTP-date (`Fri, 31 Dec 1999 23:59:59 GMT`), read relative to a given `now`. Used by the Graph
 * client (throttling, reference/graph.md §7) and by callback delivery (429/503 from a receiver).
 */

/**
 * `Retry-After` as a delay in ms from `nowMs`: delay-seconds × 1000, or the HTTP-date minus `nowMs` (never below 0,
 * a date in the past means "now"). A header repeated by the HTTP stack (an array) counts by its first value.
 * Returns undefined when the header is absent, empty, negative or unreadable (the caller falls back to its own
 * backoff). Fractional seconds are accepted (not in the RFC, but harmless) and rounded to the ms.
 */
export function parseRetryAfter(header: unknown, nowMs: number = Date.now()): number | undefined {
  const value = Array.isArray(header) ? (header as unknown[])[0] : header;
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.round(value * 1000) : undefined;
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (!text) return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  // Only a date with letters (a weekday/month name) is an HTTP-date: `-5` or `1e3` are garbage, not dates.
  if (!/[a-z]/i.test(text)) return undefined;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}
