/**
 * The simulator's clock. Everything time-dependent in the simulated tenant (token expiry, subscription
 * expiry, object timestamps, delta token age) reads `now()`, so tests can jump it forward (accelerated
 * 30-day subscription tests, clock-jump tests) without waiting.
 */
export class SimClock {
  private offsetMs = 0;

  now(): number {
    return Date.now() + this.offsetMs;
  }

  nowIso(): string {
    return new Date(this.now()).toISOString();
  }

  /** Move the clock forward (or back, with a negative value). */
  advance(ms: number): void {
    this.offsetMs += ms;
  }

  /** Set the clock to an absolute time; it keeps running from there. */
  set(ms: number): void {
    this.offsetMs = ms - Date.now();
  }

  reset(): void {
    this.offsetMs = 0;
  }
}
