/**
 * Delivers the outbox to one callback URL, in order (a failing head blocks the queue until it is given up), with
 * the retry schedule of `backoff.ts` (reference/open-connectors.md §4). A notification leaves the outbox only on
 * a 2xx. Network errors, 408, 429 and 5xx are retried; other answers (4xx, 3xx) give the notification up at once.
 * Given-up notifications stay in the outbox, listable and re-sendable (`redeliver`). The body is sent as the
 * exact bytes stored and signed (reference/open-connectors.md §2); requests share a keep-alive agent (http-post.ts).
 */
import type { Logger } from '../logger';
import { silentLogger } from '../logger';
import { DEFAULT_RETRIES, isRetryableStatus, retryAfterMs, retryDelayMs } from './backoff';
import type { CallbackEnvelope, Notification } from './envelope';
import { httpPost, type PostFunction } from './http-post';
import type { Outbox, OutboxEntry } from './outbox';
import { NotificationSigner, type CallbackSigning } from './signing';

export type { PostFunction, PostResult } from './http-post';

export interface DeliveredEvent {
  notification: Notification;
  statusCode: number;
  attempts: number;
}

export interface GivenUpEvent {
  notification: Notification;
  statusCode: number;
  attempts: number;
  error: string;
}

export interface SenderState {
  queued: number;
  givenUp: number;
  lastDeliveryAt?: number;
  failingSince?: number;
  lastError?: string;
}

export interface SenderOptions {
  url: string;
  outbox: Outbox;
  signatureKey?: string;
  /** Which signature headers to send (signing.ts); default `open-connectors`. */
  signing?: CallbackSigning;
  retries?: number;
  /** ms per schedule "second" (1000; tests shrink it). */
  unitMs?: number;
  random?: () => number;
  /** Waits `ms` or until `signal` aborts (then resolves early). Injectable for tests. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  now?: () => number;
  post?: PostFunction;
  /** Per-request timeout, ms (default 30 s). */
  timeoutMs?: number;
  logger?: Logger;
  onDelivered?: (event: DeliveredEvent) => void;
  onGivenUp?: (event: GivenUpEvent) => void;
  onState?: (state: SenderState) => void;
}

export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}

/** The callback URL if it is an absolute http(s) URL (normalized), else undefined. */
export function validCallbackUrl(value: unknown): string | undefined {
  if (typeof value !== 'string' || !value.trim()) return undefined;
  try {
    const url = new URL(value.trim());
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.toString() : undefined;
  } catch {
    return undefined;
  }
}

/** The envelope of a stored notification (for output messages and listings). */
export function envelopeOf(notification: Notification): CallbackEnvelope {
  return JSON.parse(notification.body) as CallbackEnvelope;
}

export class CallbackSender {
  private readonly retries: number;
  private readonly unitMs: number;
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  private readonly now: () => number;
  private readonly post: PostFunction;
  private readonly ownPost: { destroy(): void } | undefined;
  private readonly logger: Logger;
  private readonly signer: NotificationSigner;
  /** Aborted on close: cuts the request in flight and any backoff wait. */
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly state: SenderState = { queued: 0, givenUp: 0 };

  constructor(private readonly options: SenderOptions) {
    this.retries = options.retries ?? DEFAULT_RETRIES;
    this.unitMs = options.unitMs ?? 1000;
    this.sleep = options.sleep ?? abortableSleep;
    this.now = options.now ?? Date.now;
    this.logger = options.logger ?? silentLogger;
    // Throws for a signing that needs a key and has none, or an unreadable whsec_ key: before any agent exists.
    this.signer = new NotificationSigner(options.signing, options.signatureKey);
    if (options.post) this.post = options.post;
    else {
      const own = httpPost(options.timeoutMs);
      this.post = own.post;
      this.ownPost = own;
    }
  }

  /** Starts (or nudges) the delivery loop; call after adding to the outbox. */
  kick(): void {
    if (this.stopped) return;
    this.publish();
    if (!this.running) {
      let failed = false;
      this.running = this.loop()
        .catch((err: unknown) => {
          // Only the journal can fail here (e.g. disk full): stop until the next kick rather than spin.
          failed = true;
          this.logger.error(`callback delivery paused: ${(err as Error).message}`);
        })
        .finally(() => {
          this.running = undefined;
          if (!this.stopped && !failed && this.options.outbox.head()) this.kick();
        });
    }
  }

  /** Re-queues every given-up notification (after what is queued) and starts sending; returns how many. */
  async redeliver(): Promise<number> {
    const moved = await this.options.outbox.requeueGivenUp();
    this.kick();
    return moved.length;
  }

  /** Given-up notifications, oldest first. */
  givenUp(): OutboxEntry[] {
    return this.options.outbox.givenUp();
  }

  current(): SenderState {
    return { ...this.state };
  }

  /** Stops: aborts the request in flight and any wait, then waits for the loop to end. */
  async close(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await this.running?.catch(() => undefined);
    this.ownPost?.destroy();
  }

  private publish(): void {
    this.state.queued = this.options.outbox.queuedCount();
    this.state.givenUp = this.options.outbox.givenUpSize();
    this.options.onState?.({ ...this.state });
  }

  private async loop(): Promise<void> {
    const { outbox } = this.options;
    for (let entry = outbox.head(); entry && !this.stopped; entry = outbox.head()) {
      let notification: Notification;
      try {
        notification = await outbox.notification(entry);
      } catch (err) {
        // A journal line that cannot be read back (disk damage): set it aside rather than loop on it.
        this.logger.error(`callback notification ${entry.notificationId}: cannot read it from the outbox: ${(err as Error).message}`);
        await outbox.gaveUp(entry.seq, entry.attempts, 'unreadable outbox entry', this.now());
        this.publish();
        continue;
      }
      if (this.stopped) return;
      const body = Buffer.from(notification.body, 'utf8');
      let headers = this.signer.headers(notification, body, this.now());
      let attempts = 0;
      for (;;) {
        attempts++;
        if (attempts > 1 && this.signer.perAttempt) headers = this.signer.headers(notification, body, this.now());
        const result = await this.post(this.options.url, body, headers, this.abort.signal);
        if (this.stopped) return;
        if (result.status >= 200 && result.status < 300) {
          await outbox.delivered(entry.seq);
          this.state.lastDeliveryAt = this.now();
          delete this.state.failingSince;
          delete this.state.lastError;
          this.publish();
          this.options.onDelivered?.({ notification, statusCode: result.status, attempts });
          break;
        }
        const error = result.status === 0 ? `network error: ${result.error ?? 'no answer'}` : `HTTP ${result.status}`;
        this.state.failingSince ??= this.now();
        this.state.lastError = error;
        const retryable = result.status === 0 || isRetryableStatus(result.status);
        if (!retryable || attempts > this.retries) {
          await outbox.gaveUp(entry.seq, attempts, error, this.now());
          this.logger.warn(`callback notification ${notification.id} given up after ${attempts} attempt(s): ${error}`);
          this.publish();
          this.options.onGivenUp?.({ notification, statusCode: result.status, attempts, error });
          break;
        }
        const fromHeader = result.status === 429 || result.status === 503 ? retryAfterMs(result.retryAfter, this.now(), this.unitMs) : undefined;
        const delay = fromHeader ?? retryDelayMs(attempts, { unitMs: this.unitMs, ...(this.options.random ? { random: this.options.random } : {}) });
        this.publish();
        await this.sleep(delay, this.abort.signal);
        if (this.stopped) return;
      }
    }
  }
}
