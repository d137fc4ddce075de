/**
 * The simulator's clock. Everything time-dependent in the simulated tenant (token expiry, subscription
 * expiry, object timestamps, delta token age) reads `now()`, so tests can jump it forward (accelerated
 * 30-day subscription tests, clock-jump tests) without waiting, or pin it (`freeze`) at an exact instant (half a
 * second into a second, to test what Microsoft's whole-second timestamps do at a boundary).
 */
export class SimClock {
  private offsetMs = 0;
  /** Set while the clock is pinned: `now()` answers this until `advance`, `set`, `resume` or `reset`. */
  private frozenAt: number | undefined;

  now(): number {
    return this.frozenAt ?? Date.now() + this.offsetMs;
  }

  nowIso(): string {
    return new Date(this.now()).toISOString();
  }

  /** True while the clock is pinned. */
  get frozen(): boolean {
    return this.frozenAt !== undefined;
  }

  /** Move the clock forward (or back, with a negative value); a pinned clock stays pinned at the new time. */
  advance(ms: number): void {
    if (this.frozenAt !== undefined) this.frozenAt += ms;
    else this.offsetMs += ms;
  }

  /** Set the clock to an absolute time; it keeps running from there, or stays there while pinned. */
  set(ms: number): void {
    if (this.frozenAt !== undefined) this.frozenAt = ms;
    else this.offsetMs = ms - Date.now();
  }

  /** Pin the clock at `ms` (default: now): it does not run until `resume()`. */
  freeze(ms: number = this.now()): void {
    this.frozenAt = ms;
  }

  /** Let a pinned clock run again from where it stands. */
  resume(): void {
    if (this.frozenAt === undefined) return;
    this.offsetMs = this.frozenAt - Date.now();
    this.frozenAt = undefined;
  }

  reset(): void {
    this.offsetMs = 0;
    this.frozenAt = undefined;
  }
}
