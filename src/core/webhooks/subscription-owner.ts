/**
 * Cluster mode of a webhook-in node's subscriptions (issue 17, docs/cluster.md "Webhook-in subscriptions"): one
 * subscription owner per node across the instances, held with a `LeaseKeeper` on `subscriptions:<nodeId>`. Only the
 * owner creates, renews, recreates and deletes Graph subscriptions; their records live in the cluster's
 * `SubscriptionStore`, every write fenced with the owner's lease, so a new owner adopts the subscriptions the previous
 * one made (no second create) and a stale owner's write is refused: it stops acting (`onStepDown`) and its keeper
 * acquires again. Every instance reads the records (`records()`): a non-owner validates a notification's clientState
 * against the record of its subscription (`clientStateHash`) and knows which resource it is about.
 */
import { StaleFenceError } from '../state/errors';
import { LeaseKeeper, type LeaseLossReason } from '../state/lease-keeper';
import { leaseNames, type Lease, type LeaseHolder, type LeaseStore, type LifecycleQueue, type SubscriptionStore } from '../state/types';
import type { SubscriptionRecord } from './subscription-manager';

const RETRY_OPEN_MS = 5_000;

export interface SubscriptionOwnershipOptions {
  /** The cluster's shared state (waits for the connection; rejected while Redis cannot be used). */
  open(): Promise<{ leases: LeaseStore; subscriptions: SubscriptionStore; lifecycle: LifecycleQueue }>;
  nodeId: string;
  ttlMs: number;
  /** This instance became the owner: start the subscriptions' upkeep (records from `load()`, writes by `save()`). */
  onOwner(lease: Lease): void;
  /** This instance is not (or no longer) the owner: stop acting at once. `holder` when another instance holds it. */
  onStandby(holder: LeaseHolder | undefined, reason: LeaseLossReason | 'held' | 'stale'): void;
  onError(err: Error): void;
  /** Another instance handed a lifecycle notification over (`handOver`): the owner drains them (`drain`). */
  onHandedOver?(): void;
}

export class SubscriptionOwnership {
  readonly name: string;
  private store?: { leases: LeaseStore; subscriptions: SubscriptionStore; lifecycle: LifecycleQueue };
  private unwatch: (() => void) | undefined;
  private keeper?: LeaseKeeper;
  /** The lease this instance acts under (set on acquisition, cleared on loss or a refused write). */
  private acting: Lease | undefined;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;
  private standbyTimer: NodeJS.Timeout | undefined;
  private shared: SubscriptionRecord[] = [];
  private lastHolder = '';
  private reading: Promise<void> | undefined;

  constructor(private readonly options: SubscriptionOwnershipOptions) {
    this.name = leaseNames.subscriptions(options.nodeId);
  }

  /** Opens the shared state (tried again every 5 s) and starts competing for the lease. */
  async start(): Promise<void> {
    if (this.closed || this.keeper) return;
    try {
      this.store = await this.options.open();
    } catch (err) {
      this.options.onError(err as Error);
      if (!this.closed) this.retry = setTimeout(() => void this.start(), RETRY_OPEN_MS);
      return;
    }
    if (this.closed) return;
    const { leases, lifecycle } = this.store;
    this.unwatch = lifecycle.watch(this.options.nodeId, () => this.options.onHandedOver?.());
    this.keeper = new LeaseKeeper({
      leases,
      name: this.name,
      ttlMs: this.options.ttlMs,
      onAcquired: (lease) => {
        this.stopStandbyWatch();
        this.acting = lease;
        this.options.onOwner(lease);
      },
      onLost: (_lease, reason) => {
        this.acting = undefined;
        this.options.onStandby(undefined, reason);
        if (!this.closed) this.watchStandby();
      },
      onError: (err) => this.options.onError(err),
    });
    this.keeper.start();
    this.watchStandby();
  }

  /** The lease while this instance is the owner and may act (checked against the local clock). */
  current(): Lease | undefined {
    const held = this.keeper?.current();
    return held && this.acting && held.fence === this.acting.fence ? held : undefined;
  }

  /** The stored records (any instance). */
  async load(): Promise<SubscriptionRecord[]> {
    if (!this.store) return [];
    const stored = await this.store.subscriptions.read(this.name);
    this.shared = stored?.value ?? [];
    return this.shared.map((r) => ({ ...r }));
  }

