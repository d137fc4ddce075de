/**
 * Holds one lease for as long as it can (docs/cluster.md "Leases and fencing"): tries to acquire it every
 * `retryMs` while another instance holds it, renews it every `ttlMs / 3` while it is ours, and says when it became
 * ours (`onAcquired`) and when it stopped being ours (`onLost`): a renew that answered false (expired or taken
 * over), or no renew confirmed within the TTL (Redis slow or unreachable: the owner steps down on its own clock
 * before another instance can take over). `stop()` releases it.
 *
 * The owner's work (a poll round, a subscription renewal) checks `current()` before it starts and writes under the
 * lease it got (fenced): a write that still lands late is refused by the store.
 */
import type { Lease, LeaseStore } from './types';

export type LeaseLossReason = 'lost' | 'unconfirmed' | 'stopped';

export interface LeaseKeeperOptions {
  leases: LeaseStore;
  name: string;
  ttlMs: number;
  /** Pause between acquisition attempts while another instance holds the lease; default ttlMs / 3. */
  retryMs?: number;
  onAcquired(lease: Lease): void;
  /** The lease is no longer ours (`stopped`: after `stop()`, released). */
  onLost(lease: Lease, reason: LeaseLossReason): void;
  /** A Redis call failed (the keeper goes on trying). */
  onError?(err: Error): void;
  now?: () => number;
}

export class LeaseKeeper {
  private lease: Lease | undefined;
  /** Local time until which the lease is surely ours: the send time of the last confirmed acquire/renew + TTL. */
  private validUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private running: Promise<void> = Promise.resolve();
  private readonly now: () => number;

  constructor(private readonly options: LeaseKeeperOptions) {
    if (!Number.isInteger(options.ttlMs) || options.ttlMs < 3) throw new RangeError(`lease TTL must be a whole number of ms >= 3, got ${options.ttlMs}`);
    this.now = options.now ?? Date.now;
  }

  /** Starts trying (at once). */
  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** The lease while it is surely ours; undefined otherwise. */
  current(): Lease | undefined {
    if (this.lease && this.now() >= this.validUntil) this.lose('unconfirmed');
    return this.lease;
  }

  /** Stops renewing and releases the lease (the next owner need not wait for the TTL). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
    const lease = this.lease;
    if (!lease) return;
    this.lease = undefined;
    try {
      await this.options.leases.release(lease);
    } catch (err) {
      this.options.onError?.(err as Error);
    }
    this.options.onLost(lease, 'stopped');
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.tick();
    }, ms);
  }

  private lose(reason: LeaseLossReason): void {
    const lease = this.lease;
    if (!lease) return;
    this.lease = undefined;
    this.validUntil = 0;
    this.options.onLost(lease, reason);
  }

  private async tick(): Promise<void> {
    const { leases, name, ttlMs } = this.options;
    const sentAt = this.now();
    try {
      if (this.lease) {
        if (sentAt >= this.validUntil) this.lose('unconfirmed');
        else if (await leases.renew(this.lease)) this.validUntil = sentAt + ttlMs;
        else this.lose('lost');
      }
      if (!this.lease && !this.stopped) {
        const lease = await leases.acquire(name, ttlMs);
        if (lease && this.stopped) {
          await leases.release(lease);
        } else if (lease) {
          this.lease = lease;
          this.validUntil = sentAt + ttlMs;
          this.options.onAcquired(lease);
        }
      }
    } catch (err) {
      this.options.onError?.(err as Error);
      if (this.lease && this.now() >= this.validUntil) this.lose('unconfirmed');
    }
    this.schedule(this.lease ? Math.max(1, Math.floor(ttlMs / 3)) : this.options.retryMs ?? Math.max(1, Math.floor(ttlMs / 3)));
  }
}
