/**
 * Fault injection for the simulated Graph (`reference/graph.md` §5, §7, §10 items 3 and 5): the next N requests
 * (optionally only those matching a method and a path regex) answer 429 with `Retry-After`, 503 (with or without
 * `Retry-After`), 504, or are delayed; the next delta call answers 410 (messages/events: `SyncStateNotFound`;
 * drive: `resyncChangesApplyDifferences` + `Location`), repeats an item (replay) or starts with an empty nextLink
 * page. The 4-concurrent-requests-per-mailbox limit (§7) is on by default (`concurrencyLimit`, 0 = off).
 */
export type FaultKind = 'throttle' | 'unavailable' | 'gatewayTimeout' | 'delay' | 'deltaGone' | 'deltaReplay' | 'deltaEmptyPage';

export interface FaultSpec {
  kind: FaultKind;
  /** How many requests it applies to; default 1. */
  count?: number;
  /** Only requests with this method (any case). */
  method?: string;
  /** Only requests whose path with query (`/v1.0/me/messages?...`) matches this regex. */
  path?: string;
  /** 429/503: `Retry-After` seconds (429 default 1; 503 default none). */
  retryAfterSeconds?: number;
  /** `delay`: milliseconds before the request is handled. */
  delayMs?: number;
}

interface ActiveFault extends FaultSpec {
  remaining: number;
  pattern?: RegExp;
}

const DELTA_KINDS: ReadonlySet<FaultKind> = new Set(['deltaGone', 'deltaReplay', 'deltaEmptyPage']);

export class FaultInjector {
  private faults: ActiveFault[] = [];
  /** Concurrent requests allowed per mailbox (§7: 4); 0 disables the limit. */
  concurrencyLimit = 4;

  /** Validates and queues a fault; throws a TypeError with a clear message on bad input. */
  add(spec: FaultSpec): void {
    const kinds: FaultKind[] = ['throttle', 'unavailable', 'gatewayTimeout', 'delay', 'deltaGone', 'deltaReplay', 'deltaEmptyPage'];
    if (!kinds.includes(spec.kind)) throw new TypeError(`fault kind must be one of ${kinds.join(', ')}`);
    const count = spec.count ?? 1;
    if (!Number.isInteger(count) || count < 1) throw new TypeError('fault count must be a positive integer');
    if (spec.kind === 'delay' && !(typeof spec.delayMs === 'number' && spec.delayMs >= 0 && spec.delayMs <= 600_000)) {
      throw new TypeError('delay fault needs delayMs between 0 and 600000');
    }
    if (spec.retryAfterSeconds !== undefined && !(Number.isInteger(spec.retryAfterSeconds) && spec.retryAfterSeconds >= 0)) {
      throw new TypeError('retryAfterSeconds must be a non-negative integer');
    }
    let pattern: RegExp | undefined;
    if (spec.path !== undefined) {
      try {
        pattern = new RegExp(spec.path);
      } catch {
        throw new TypeError('fault path must be a valid regular expression');
      }
    }
    this.faults.push({ ...spec, remaining: count, pattern });
  }

  /** The next request-level fault (not delta-specific) for this request, consumed. */
  takeRequestFault(method: string, path: string): FaultSpec | undefined {
    return this.take(method, path, (kind) => !DELTA_KINDS.has(kind));
  }

  /** A delta fault of this kind for this delta request, consumed. */
  takeDeltaFault(kind: 'deltaGone' | 'deltaReplay' | 'deltaEmptyPage', method: string, path: string): FaultSpec | undefined {
    return this.take(method, path, (k) => k === kind);
  }

  /** Pending faults (for the control API). */
  list(): Array<FaultSpec & { remaining: number }> {
    return this.faults.map(({ pattern: _p, ...rest }) => rest);
  }

  clear(): void {
    this.faults = [];
    this.concurrencyLimit = 4;
  }

  private take(method: string, path: string, kindMatches: (kind: FaultKind) => boolean): FaultSpec | undefined {
    const index = this.faults.findIndex(
      (f) => kindMatches(f.kind) && (!f.method || f.method.toUpperCase() === method.toUpperCase()) && (!f.pattern || f.pattern.test(path)),
    );
    if (index < 0) return undefined;
    const fault = this.faults[index];
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.faults.splice(index, 1);
    return fault;
  }
}
