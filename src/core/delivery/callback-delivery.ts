/**
 * Where `ms365-callback-out` keeps its notifications until they are delivered: one interface, two implementations,
 * and the node only chooses (ARCHITECTURE `state/`, docs/cluster.md):
 * - `FileDelivery`: the outbox journal in the user directory (`outbox.ts`) and `CallbackSender` (one instance);
 * - `QueueDelivery`: a BullMQ queue per node in the cluster's Redis (`queue-sender.ts`), worked by every instance
 *   that runs the flow, one delivery at a time across them (several instances).
 * Both keep order per node, the retry schedule of `backoff.ts` with `Retry-After`, and given-up notifications that
 * are listable and re-sendable. Problems are reported through `onProblem` (the node shows them); there is never a
 * fall-back from the queue to the file: while the queue is unavailable, `add` is refused.
 */
import type { Logger } from '../logger';
import { silentLogger } from '../logger';
import type { QueueConnections } from '../state/types';
import type { Notification } from './envelope';
import { Outbox, type OutboxEntry } from './outbox';
import { QueueSender, type QueueCounts } from './queue-sender';
import { CallbackSender, envelopeOf, type DeliveredEvent, type GivenUpEvent, type SenderState } from './sender';
import type { CallbackSigning } from './signing';

/** How to send; absent when the node's URL or signing is invalid (notifications are then kept, not sent). */
export interface SendSettings {
  url: string;
  signing: CallbackSigning;
  signatureKey?: string;
  retries: number;
  /** ms per schedule "second" (1000; tests shrink it). */
  unitMs: number;
}

/** One given-up notification as `msg.list` shows it. */
export interface GivenUpListing {
  eventId: string;
  attempts: number;
  queuedAt: string;
  givenUpAt?: string;
  error?: string;
  envelope: unknown;
}

/** What can keep the node from working: its outbox file, the cluster (at start) or Redis (while running). */
export type DeliveryProblem = { kind: 'outbox' | 'cluster' | 'redis'; error: Error };

export interface DeliveryHooks {
  logger?: Logger;
  onDelivered?: (event: DeliveredEvent) => void;
  onGivenUp?: (event: GivenUpEvent) => void;
  onState?: (state: SenderState) => void;
  onProblem?: (problem: DeliveryProblem) => void;
  /** Lines of the outbox journal that could not be read (file mode, on open). */
  onSkippedLines?: (count: number) => void;
}

export interface CallbackDelivery {
  /** Resolves once the notifications are stored (synced file, or Redis); rejects when they are not. */
  add(notifications: readonly Notification[]): Promise<void>;
  /** Queues every given-up notification again (after what is queued); how many. */
  redeliver(): Promise<number>;
  /** Given-up notifications, oldest first. */
  givenUp(): Promise<GivenUpListing[]>;
  /** Stops delivering; `removed`: the node was deleted (file mode deletes its outbox). */
  close(removed: boolean): Promise<void>;
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

function listing(l: { eventId: string; attempts: number; queuedAt: number; givenUpAt?: number; error?: string; envelope: unknown }): GivenUpListing {
  const givenUpAt = iso(l.givenUpAt);
  return {
    eventId: l.eventId,
    attempts: l.attempts,
    queuedAt: iso(l.queuedAt)!,
    ...(givenUpAt !== undefined ? { givenUpAt } : {}),
    ...(l.error !== undefined ? { error: l.error } : {}),
    envelope: l.envelope,
  };
}

/** The outbox journal `file` and a sender on it (today's single-instance mode). */
export class FileDelivery implements CallbackDelivery {
  private sender: CallbackSender | undefined;
  private closing = false;
  private readonly ready: Promise<Outbox>;

  constructor(
    private readonly file: string,
    send: SendSettings | undefined,
    hooks: DeliveryHooks,
  ) {
    this.ready = Outbox.open(file).then(({ outbox, report }) => {
      if (report.skippedLines) hooks.onSkippedLines?.(report.skippedLines);
      if (this.closing || !send) return outbox;
      this.sender = new CallbackSender({
        ...send,
        outbox,
        ...(send.signatureKey ? { signatureKey: send.signatureKey } : {}),
        logger: hooks.logger ?? silentLogger,
        ...(hooks.onDelivered ? { onDelivered: hooks.onDelivered } : {}),
        ...(hooks.onGivenUp ? { onGivenUp: hooks.onGivenUp } : {}),
        ...(hooks.onState ? { onState: hooks.onState } : {}),
      });
      this.sender.kick();
      return outbox;
    });
    this.ready.catch((error: unknown) => hooks.onProblem?.({ kind: 'outbox', error: error as Error }));
  }

