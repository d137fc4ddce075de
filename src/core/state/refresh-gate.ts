/**
 * Single-flight token refresh across the instances of a cluster (docs/cluster.md "Leases and fencing"): a connector's
 * token request runs only while this instance holds the connector's `token:<id>` lease; the other instances wait and
 * re-read the shared record, and use the tokens the holder stored. Right after acquiring the lease the holder reads
 * the record again (another instance may have refreshed a moment earlier), so one expiry costs one grant however many
 * instances notice it at once. The lease is given back after the grant (the fenced write of the new record happens
 * while it is held: `SharedTokenStore` with `lease`).
 */
import { Ms365Error } from '../errors';
import type { StoredTokens } from '../auth/token-store';
import type { RefreshGate } from '../auth/token-manager';
import { leaseNames, type Lease, type LeaseStore } from './types';

export interface LeaseRefreshGateOptions {
  leases: LeaseStore;
  connectorId: string;
  /** Reads the shared record (the connector's `SharedTokenStore.load`: also sets the version its next save expects). */
  load(): Promise<StoredTokens | undefined>;
  /** Lease TTL: longer than a token request takes; default 60 s. */
  ttlMs?: number;
  /** Pause between looks while another instance refreshes; default 200 ms. */
  pollMs?: number;
  /** Give up waiting after this long; default 90 s. */
  maxWaitMs?: number;
  now?: () => number;
}

export class LeaseRefreshGate implements RefreshGate {
  private held: Lease | undefined;
  private readonly now: () => number;

  constructor(private readonly options: LeaseRefreshGateOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The refresh lease while a grant runs here (for the fenced save of its result). */
  readonly lease = (): Lease | undefined => this.held;

  async run(usable: (stored: StoredTokens) => boolean, grant: (stored: StoredTokens | undefined) => Promise<string>): Promise<{ adopted: StoredTokens } | { token: string }> {
    const { leases, connectorId, load } = this.options;
    const name = leaseNames.token(connectorId);
    const deadline = this.now() + (this.options.maxWaitMs ?? 90_000);
    for (;;) {
      const lease = await leases.acquire(name, this.options.ttlMs ?? 60_000);
      if (lease) {
        this.held = lease;
        try {
          const stored = await load();
          if (stored && usable(stored)) return { adopted: stored };
          return { token: await grant(stored) };
        } finally {
          this.held = undefined;
          await leases.release(lease).catch(() => undefined);
        }
      }
      // Another instance is refreshing: wait for its record.
      await new Promise((resolve) => setTimeout(resolve, this.options.pollMs ?? 200));
      const stored = await load();
      if (stored && usable(stored)) return { adopted: stored };
      if (this.now() > deadline) {
        throw new Ms365Error('token_refresh_wait', `another instance has held the token refresh of connector ${connectorId} too long; trying again with the next request`);
      }
    }
  }
}
