/**
 * Callback delivery on a BullMQ queue in Redis (cluster mode, issue 17 item 4; docs/cluster.md): the same contract
 * as `CallbackSender` over the file outbox — in order per node, a notification leaves only on a 2xx, network errors,
 * 408, 429 and 5xx retried on the schedule of `backoff.ts` (a `Retry-After` on 429/503 replaces the delay), other
 * answers given up at once, given-up notifications listable and re-sendable — but shared by every instance:
 * - one queue per callback-out node; job id = notification id, so a notification is never queued twice (delivered
 *   ones are remembered for a day);
 * - global concurrency 1: one delivery at a time across all instances, so the order holds whichever instance works;
 * - a retry keeps the job at the head: the worker rate-limits the whole queue for the delay (kept in Redis, so it holds
 *   for every instance) and puts the job back where it was; attempts are counted in the job data;
 * - a job whose instance died mid-delivery is taken up by another after its lock expires (at-least-once; the
 *   receiver de-duplicates on `message.eventId`).
 * `ms365-callback-out` uses it through `callback-delivery.ts` when it names an `ms365-cluster`.
 */
import { randomBytes } from 'node:crypto';
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type Redis from 'ioredis';
import type { Logger } from '../logger';
import { silentLogger } from '../logger';
import { DEFAULT_RETRIES, isRetryableStatus, retryAfterMs, retryDelayMs } from './backoff';
import type { Notification } from './envelope';
import { httpPost, type PostFunction } from './http-post';
import type { DeliveredEvent, GivenUpEvent } from './sender';
import { NotificationSigner, type CallbackSigning } from './signing';

interface JobData {
  notification: Notification;
  attempts: number;
  /** Random token of the add that created the job. */
  addedBy?: string;
  lastError?: string;
  givenUpAt?: number;
}

export interface GivenUpNotification {
  notification: Notification;
  attempts: number;
  /** When it was queued (ms). */
  queuedAt: number;
  error?: string;
  givenUpAt?: number;
}

export interface QueueSenderOptions {
  /** A new Redis client (BullMQ needs `maxRetriesPerRequest: null`); called for the queue and the worker. */
  createClient(): Redis;
  /** BullMQ key prefix, e.g. `<cluster prefix>:bull`. */
  prefix: string;
  /** The callback-out node id: one queue per node. */
  nodeId: string;
  url: string;
  signatureKey?: string;
  signing?: CallbackSigning;
  retries?: number;
  /** ms per schedule "second" (1000; tests shrink it). */
  unitMs?: number;
  random?: () => number;
  post?: PostFunction;
  timeoutMs?: number;
  /**
   * How long a delivery's lock lasts without renewal (the worker renews it while alive), and how often stalled jobs
   * are looked for: a dead instance's delivery is taken up after about twice this. Default timeoutMs + 30 s.
   */
  lockMs?: number;
  now?: () => number;
  logger?: Logger;
  onDelivered?: (event: DeliveredEvent) => void;
  onGivenUp?: (event: GivenUpEvent) => void;
  /** A failed attempt that will be retried after `delayMs`. */
  onRetry?: (event: RetryEvent) => void;
  /** A job of this instance's worker left the queue (delivered or given up): the counts have changed. */
  onSettled?: () => void;
  /** Errors of the queue's and the worker's connections (Redis away); default: a warning in the log. */
  onError?: (error: Error) => void;
}

export interface RetryEvent {
  notification: Notification;
  attempts: number;
  error: string;
  delayMs: number;
}

/** The queue seen from Redis (every instance's work). */
export interface QueueCounts {
  /** Waiting or being delivered. */
  queued: number;
  givenUp: number;
  /** When the last delivery (by any instance) finished, ms; undefined when none is remembered. */
  lastDeliveryAt?: number;
}

const KEEP_DELIVERED_S = 24 * 60 * 60;