  async add(notifications: readonly Notification[]): Promise<void> {
    await (await this.ready).add(notifications);
    this.sender?.kick();
  }

  async redeliver(): Promise<number> {
    const outbox = await this.ready;
    if (this.sender) return this.sender.redeliver();
    return (await outbox.requeueGivenUp()).length;
  }

  async givenUp(): Promise<GivenUpListing[]> {
    const outbox = await this.ready;
    const body = async (e: OutboxEntry) => {
      const n = await outbox.notification(e).catch(() => undefined);
      return n ? envelopeOf(n) : null;
    };
    return Promise.all(
      outbox.givenUp().map(async (e) =>
        listing({ eventId: e.notificationId, attempts: e.attempts, queuedAt: e.queuedAt, givenUpAt: e.givenUpAt, error: e.lastError, envelope: await body(e) }),
      ),
    );
  }

  async close(removed: boolean): Promise<void> {
    this.closing = true;
    await this.sender?.close();
    const outbox = await this.ready.catch(() => undefined);
    await outbox?.close();
    if (removed) await Outbox.remove(this.file);
  }
}

export interface QueueDeliveryOptions {
  /** The node id: one queue per callback-out node, the same on every instance running the flow. */
  nodeId: string;
  /** The cluster's queue connections; asked again every `retryMs` while it fails (Redis may start later). */
  connections: () => Promise<QueueConnections>;
  /** How long a delivery's lock lasts without renewal (a dead instance's delivery is taken up after ~2x). */
  lockMs?: number;
  /** How long `add` may wait for Redis before it is refused (default 10 s). */
  addTimeoutMs?: number;
  retryMs?: number;
  /** How often the shared counts are read for the status (default 2 s; also after each local change). */
  refreshMs?: number;
}

/** A BullMQ queue in the cluster's Redis (several instances). */
export class QueueDelivery implements CallbackDelivery {
  private sender: QueueSender | undefined;
  private opening: Promise<QueueSender> | undefined;
  private lastOpenError: Error | undefined;
  /** The last cluster problem reported (a retry that fails the same way is not reported again). */
  private reportedOpenError: string | undefined;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private refreshing = false;
  /** The adds in progress, in input order. */
  private adding: Promise<unknown> = Promise.resolve();
  private refreshAgain = false;
  /** Set while Redis is reported unavailable (one report per outage). */
  private redisDown = false;
  private failingSince: number | undefined;
  private lastError: string | undefined;
  private readonly logger: Logger;

  constructor(
    private readonly options: QueueDeliveryOptions,
    private readonly send: SendSettings | undefined,
    private readonly hooks: DeliveryHooks,
  ) {
    this.logger = hooks.logger ?? silentLogger;
    void this.open().catch(() => undefined);
  }

