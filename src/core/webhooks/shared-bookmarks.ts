/**
 * Cluster mode of a webhook-in node's catch-up bookmarks (issue 17 item 3, docs/cluster.md "Webhook-in
 * subscriptions"): every instance that hears from a subscription (a notification, a renewal) moves the resource's
 * bookmark forward in Redis (`BookmarkStore.advance`, a Lua max: never backwards, whoever writes last) and records
 * the versions the notification delivered; the subscription owner's catch-up round reads it
 * (`catch-up.ts` `sharedBookmark`). Writes are coalesced per resource and sent one batch at a time, off the
 * notification's path; while Redis fails they are kept (merged) and tried again every 5 s, one error per outage.
 */
import { dedupeKey } from '../changes/filter-engine';
import { leaseNames, type BookmarkStore, type HeardBookmark } from '../state/types';

const RETRY_MS = 5_000;

export interface SharedBookmarkOptions {
  open(): Promise<{ bookmarks: BookmarkStore }>;
  nodeId: string;
  /** Called once per outage. */
  onError(err: Error): void;
}

interface Advance {
  watermark: number;
  seen: Array<[string, number]>;
}

export class SharedBookmarks {
  private pending = new Map<string, Advance>();
  private flushing: Promise<void> | undefined;
  private failedAt: number | undefined;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;
  /** Reported (one error per outage). */
  private outage = false;

  constructor(private readonly options: SharedBookmarkOptions) {}

  /** The record name of `resource`'s bookmark: the catch-up round's lease (`webhookCursor`, key `catchup:<resource>`). */
  name(resource: string): string {
    return leaseNames.webhookCursor(this.options.nodeId, `catchup:${resource}`);
  }

  /** The window of `resource` opens at `watermark` or later; `version` (a notification's object) is delivered. */
  note(resource: string, watermark: number, version?: { objectId: string; updatedMs: number }): void {
    const entry = this.pending.get(resource) ?? { watermark, seen: [] };
    entry.watermark = Math.max(entry.watermark, watermark);
    if (version && Number.isFinite(version.updatedMs)) entry.seen.push([dedupeKey(version.objectId, version.updatedMs), version.updatedMs]);
    this.pending.set(resource, entry);
    if (this.failedAt !== undefined) return; // the retry timer sends it
    void this.flush().catch(() => undefined);
  }

  /** Sends what is noted (rejects while Redis fails; kept for the retry). */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing.then(() => (this.pending.size ? this.flush() : undefined));
    if (!this.pending.size) return Promise.resolve();
    this.flushing = this.write().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  async read(resource: string): Promise<HeardBookmark | undefined> {
    await this.flush();
    const { bookmarks } = await this.options.open();
    return bookmarks.read(this.name(resource));
  }

  /** `msg.reset`: the bookmark of `resource` is forgotten (what is noted but not sent too). */
  async remove(resource: string): Promise<void> {
    this.pending.delete(resource);
    const { bookmarks } = await this.options.open();
    await bookmarks.remove(this.name(resource));
  }

  close(): void {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
  }

  private async write(): Promise<void> {
    const batch = this.pending;
    this.pending = new Map();
    try {
      const { bookmarks } = await this.options.open();
      for (const [resource, entry] of batch) {
        await bookmarks.advance(this.name(resource), entry.watermark, entry.seen);
        batch.delete(resource);
      }
      this.failedAt = undefined;
      this.outage = false;
    } catch (err) {
      // Kept: merged with what was noted meanwhile, tried again in 5 s.
      for (const [resource, entry] of batch) {
        const later = this.pending.get(resource);
        this.pending.set(resource, later ? { watermark: Math.max(later.watermark, entry.watermark), seen: [...entry.seen, ...later.seen] } : entry);
      }
      if (!this.outage) this.options.onError(err as Error);
      this.outage = true;
      this.failedAt = Date.now();
      if (!this.closed && !this.retry) {
        this.retry = setTimeout(() => {
          this.retry = undefined;
          this.failedAt = undefined;
          void this.flush().catch(() => undefined);
        }, RETRY_MS);
        this.retry.unref?.();
      }
      throw err;
    }
  }
}