/** The queue name of a node (BullMQ refuses `:` in names). */
export function callbackQueueName(nodeId: string): string {
  return `callback-${nodeId.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
}

export class QueueSender {
  private readonly queue: Queue<JobData>;
  private worker: Worker<JobData> | undefined;
  private readonly clients: Redis[] = [];
  private readonly signer: NotificationSigner;
  private readonly post: PostFunction;
  private readonly ownPost: { destroy(): void } | undefined;
  private readonly retries: number;
  private readonly unitMs: number;
  private readonly now: () => number;
  private readonly logger: Logger;
  private readonly abort = new AbortController();
  private readonly ready: Promise<unknown>;

  constructor(private readonly options: QueueSenderOptions) {
    this.signer = new NotificationSigner(options.signing, options.signatureKey);
    this.retries = options.retries ?? DEFAULT_RETRIES;
    this.unitMs = options.unitMs ?? 1000;
    this.now = options.now ?? Date.now;
    this.logger = options.logger ?? silentLogger;
    if (options.post) this.post = options.post;
    else {
      const own = httpPost(options.timeoutMs);
      this.post = own.post;
      this.ownPost = own;
    }
    this.queue = new Queue<JobData>(callbackQueueName(options.nodeId), { connection: this.client(), prefix: options.prefix });
    this.queue.on('error', (err) => this.reportError(err));
    this.ready = this.queue.setGlobalConcurrency(1);
    // Reported to whoever calls add/start; never an unhandled rejection meanwhile.
    this.ready.catch(() => undefined);
  }

  private reportError(err: Error): void {
    if (this.options.onError) this.options.onError(err);
    else this.logger.warn(`callback queue: ${err.message}`);
  }

  private client(): Redis {
    const client = this.options.createClient();
    this.clients.push(client);
    return client;
  }

  /** Queues a notification; false when one with its id is queued, given up or was delivered within a day. */
  async add(notification: Notification): Promise<boolean> {
    await this.ready;
    // BullMQ ignores an add whose job id exists; the token in the stored data tells which add created the job.
    const token = randomBytes(8).toString('hex');
    await this.queue.add('deliver', { notification, attempts: 0, addedBy: token }, { jobId: notification.id, removeOnComplete: { age: KEEP_DELIVERED_S }, removeOnFail: false, attempts: 1 });
    const stored = await this.queue.getJob(notification.id);
    // A job already delivered and removed in between was ours (it could only have been created by this add).
    return !stored || stored.data.addedBy === token;
  }

  /** Starts working on the queue (every instance may; one delivery at a time across them). */
  async start(): Promise<void> {
    await this.ready;
    if (this.worker) return;
    this.worker = new Worker<JobData>(callbackQueueName(this.options.nodeId), (job) => this.deliver(job), {
      connection: this.client(),
      prefix: this.options.prefix,
      concurrency: 1,
      lockDuration: this.options.lockMs ?? (this.options.timeoutMs ?? 30_000) + 30_000,
      stalledInterval: this.options.lockMs ?? (this.options.timeoutMs ?? 30_000) + 30_000,
      // A delivery cut by a dying instance is taken up again, however often (never failed for stalling).
      maxStalledCount: Number.MAX_SAFE_INTEGER,
    });
    this.worker.on('error', (err) => this.reportError(err));
    this.worker.on('completed', () => this.options.onSettled?.());
    this.worker.on('failed', () => this.options.onSettled?.());
  }

  /** Given-up notifications, oldest first. */
  async givenUp(): Promise<GivenUpNotification[]> {
    const jobs = (await this.queue.getFailed()).filter(Boolean);
    jobs.sort((a, b) => (a.finishedOn ?? 0) - (b.finishedOn ?? 0));
    return jobs.map((job) => ({
      notification: job.data.notification,
      attempts: job.data.attempts,
      queuedAt: job.timestamp,
      error: job.data.lastError,
      givenUpAt: job.data.givenUpAt,
    }));
  }

  /** Queues every given-up notification again (after what is queued), with a fresh retry schedule; how many. */
  async redeliver(): Promise<number> {
    const jobs = (await this.queue.getFailed()).filter(Boolean);
    jobs.sort((a, b) => (a.finishedOn ?? 0) - (b.finishedOn ?? 0));
    for (const job of jobs) {
      await job.updateData({ notification: job.data.notification, attempts: 0 });
      await job.retry('failed');
    }
    return jobs.length;
  }

  /** Notifications waiting or being delivered. */
  async queuedCount(): Promise<number> {
    return this.queue.getJobCountByTypes('wait', 'active', 'delayed', 'prioritized');
  }

  /** Queued and given-up counts and the last delivery, across every instance. */
  async counts(): Promise<QueueCounts> {
    await this.ready;
    const [counts, last] = await Promise.all([
      this.queue.getJobCounts('wait', 'active', 'delayed', 'prioritized', 'failed'),
      this.queue.getCompleted(0, 0),
    ]);
    const queued = (counts.wait ?? 0) + (counts.active ?? 0) + (counts.delayed ?? 0) + (counts.prioritized ?? 0);
    const finishedOn = last[0]?.finishedOn;
    return { queued, givenUp: counts.failed ?? 0, ...(finishedOn !== undefined ? { lastDeliveryAt: finishedOn } : {}) };
  }

  /** Stops: aborts the request in flight (its job is retried), waits at most 2 s for the worker and the queue. */
  async close(): Promise<void> {
    this.abort.abort();
    const bounded = (p: Promise<unknown> | undefined) =>
      Promise.race([(p ?? Promise.resolve()).catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
    await bounded(this.worker?.close());
    await bounded(this.queue.close());
    for (const client of this.clients) client.disconnect();
    this.ownPost?.destroy();
  }

  private async deliver(job: Job<JobData>): Promise<void> {
    const data = job.data;
    const { notification } = data;
    const body = Buffer.from(notification.body, 'utf8');
    const attempts = data.attempts + 1;
    const result = await this.post(this.options.url, body, this.signer.headers(notification, body, this.now()), this.abort.signal);
    // Closing: back to the head of the queue, not counted, the queue not paused (another instance goes on at once).
    if (this.abort.signal.aborted && !(result.status >= 200 && result.status < 300)) throw Worker.RateLimitError();
    if (result.status >= 200 && result.status < 300) {
      this.options.onDelivered?.({ notification, statusCode: result.status, attempts });
      return;
    }
    const error = result.status === 0 ? `network error: ${result.error ?? 'no answer'}` : `HTTP ${result.status}`;
    const retryable = result.status === 0 || isRetryableStatus(result.status);
    if (!retryable || attempts > this.retries) {
      await job.updateData({ ...data, attempts, lastError: error, givenUpAt: this.now() });
      this.logger.warn(`callback notification ${notification.id} given up after ${attempts} attempt(s): ${error}`);
      this.options.onGivenUp?.({ notification, statusCode: result.status, attempts, error });
      throw new UnrecoverableError(error);
    }
    await job.updateData({ ...data, attempts, lastError: error });
    const fromHeader = result.status === 429 || result.status === 503 ? retryAfterMs(result.retryAfter, this.now(), this.unitMs) : undefined;
    const delay = fromHeader ?? retryDelayMs(attempts, { unitMs: this.unitMs, ...(this.options.random ? { random: this.options.random } : {}) });
    // The job goes back to the head of the queue and nobody takes the next one before the delay is over.
    this.options.onRetry?.({ notification, attempts, error, delayMs: delay });
    await this.worker!.rateLimit(Math.max(1, delay));
    throw Worker.RateLimitError();
  }
}