  async add(notifications: readonly Notification[]): Promise<void> {
    const sender = await this.open();
    // One notification after the other, one input after the other: the order in the queue is the delivery order.
    const step = this.adding.then(async () => {
      for (const n of notifications) await sender.add(n);
    });
    this.adding = step.catch(() => undefined);
    const timeoutMs = this.options.addTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`Redis did not store the notifications within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([step, timeout]);
    } finally {
      clearTimeout(timer);
    }
    this.refresh();
  }

  async redeliver(): Promise<number> {
    const moved = await (await this.open()).redeliver();
    this.refresh();
    return moved;
  }

  async givenUp(): Promise<GivenUpListing[]> {
    const list = await (await this.open()).givenUp();
    return list.map((g) =>
      listing({ eventId: g.notification.id, attempts: g.attempts, queuedAt: g.queuedAt, givenUpAt: g.givenUpAt, error: g.error, envelope: envelopeOf(g.notification) }),
    );
  }

  /** Closes this instance's worker and connections; the queue stays in Redis (other instances may still run it). */
  async close(_removed: boolean): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    await this.sender?.close();
  }

  /** The sender once the cluster answers; a failed attempt is reported and retried after `retryMs`. */
  private open(): Promise<QueueSender> {
    if (this.closed) return Promise.reject(new Error('closed'));
    if (this.sender) return Promise.resolve(this.sender);
    if (this.lastOpenError && !this.opening) return Promise.reject(this.lastOpenError);
    this.opening ??= this.connect().catch((error: unknown) => {
      this.opening = undefined;
      this.lastOpenError = error as Error;
      if (!this.closed) {
        if ((error as Error).message !== this.reportedOpenError) this.hooks.onProblem?.({ kind: 'cluster', error: error as Error });
        this.reportedOpenError = (error as Error).message;
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.lastOpenError = undefined;
          void this.open().catch(() => undefined);
        }, this.options.retryMs ?? 5_000);
        this.retryTimer.unref();
      }
      throw error;
    });
    return this.opening;
  }

  private async connect(): Promise<QueueSender> {
    const sender = this.createSender(await this.options.connections());
    if (this.closed) {
      await sender.close();
      throw new Error('closed');
    }
    this.sender = sender;
    this.lastOpenError = undefined;
    this.reportedOpenError = undefined;
    if (this.send) await sender.start();
    this.refreshTimer = setInterval(() => this.refresh(), this.options.refreshMs ?? 2_000);
    this.refreshTimer.unref();
    this.refresh();
    return sender;
  }

  private createSender(connections: QueueConnections): QueueSender {
    const send = this.send;
    return new QueueSender({
      createClient: () => {
        const client = connections.createClient();
        // Commands wait while Redis is away (BullMQ's choice); the node says so at once, once per outage.
        client.on('error', (error: Error) => this.redisProblem(error));
        client.on('ready', () => this.redisBack());
        return client;
      },
      prefix: connections.prefix,
      nodeId: this.options.nodeId,
      // Without valid settings the worker never starts: the queue only keeps what comes in.
      url: send?.url ?? 'http://invalid.invalid/',
      ...(send ? { signing: send.signing, retries: send.retries, unitMs: send.unitMs } : {}),
      ...(send?.signatureKey ? { signatureKey: send.signatureKey } : {}),
      ...(this.options.lockMs !== undefined ? { lockMs: this.options.lockMs } : {}),
      logger: this.logger,
      onDelivered: (event) => {
        this.failingSince = undefined;
        this.lastError = undefined;
        this.hooks.onDelivered?.(event);
        this.refresh();
      },
      onGivenUp: (event) => {
        this.failingSince = undefined;
        this.lastError = undefined;
        this.hooks.onGivenUp?.(event);
        this.refresh();
      },
      onSettled: () => this.refresh(),
      onError: (error) => this.redisProblem(error),
      onRetry: (event) => {
        this.failingSince ??= Date.now();
        this.lastError = event.error;
        this.refresh();
      },
    });
  }

  private redisProblem(error: Error): void {
    if (this.closed || this.redisDown) return;
    this.redisDown = true;
    this.hooks.onProblem?.({ kind: 'redis', error });
  }

  private redisBack(): void {
    if (!this.redisDown) return;
    this.redisDown = false;
    this.refresh();
  }

  /** Reads the shared counts and publishes the state (one read at a time; a request meanwhile reads once more). */
  private refresh(): void {
    if (this.closed || !this.sender || this.redisDown) return;
    if (this.refreshing) {
      this.refreshAgain = true;
      return;
    }
    this.refreshing = true;
    const sender = this.sender;
    sender
      .counts()
      .then((counts: QueueCounts) => {
        if (this.closed || this.redisDown) return;
        const state: SenderState = { queued: counts.queued, givenUp: counts.givenUp };
        if (counts.lastDeliveryAt !== undefined) state.lastDeliveryAt = counts.lastDeliveryAt;
        if (this.failingSince !== undefined && counts.queued > 0) state.failingSince = this.failingSince;
        if (this.lastError !== undefined) state.lastError = this.lastError;
        this.hooks.onState?.(state);
      })
      .catch((error: unknown) => this.redisProblem(error as Error))
      .finally(() => {
        this.refreshing = false;
        if (this.refreshAgain) {
          this.refreshAgain = false;
          this.refresh();
        }
      });
  }
}
