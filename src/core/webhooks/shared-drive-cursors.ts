/**
 * Cluster mode of a webhook-in node's drive resolution (issue 17, docs/cluster.md "Webhook-in subscriptions"): a
 * drive notification names no item, so whichever instance receives it reads the drive's delta from the cursor. With
 * several instances that cursor lives in Redis (`CursorStore`, record `webhook-cursor:<nodeId>:<resource>`) and one
 * round runs at a time across the cluster: the instance takes the key's lease (waiting while another instance runs a
 * round: that round may have started before this notification's change, so this one runs after it), renews it while
 * the round lasts, writes the new cursor and the round's events before the send (fenced), clears them after, and
 * gives the lease back. A round a dead instance left pending is sent again first (same eventIds).
 */
import type { Ms365Event } from '../events';
import type { PollerCursor } from '../changes';
import { leaseNames, type CursorRecord, type CursorStore, type Lease, type LeaseStore } from '../state/types';

export interface SharedDriveCursorOptions {
  open(): Promise<{ leases: LeaseStore; cursors: CursorStore }>;
  nodeId: string;
  /** Lease TTL of one round (renewed every TTL/3 while it lasts). */
  ttlMs: number;
  /** How long a round waits for another instance's round on the same drive; default 60 s. */
  waitMs?: number;
}

export interface DriveRound {
  /** The stored cursor (undefined: none yet). */
  readonly cursor: PollerCursor | undefined;
  /** Events a previous round left unsent (its instance died between the write and the send). */
  readonly pending: Ms365Event[];
  /** Fenced write of the cursor and the events about to be sent (`[]` once sent). */
  save(cursor: PollerCursor, pending: Ms365Event[]): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class SharedDriveCursors {
  constructor(private readonly options: SharedDriveCursorOptions) {}

  /** The stored record of `key` (no lease taken). */
  async read(key: string): Promise<CursorRecord | undefined> {
    const { cursors } = await this.options.open();
    return (await cursors.read(leaseNames.webhookCursor(this.options.nodeId, key)))?.value;
  }

  /** Runs `round` under the drive's lease with its stored record; the lease is released afterwards. */
  async run(resource: string, round: (state: DriveRound) => Promise<void>): Promise<void> {
    const { leases, cursors } = await this.options.open();
    const name = leaseNames.webhookCursor(this.options.nodeId, resource);
    const { ttlMs } = this.options;
    const deadline = Date.now() + (this.options.waitMs ?? 60_000);
    let lease: Lease | undefined;
    while (!(lease = await leases.acquire(name, ttlMs))) {
      if (Date.now() > deadline) throw new Error(`another instance kept the drive cursor of ${resource} for longer than ${this.options.waitMs ?? 60_000} ms`);
      await sleep(Math.min(200, Math.max(20, Math.floor(ttlMs / 10))));
    }
    const held = lease;
    const renewal = setInterval(() => void leases.renew(held).catch(() => undefined), Math.max(1, Math.floor(ttlMs / 3)));
    try {
      const stored = await cursors.read(name);
      const record: CursorRecord | undefined = stored?.value;
      await round({
        cursor: record?.cursor,
        pending: record?.pending ?? [],
        save: (cursor, pending) => cursors.save(held, { cursor, pending }),
      });
    } finally {
      clearInterval(renewal);
      await leases.release(held).catch(() => undefined);
    }
  }
}