  /** The records as last read or written here (no Redis call). */
  get cached(): readonly SubscriptionRecord[] {
    return this.shared;
  }

  /** Fenced write under the owner's lease; refused (StaleFenceError) → this instance stops acting. */
  async save(records: SubscriptionRecord[]): Promise<void> {
    const lease = this.current();
    if (!this.store || !lease) throw new StaleFenceError(this.name, this.acting?.fence ?? 0, 'expired');
    try {
      await this.store.subscriptions.save(lease, records);
      this.shared = records.map((r) => ({ ...r }));
      } catch (err) {
      if (err instanceof StaleFenceError) this.stale();
      throw err;
    }
  }

  /** Fenced removal (the node was removed from the flows, by the owner). */
  async remove(): Promise<void> {
    const lease = this.current();
    if (!this.store || !lease) return;
    await this.store.subscriptions.remove(lease);
  }

  /**
   * The records as every instance sees them: the cached copy, read again when `subscriptionId` is not among them
   * (a subscription the owner made since).
   */
  async records(subscriptionId?: string): Promise<readonly SubscriptionRecord[]> {
    const known = () => subscriptionId === undefined || this.shared.some((r) => r.id === subscriptionId);
    // One read at a time (a flood of unknown ids waits for it rather than each reading Redis); a read that was
    // already under way may predate the owner's write: then one more.
    for (let reads = 0; !known() && reads < 2; reads += 1) {
      this.reading ??= this.load()
        .then(() => undefined, (err: Error) => this.options.onError(err))
        .finally(() => (this.reading = undefined));
      await this.reading;
    }
    return this.shared;
  }

  /**
   * Not the owner: a lifecycle notification (JSON) for the owner, which is signalled at once and drains it; kept in
   * Redis until an owner drains it (one taking over later does).
   */
  async handOver(item: string): Promise<void> {
    const { lifecycle } = this.store ?? (await this.options.open());
    await lifecycle.push(this.options.nodeId, item);
  }

  /** The owner: the lifecycle notifications handed over, removed in Redis only while this lease holds there. */
  async drain(): Promise<string[]> {
    const lease = this.current();
    if (!this.store || !lease) return [];
    return this.store.lifecycle.drain(lease);
  }

  /** Stops competing; releases the lease (another instance takes over at once). */
  async stop(): Promise<void> {
    this.closed = true;
    this.unwatch?.();
    if (this.retry) clearTimeout(this.retry);
    this.stopStandbyWatch();
    this.acting = undefined;
    await this.keeper?.stop();
  }

  /** A write was refused: stop acting now; the keeper finds the lease lost at its next renew and acquires again. */
  private stale(): void {
    if (!this.acting) return;
    this.acting = undefined;
    this.options.onStandby(undefined, 'stale');
    if (this.closed) return;
    // Released (if Redis still names us: the record was written with a higher fence) and acquired again: a new
    // fencing number, or standby behind the instance that holds it.
    const keeper = this.keeper;
    void keeper?.stop().then(() => {
      if (!this.closed) keeper.start();
    });
  }

  /** While not the owner: who holds the lease (for the status) and the records, read every TTL/3. */
  private watchStandby(): void {
    this.stopStandbyWatch();
    const tick = async () => {
      this.standbyTimer = undefined;
      if (this.closed || this.current() || !this.store) return;
      try {
        const holder = await this.store.leases.holder(this.name);
        await this.load();
        if (holder && holder.owner !== this.store.leases.owner && holder.owner !== this.lastHolder && !this.current()) {
          this.lastHolder = holder.owner;
          this.options.onStandby(holder, 'held');
        }
        if (!holder) this.lastHolder = '';
      } catch (err) {
        this.options.onError(err as Error);
      }
      if (!this.closed && !this.current()) this.standbyTimer = setTimeout(() => void tick(), Math.max(100, Math.floor(this.options.ttlMs / 3)));
    };
    this.standbyTimer = setTimeout(() => void tick(), 50);
  }

  private stopStandbyWatch(): void {
    if (this.standbyTimer) clearTimeout(this.standbyTimer);
    this.standbyTimer = undefined;
    this.lastHolder = '';
  }
}
