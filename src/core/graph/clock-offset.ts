/**
 * Graph's clock relative to ours, from the `Date` headers of its answers (RFC 9110: second resolution). One answer
 * sent at `sentAt` and received at `receivedAt` (our clock) with `Date: at` says Graph's clock minus ours is at
 * least `at − receivedAt` (Graph was at `at` or later when we received it) and less than `at + 1 s − sentAt` (the
 * header was written after we sent, before Graph's clock reached the next second). The intersection of these
 * intervals over answers narrows to a few ms. The offset used is 0 while the interval allows it (both clocks kept
 * right, as NTP does: our clock's millisecond precision is then worth more than the header's second), else its lower
 * end, so `now + offset` is not ahead of Graph. An answer outside the interval means one of the clocks jumped: the interval starts again from that answer.
 * It also starts again every 10 minutes, so a slow drift of either clock is followed.
 */
const RENEW_AFTER_MS = 10 * 60_000;

export class ClockOffset {
  private low: number | undefined;
  private high: number | undefined;
  private since = 0;

  /** Graph's clock minus ours (ms); undefined before the first answer. */
  get offsetMs(): number | undefined {
    if (this.low === undefined || this.high === undefined) return undefined;
    return this.low <= 0 && 0 < this.high ? 0 : this.low;
  }

  /** Take one answer into account; returns how far the offset moved if it started again (0 otherwise). */
  observe(at: number, sentAt: number, receivedAt: number): number {
    const low = at - receivedAt;
    const high = at + 1000 - sentAt;
    const monotonic = performance.now();
    const previous = this.offsetMs;
    if (this.low === undefined || this.high === undefined || low > this.high || high < this.low || monotonic - this.since > RENEW_AFTER_MS) {
      this.low = low;
      this.high = high;
      this.since = monotonic;
      return previous === undefined ? 0 : (this.offsetMs ?? 0) - previous;
    }
    this.low = Math.max(this.low, low);
    this.high = Math.min(this.high, high);
    return 0;
  }
}
