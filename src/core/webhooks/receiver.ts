/**
 * The webhook receiver's orchestration (CONTRACT "ms365-webhook-in", `reference/graph.md` §1–§4, §11.4), without
 * Node-RED: what happens to a notification batch once it has been answered 202, and the subscriptions' upkeep.
 * - Rich batches: `validationTokens` verified (`validation-tokens.ts`, jose) before any item is used.
 * - Each item: `clientState` checked in constant time; lifecycle events acted on (reauthorize, recreate, catch up);
 *   a drive notification, whatever its `resourceData`, resolved through the delta of its subscription's resource; an
 *   Outlook item deduplicated (subscription, change type, id, etag), decrypted or fetched, normalized to the event.
 * - Catch-up after a gap (`catch-up.ts`): drive resources read their delta, Outlook collections their changes since
 *   the bookmark; versions a notification delivered are not emitted twice.
 * - Crash safety through the `WebhookCursors` the adapter gives (the node's state file): the cursor of a round and its
 *   events are stored before the send.
 * - Cluster mode (issue 17 item 3, docs/cluster.md): with `sharedDedupe` (the cluster's `DedupeStore`, keys scoped to
 *   the node by the adapter), an Outlook item is also claimed across instances, so a notification that reaches two
 *   instances (Graph's retries may go to another one behind a load balancer) comes out once. With
 *   `sharedSubscriptions`, one instance owns the node's subscriptions (`subscription-owner.ts`): only it creates,
 *   renews, recreates and deletes them, the records in Redis (fenced); the others stand by, answer notifications and
 *   check their clientState against the shared records. With `sharedDriveCursors`, drive cursors live in Redis and
 *   one resolution round runs at a time across the instances (`shared-drive-cursors.ts`).
 * The adapter (`src/nodes/ms365-webhook-in.ts`) owns the HTTP route, the configuration checks and Node-RED's I/O.
 */
import { eventTopic, type Ms365Event } from '../events';
import type { ElementKey } from '../elements';
import { GraphError, MissingPermissionError, type GraphClient } from '../graph/client';
import { pollResource, type PollerCursor } from '../changes';
import { startDelta } from '../changes/delta-engine';
import { serialRounds } from '../changes/serial-rounds';
import type { EngineContext } from '../changes/shared';
import { parsePollerConfiguration, type ResourceConfig } from '../opencon/poller-config';
import { createHash, timingSafeEqual } from 'node:crypto';
import { BoundedSet } from './bounded-set';
import { advanceBookmark, CATCH_UP_SLACK_MS, catchUpQuery, sharedBookmark, versionKey } from './catch-up';
import { SharedBookmarks } from './shared-bookmarks';
import { clientStateCheck, driveResourceOf, normalizeNotification, notificationKey, objectTypeOf, withoutClientState, type NotificationBatch, type NotificationItem } from './notifications';
import { decryptResourceData, isEncryptedContent } from './rich-notifications';
import { NotOwnerError, SubscriptionManager, type SubscriptionRecord, type SubscriptionSpec } from './subscription-manager';
import { SubscriptionOwnership } from './subscription-owner';
import { SharedDriveCursors } from './shared-drive-cursors';
import { StaleFenceError } from '../state/errors';
import { isDriveResource } from './subscription-specs';
import { ValidationTokenVerifier } from './validation-tokens';
import { journaledItem, type ClientStateEvidence, type NotificationJournal } from './notification-journal';
import type { BookmarkStore, CursorStore, DedupeStore, LeaseStore, LifecycleQueue, SubscriptionStore } from '../state/types';

/**
 * How long a notification is claimed across instances: Graph retries an unanswered notification for up to 4 hours
 * (reference/graph.md §2.2, "change-notifications-delivery-webhooks"), plus an hour of slack.
 */
export const SHARED_DEDUPE_TTL_S = 5 * 60 * 60;

/** Crash-safe cursor storage (the adapter's state file and context mirror): drive cursors and catch-up bookmarks. */
/** The webhook node's statuses (texts in its message catalogs, `locales/<lang>/ms365-webhook-in.json`). */
export type WebhookStatusKey =
  | 'subscribing'
  | 'listening'
  | 'subscriptions'
  | 'subscribeFailed'
  | 'subscriptionFailed'
  | 'missingPermission'
  | 'received'
  | 'receivedDropped'
  | 'receivedInvalid'
  | 'standby'
  | 'standbyWaiting'
  | 'standbyReceived';

export interface WebhookCursors {
  readonly loaded: Promise<void>;
  get(key: string): PollerCursor | undefined;
  note(key: string, cursor: PollerCursor): void;
  flush(): Promise<void>;
  beforeSend(key: string, cursor: PollerCursor, pending: Ms365Event[]): Promise<void>;
  afterSend(): Promise<void>;
  close(removed: boolean): Promise<void>;
}

export type StatusFill = 'green' | 'yellow' | 'red' | 'grey';

export interface WebhookReceiverOptions {
  graph: GraphClient;
  elementKey: ElementKey;
  instanceName: string;
  /** `/me` or `/users/{id}`. */
  mePath: string;
  clientState: string;
  fetchResource: boolean;
  /** PEM private key of the encryption certificate (rich notifications). */
  privateKey?: string;
  /** Full URL Graph posts to. */
  notificationUrl: string;
  /** Resolved specs (`me/` rewritten, resource data decided). */
  specs: SubscriptionSpec[];
  resourceData?: { certificate: string; certificateId: string };
  /** Identity platform host (its OpenID configuration gives the token-signing keys) and our client id. */
  authorityHost: string;
  appId: string;
  cursors: WebhookCursors;
  /**
   * Where each batch is written durably before it is answered 202 (`notification-journal.ts`); its unfinished batches
   * are replayed once the subscriptions are started. Without it, `receive` only queues (at most once across a crash).
   */
  journal?: NotificationJournal;
  /**
   * Cluster mode: the notification dedupe set shared by every instance (claim = first to see it). When it fails
   * (Redis away) the item still comes out (at least once) and the error is reported once per outage.
   */
  sharedDedupe?: DedupeStore;
  /**
   * Cluster mode: one subscription owner per node across the instances (lease `subscriptions:<nodeId>`), the records
   * in the cluster's `SubscriptionStore` instead of `loadSubscriptions` / `saveSubscriptions`.
   */
  sharedSubscriptions?: {
    open(): Promise<{ leases: LeaseStore; subscriptions: SubscriptionStore; lifecycle: LifecycleQueue }>;
    nodeId: string;
    ttlMs: number;
  };
  /**
   * Cluster mode: drive cursors in the cluster's `CursorStore`, one resolution round at a time across the instances
   * (`shared-drive-cursors.ts`); catch-up bookmarks in its `BookmarkStore`, advanced by every instance
   * (`shared-bookmarks.ts`), each catch-up round run by the subscription owner under the bookmark's lease.
   */
  sharedDriveCursors?: {
    open(): Promise<{ leases: LeaseStore; cursors: CursorStore; bookmarks: BookmarkStore }>;
    nodeId: string;
    ttlMs: number;
  };
  loadSubscriptions(): Promise<SubscriptionRecord[]>;
  saveSubscriptions(records: SubscriptionRecord[]): Promise<void>;
  /** Output 1: one change event. */
  sendEvent(event: Ms365Event, topic: string): void;
  /** Output 2: lifecycle and subscription events. */
  sendSide(topic: string, payload: unknown): void;
  /** The status to show, as a message key of the node's catalog (`ms365-webhook-in.status.<key>`) and its parameters. */
  status(fill: StatusFill, key: WebhookStatusKey, params?: Record<string, string | number>): void;
  warn(message: string): void;
  error(message: string, item?: unknown): void;
}

/** An event the poller engines produced for the receiver (drive delta, catch-up): source "webhook", no pollDate. */
function asWebhookEvent({ pollDate: _pollDate, ...event }: Ms365Event): Ms365Event {
  return { ...event, source: 'webhook' };
}

const bookmarkKey = (resource: string) => `catchup:${resource}`;

export class WebhookReceiver {
  private readonly seen = new BoundedSet(10_000);
  /** Versions (id + etag) already emitted, by a notification or a catch-up: neither path emits one twice. */
  private readonly versionsSeen = new BoundedSet(10_000);
  private readonly abort = new AbortController();
  private manager: SubscriptionManager;
  private readonly ownership: SubscriptionOwnership | undefined;
  /** Cluster mode, not the owner: who is (for the status), '' while unknown. */
  private standbyOwner: string | undefined;
  private readonly ownershipErrors = new Set<string>();
  private readonly driveCursors: SharedDriveCursors | undefined;
  private readonly bookmarks: SharedBookmarks | undefined;
  /** Cluster mode, the owner: its manager has started (handed-over lifecycle notifications can be acted on). */
  private ownerReady = false;
  private lifecycleDrain: Promise<void> = Promise.resolve();
  private lifecycleTimer: NodeJS.Timeout | undefined;
  private readonly tokens: ValidationTokenVerifier;
  private mismatches = 0;
  /** When the shared dedupe set last failed, while it fails (one error per outage; tried again after 5 s). */
  private sharedDedupeFailedAt: number | undefined;
  private received = 0;
  private invalidTokens = 0;
  private closing = false;
  /** Batches answered 202 (or replayed) and not yet handled, in arrival order, with their journal entry. */
  private queued: QueuedBatch[] = [];
  /** Items replayed from the journal: the clientState evidence stored there instead of the secret. */
  private readonly journaled = new WeakMap<NotificationItem, ClientStateEvidence>();
  /** When the journal last failed to take a batch (one warning per outage). */
  private journalFailing = false;
  private readonly clientStateMatches: (received: unknown) => boolean;

  /** Drive notification or catch-up: every change since the cursor, one event per item (rounds of one resource in turn). */
  private readonly resolveDrive: (resource: string) => Promise<void>;
  /** One catch-up round of an Outlook collection from its bookmark (rounds of one resource in turn). */
  private readonly catchUpFromBookmark: (resource: string) => Promise<void>;

  constructor(private readonly o: WebhookReceiverOptions) {
    this.clientStateMatches = clientStateCheck(o.clientState);
    this.tokens = new ValidationTokenVerifier({ authorityHost: o.authorityHost, appId: o.appId, now: () => o.graph.serverNow(), signal: this.abort.signal });
    this.manager = this.createManager();
    this.driveCursors = o.sharedDriveCursors ? new SharedDriveCursors(o.sharedDriveCursors) : undefined;
    this.bookmarks = o.sharedDriveCursors
      ? new SharedBookmarks({ open: o.sharedDriveCursors.open, nodeId: o.sharedDriveCursors.nodeId, onError: (err) => o.error(`catch-up bookmarks (cluster): ${err.message}; kept and tried again every 5 s`) })
      : undefined;
    // A receive-only node (no subscriptions) has nothing to own.
    const shared = o.specs.length ? o.sharedSubscriptions : undefined;
    this.ownership = shared
      ? new SubscriptionOwnership({
          open: shared.open,
          nodeId: shared.nodeId,
          ttlMs: shared.ttlMs,
          onOwner: () => {
            this.ownershipErrors.clear(); // Redis answers again: the next outage is reported anew
            void this.ownerTerm();
          },
          onStandby: (holder) => {
            if (holder) this.ownershipErrors.clear();
            this.standby(holder?.owner);
          },
          onError: (err) => this.ownershipError(err),
          onHandedOver: () => this.drainLifecycle(),
        })
      : undefined;
    this.resolveDrive = serialRounds((resource) => this.driveRound(resource));
    this.catchUpFromBookmark = serialRounds((resource) => this.catchUpRound(resource));
  }

  /** One report per distinct problem (the keeper retries every TTL/3 while Redis is away). */
  private ownershipError(err: Error): void {
    if (this.ownershipErrors.has(err.message)) return;
    this.ownershipErrors.add(err.message);
    this.o.error(`subscription ownership (cluster): ${err.message}`);
  }

  /**
   * Cluster mode, the owner: acts on the lifecycle notifications other instances handed over (signalled through
   * Redis pub/sub; also every lease TTL and on taking over, so none waits for a lost signal). One drain at a time.
   */
  private drainLifecycle(): void {
    const { ownership } = this;
    if (!ownership || !this.ownerReady || this.closing) return;
    this.lifecycleDrain = this.lifecycleDrain.then(async () => {
      if (!this.ownerReady || this.closing) return;
      let items: string[];
      try {
        items = await ownership.drain();
      } catch (err) {
        this.ownershipError(err as Error);
        return;
      }
      for (const raw of items) {
        let handed: { lifecycleEvent?: unknown; subscriptionId?: unknown };
        try {
          handed = JSON.parse(raw) as typeof handed;
        } catch {
          continue;
        }
        await this.actOnLifecycle(String(handed.lifecycleEvent), String(handed.subscriptionId)).catch((err: Error) => this.o.error(err.message));
      }
    });
  }

  /** The owner (or a single instance) acts on a lifecycle notification: reauthorize, recreate, catch up. */
  private async actOnLifecycle(event: string, subscriptionId: string): Promise<void> {
    if (event === 'reauthorizationRequired') await this.manager.reauthorize(subscriptionId);
    else if (event === 'subscriptionRemoved') await this.manager.recreate(subscriptionId);
    else if (event === 'missed') {
      const record = this.recordsFor().find((r) => r.id === subscriptionId);
      if (record) await this.catchUp(record.resource);
    }
  }

  private createManager(): SubscriptionManager {
    const { o } = this;
    const ownership = () => this.ownership;
    return new SubscriptionManager({
      graph: o.graph,
      now: () => o.graph.serverNow(), // expirations and renewals on Graph's clock
      notificationUrl: o.notificationUrl,
      clientState: o.clientState,
      resourceData: o.resourceData,
      specs: o.specs,
      load: () => ownership()?.load() ?? o.loadSubscriptions(),
      save: (records) => ownership()?.save(records) ?? o.saveSubscriptions(records),
      mayAct: o.sharedSubscriptions && o.specs.length ? () => ownership()?.current() !== undefined : undefined,
      onEvent: (event) => {
        o.sendSide(`subscription/${event.kind}`, event);
        if (event.kind === 'created' || event.kind === 'recreated') void this.catchUp(event.resource, { onlyIfBookmarked: event.kind === 'created' });
        else if (event.kind === 'renewed' || event.kind === 'reauthorized') {
          this.heard(event.resource, o.graph.serverNow());
          void o.cursors.flush().catch((err: Error) => o.warn(`saving catch-up bookmarks: ${err.message}`));
        }
        if (event.kind === 'failed') {
          if (event.missingPermission) o.status('red', 'missingPermission', { permission: event.missingPermission });
          else o.status('red', 'subscriptionFailed');
          o.error(`subscription for ${event.resource} failed: ${event.error ?? ''}`);
        }
      },
    });
  }

  /** The subscriptions as they are now (cluster mode, standing by: as the owner last stored them). */
  get subscriptions(): readonly SubscriptionRecord[] {
    return this.standbyOwner === undefined ? this.manager.current : this.sharedRecords;
  }

  /** Cluster mode: whether this instance owns the node's subscriptions now. */
  get owner(): boolean {
    return this.ownership?.current() !== undefined;
  }

  private sharedRecords: readonly SubscriptionRecord[] = [];

  /**
   * The records a notification's resource is looked up in: ours, or (standing by) the owner's as last read (every
   * TTL/3, and whenever a clientState had to be checked against them): no Redis read per notification.
   */
  private recordsFor(): readonly SubscriptionRecord[] {
    if (!this.ownership || this.standbyOwner === undefined) return this.manager.current;
    return (this.sharedRecords = this.ownership.cached);
  }

  /** This instance became the subscription owner: a fresh manager adopts the stored records (renews them) or creates. */
  private async ownerTerm(): Promise<void> {
    this.manager.stop();
    const manager = (this.manager = this.createManager());
    this.standbyOwner = undefined;
    this.ownerReady = false;
    const { specs } = this.o;
    this.o.status('yellow', 'subscribing');
    try {
      await manager.start();
      if (this.closing || manager !== this.manager || !this.owner) return;
      this.ownerReady = true;
      this.drainLifecycle(); // what was handed over before this term
      this.o.status(manager.current.length === specs.length ? 'green' : 'red', 'subscriptions', { count: manager.current.length });
    } catch (err) {
      if (err instanceof StaleFenceError || err instanceof NotOwnerError || this.closing || manager !== this.manager) return;
      this.o.status('red', 'subscribeFailed');
      this.o.error((err as Error).message);
    }
  }

  /** Not (or no longer) the owner: stop acting at once; the status names the owner when known. */
  private standby(holder: string | undefined): void {
    this.manager.stop();
    this.ownerReady = false;
    if (this.closing) return;
    this.standbyOwner = holder ?? '';
    if (this.standbyOwner) this.o.status('yellow', 'standby', { owner: this.standbyOwner });
    else this.o.status('yellow', 'standbyWaiting');
    if (this.ownership) void this.ownership.records().then((records) => (this.sharedRecords = records));
  }

  /** Events a crash left unsent (the cursors' `resend`): sent again unless already sent in this run. */
  resend(events: Ms365Event[]): void {
    for (const event of events) this.emit(event);
  }

  /** Drive cursors first (a change made once a subscription exists is after its cursor), then the subscriptions. */
  async start(): Promise<void> {
    try {
      await this.startSubscriptions();
    } finally {
      await this.replayJournal();
    }
  }

  /**
   * The batches a crash left in the journal (answered 202, events perhaps not handed on): through the normal path
   * once the subscriptions' records are known (same eventIds; the clientState evidence checked as the secret was).
   */
  private async replayJournal(): Promise<void> {
    const { journal } = this.o;
    if (!journal || this.closing) return;
    try {
      const { replay } = await journal.open();
      if (replay.length) this.o.warn(`replaying ${replay.length} notification batch(es) answered before a crash (events may repeat, same eventIds)`);
      for (const entry of replay) {
        entry.batch.items.forEach((item, i) => this.journaled.set(item, entry.evidence[i] ?? { none: true }));
        this.queue({ batch: entry.batch, seq: entry.seq, at: entry.at });
      }
    } catch (err) {
      this.o.error(`notification journal: ${(err as Error).message}`);
    }
  }

  private async startSubscriptions(): Promise<void> {
    const { specs } = this.o;
    this.o.status('yellow', specs.length ? 'subscribing' : 'listening');
    try {
      for (const { resource } of specs) {
        if (!isDriveResource(resource)) continue;
        // A failure here is retried by the first notification's resolution (ensureDriveCursor again).
        await this.prepareDriveCursor(resource).catch((err: Error) => this.o.error(`drive cursor for ${resource}: ${err.message}`));
      }
      if (this.ownership) {
        this.standbyOwner = '';
        const every = Math.max(1000, this.o.sharedSubscriptions?.ttlMs ?? 15_000);
        this.lifecycleTimer = setInterval(() => this.drainLifecycle(), every);
        await this.ownership.start();
        return;
      }
      await this.manager.start();
      if (!this.closing) {
        const fill = this.manager.current.length === specs.length ? 'green' : 'red';
        if (specs.length) this.o.status(fill, 'subscriptions', { count: this.manager.current.length });
        else this.o.status(fill, 'listening');
      }
    } catch (err) {
      this.o.status('red', 'subscribeFailed');
      this.o.error((err as Error).message);
    }
  }

  /** A clock jump (ours or Graph's): a subscription may have expired on Graph's clock; renew or recreate it now. */
  recheck(): void {
    this.manager.recheck();
  }

  /**
   * A parsed batch the adapter has just answered 202 (§2.2: the answer goes out before any work): accepted in the
   * event loop's check phase (`setImmediate`), after every request of the same turn has been read and answered, each
   * batch in arrival order with its own microtasks run before the next one starts (as when each was accepted in its
   * own request's turn).
   */
  enqueue(batch: NotificationBatch): void {
    this.queue({ batch });
  }

  /**
   * A parsed batch about to be answered: journaled durably first (group commit with the batches that arrive
   * together), then queued as `enqueue` does. Rejects when it could not be journaled or the node is closing: the
   * adapter answers 5xx, so Graph sends it again (never a 202 without the journal). Without a journal: `enqueue`.
   */
  async receive(batch: NotificationBatch): Promise<void> {
    if (this.closing) throw new Error('closing');
    const { journal } = this.o;
    if (!journal) return this.enqueue(batch);
    const at = this.o.graph.serverNow();
    let seq: number;
    try {
      seq = await journal.add(batch.items.map((item) => journaledItem(item, this.clientStateMatches(item.clientState), sha256Hex)), batch.validationTokens, at);
    } catch (err) {
      if (!this.journalFailing) this.o.error(`the notification journal cannot be written (${(err as Error).message}); notifications are answered 503 so Graph sends them again`);
      this.journalFailing = true;
      throw err;
    }
    this.journalFailing = false;
    if (this.closing) return; // journaled: replayed at the next start
    this.queue({ batch, seq, at });
  }

  private queue(entry: QueuedBatch): void {
    if (this.closing) return;
    this.queued.push(entry);
    setImmediate(() => this.acceptQueued());
  }

  private acceptQueued(): void {
    const entry = this.queued.shift();
    if (entry) void this.accept(entry.batch, entry).catch((err: Error) => this.o.error(err.message));
  }

  /**
   * A parsed batch, already answered 202 (§2.2): tokens checked, then each item in turn. `journal`: its entry, marked
   * handed on once every item is through (not when the node closed meanwhile: then it is replayed at the next start).
   */
  async accept(batch: NotificationBatch, journal: { seq?: number; at?: number } = {}): Promise<void> {
    const receivedAt = journal.at ?? this.o.graph.serverNow(); // bookmarks are on Graph's clock
    const handedOn = () => {
      if (journal.seq !== undefined && !this.closing) this.o.journal?.handedOn(journal.seq);
    };
    if (batch.validationTokens.length || batch.items.some((i) => (i as { encryptedContent?: unknown }).encryptedContent !== undefined)) {
      // §4: a batch with resource data must carry valid tokens (aud = our app, iss = the items' tenant, Graph publisher).
      const tenantIds = [...new Set(batch.items.map((i) => String((i as { tenantId?: unknown }).tenantId ?? '')).filter(Boolean))];
      try {
        // Judged at the instant the batch arrived (a replayed one: when it was journaled, not now).
        await this.tokens.verifyAll(batch.validationTokens, tenantIds, receivedAt);
      } catch (err) {
        this.invalidTokens += batch.items.length;
        if (this.invalidTokens === batch.items.length) this.o.warn(`dropped notifications with invalid validation tokens (${(err as Error).message})`);
        this.o.status('yellow', 'receivedInvalid', { received: this.received, invalid: this.invalidTokens });
        handedOn();
        return;
      }
    }
    for (const item of batch.items) {
      if (this.closing) return;
      try {
        await this.handleItem(item, receivedAt);
        this.received += 1;
      } catch (err) {
        this.o.error((err as Error).message, withoutClientState(item));
      }
    }
    handedOn();
    if (this.standbyOwner) this.o.status('yellow', 'standbyReceived', { owner: this.standbyOwner, received: this.received });
    else if (this.mismatches) this.o.status('green', 'receivedDropped', { received: this.received, dropped: this.mismatches });
    else this.o.status('green', 'received', { received: this.received });
  }

  /** Node closing: stop renewing and save the cursors; removed: delete the subscriptions too (bounded in time). */
  async close(removed: boolean): Promise<void> {
    while (this.queued.length) this.acceptQueued(); // answered 202 already: handled, as they would have been a turn later
    this.closing = true;
    this.abort.abort();
    if (this.lifecycleTimer) clearInterval(this.lifecycleTimer);
    if (this.bookmarks) {
      await withTimeout(this.bookmarks.flush().catch(() => undefined), 2000);
      this.bookmarks.close();
    }
    await this.closeSubscriptions(removed);
    // What was handed on is done (the last sends reach their wires first); the rest is replayed at the next start.
    await new Promise((resolve) => setImmediate(resolve));
    await withTimeout(this.o.journal?.close(removed).catch((err: Error) => this.o.warn(`closing the notification journal: ${err.message}`)) ?? Promise.resolve(), 5000);
  }

  private async closeSubscriptions(removed: boolean): Promise<void> {
    const saveCursors = () => this.o.cursors.close(removed).catch((err: Error) => this.o.warn(`saving drive cursors on close: ${err.message}`));
    const { ownership } = this;
    if (ownership) {
      // Only the owner deletes (removed) or hands over; the lease is released so another instance takes over at once.
      const owner = this.owner;
      this.manager.stop();
      const handOver = async () => {
        if (removed && owner) {
          await this.manager.removeAll().catch((err: Error) => this.o.warn(`deleting subscriptions failed: ${err.message}`));
          await ownership.remove().catch(() => undefined);
        }
        await ownership.stop();
      };
      await withTimeout(handOver().then(saveCursors), removed ? 10_000 : 5000);
      return;
    }
    if (!removed) {
      this.manager.stop();
      await withTimeout(saveCursors(), 5000);
      return;
    }
    await withTimeout(
      this.manager
        .removeAll()
        .catch((err: Error) => this.o.warn(`deleting subscriptions failed: ${err.message}`))
        .then(saveCursors),
      10_000,
    );
  }

  private emit(event: Ms365Event): void {
    if (this.seen.add(event.eventId)) this.o.sendEvent(event, eventTopic(event));
  }

  /** True when this instance handles the item: first claim in the cluster, or no cluster, or the set unavailable. */
  private async claimAcrossInstances(key: string): Promise<boolean> {
    const shared = this.o.sharedDedupe;
    if (!shared) return true;
    // While it fails, items do not each wait for Redis's retries: the set is tried again every 5 s.
    if (this.sharedDedupeFailedAt !== undefined && Date.now() - this.sharedDedupeFailedAt < 5_000) return true;
    try {
      const first = await shared.claim(key, SHARED_DEDUPE_TTL_S);
      this.sharedDedupeFailedAt = undefined;
      return first;
    } catch (err) {
      if (this.sharedDedupeFailedAt === undefined) {
        this.o.error(`the cluster's notification dedupe set is unavailable (${(err as Error).message}); notifications go out without the check across instances (a repeat is possible, same eventId) until it is back`);
      }
      this.sharedDedupeFailedAt = Date.now();
      return true;
    }
  }

  /**
   * Cluster mode: a clientState other than ours may still be right: the owner that created the subscription may have
   * another (a default derived from its own installation secret). Checked against the record's hash, constant time.
   */
  private async matchesSharedRecord(item: NotificationItem, digest: Buffer): Promise<boolean> {
    if (!this.ownership) return false;
    const records = await this.ownership.records(String(item.subscriptionId ?? ''));
    this.sharedRecords = records;
    const expected = records.find((r) => r.id === item.subscriptionId)?.clientStateHash;
    if (!expected || !/^[0-9a-f]{64}$/.test(expected)) return false;
    return timingSafeEqual(Buffer.from(expected, 'hex'), digest);
  }

  /**
   * The clientState check (§2.2): ours, else (cluster) the owner's record hash. An item replayed from the journal
   * carries what was stored instead of the secret: the check's result, or the secret's hash checked the same way.
   */
  private async clientStateOk(item: NotificationItem): Promise<boolean> {
    const evidence = this.journaled.get(item);
    if (!evidence) {
      if (this.clientStateMatches(item.clientState)) return true;
      return typeof item.clientState === 'string' && this.matchesSharedRecord(item, createHash('sha256').update(item.clientState).digest());
    }
    if ('ok' in evidence) return true;
    return 'sha256' in evidence && this.matchesSharedRecord(item, Buffer.from(evidence.sha256, 'hex'));
  }

  private engineContext(): EngineContext {
    return { graph: this.o.graph, elementKey: this.o.elementKey, instanceName: this.o.instanceName, pollStart: this.o.graph.serverNow(), signal: this.abort.signal };
  }

  /**
   * Drive notifications name no item (graph.md §2.1): the poller's delta engine resolves them. One drive delta
   * resource per subscribed drive resource, its cursor kept by the adapter's cursors (started by a silent enumeration:
   * nothing old replayed).
   */
  private driveConfig(resource: string): ResourceConfig {
    return parsePollerConfiguration(
      { driveItems: { url: `/${resource.replace(/^\/+|\/+$/g, '')}/delta`, idField: 'id', mode: 'delta' } },
      { elementKey: this.o.elementKey, timezone: 'UTC', mePath: this.o.mePath },
    )[0]!;
  }

  /** At start: the drive's cursor exists (here, or in Redis in cluster mode) before its subscription does. */
  private async prepareDriveCursor(resource: string): Promise<void> {
    if (this.driveCursors) await this.driveCursors.run(resource, (round) => this.sharedDriveRound(resource, round, false));
    else await this.ensureDriveCursor(resource);
  }

  private async ensureDriveCursor(resource: string): Promise<PollerCursor> {
    const { cursors } = this.o;
    await cursors.loaded;
    const stored = cursors.get(resource);
    if (stored) return stored;
    const { cursor } = await startDelta(this.engineContext(), this.driveConfig(resource));
    await cursors.beforeSend(resource, cursor, []);
    await cursors.afterSend();
    return cursor;
  }

  /** The new cursor and the events reach the state file before the send (a crash sends them again, same eventIds). */
  private async driveRound(resource: string): Promise<void> {
    if (this.driveCursors) return this.driveCursors.run(resource, (round) => this.sharedDriveRound(resource, round, true));
    const cursor = await this.ensureDriveCursor(resource);
    const round = await pollResource(this.engineContext(), this.driveConfig(resource), cursor);
    const events = round.events.map(asWebhookEvent);
    await this.o.cursors.beforeSend(resource, round.cursor, events);
    for (const event of events) this.emit(event);
    if (round.resynced) this.o.sendSide('lifecycle/resync', { resource, reason: 'drive delta token expired (410); resynced' });
    await this.o.cursors.afterSend();
  }

  /**
   * Cluster mode, under the drive's lease: first what a dead instance left pending, then (when `poll`) one delta round
   * from the stored cursor, written with its events before the send (fenced) and cleared after. No cursor yet: a
   * silent enumeration starts it (nothing old replayed).
   */
  private async sharedDriveRound(resource: string, round: { cursor: PollerCursor | undefined; pending: Ms365Event[]; save(cursor: PollerCursor, pending: Ms365Event[]): Promise<void> }, poll: boolean): Promise<void> {
    let cursor = round.cursor;
    if (cursor && round.pending.length) {
      for (const event of round.pending) this.emit(event);
      await round.save(cursor, []);
    }
    if (!cursor) {
      cursor = (await startDelta(this.engineContext(), this.driveConfig(resource))).cursor;
      await round.save(cursor, []);
    }
    if (!poll) return;
    const result = await pollResource(this.engineContext(), this.driveConfig(resource), cursor);
    const events = result.events.map(asWebhookEvent);
    await round.save(result.cursor, events);
    for (const event of events) this.emit(event);
    if (result.resynced) this.o.sendSide('lifecycle/resync', { resource, reason: 'drive delta token expired (410); resynced' });
    await round.save(result.cursor, []);
  }

  /** The subscription on `resource` delivered (or was confirmed alive) at `at`: a later catch-up starts there. */
  private heard(resource: string, at: number, version?: { objectId: string; updatedMs: number }): void {
    if (!catchUpQuery(resource)) return;
    if (this.bookmarks) {
      // Cluster mode: a Redis max across the instances (catchUpCursor's slack: the window opens a minute earlier).
      this.bookmarks.note(resource, at - CATCH_UP_SLACK_MS, version);
      return;
    }
    const { cursors } = this.o;
    cursors.note(bookmarkKey(resource), advanceBookmark(cursors.get(bookmarkKey(resource)), at, version));
  }

  /**
   * Cluster mode: one catch-up round of an Outlook collection, by the subscription owner only, under the bookmark's
   * `webhook-cursor:` lease (a mutex with a fencing number): first what a dead owner left pending (same eventIds),
   * then the changes since `sharedBookmark` (the later of the last round's cursor and the window the instances
   * advanced), written with the events before the send (fenced) and cleared after.
   */
  private async sharedCatchUpRound(resource: string, driveCursors: SharedDriveCursors, bookmarks: SharedBookmarks): Promise<void> {
    if (this.ownership && !this.owner) return;
    const query = catchUpQuery(resource);
    if (!query) return;
    await driveCursors.run(bookmarkKey(resource), async (round) => {
      if (round.cursor && round.pending.length) {
        for (const event of round.pending) this.emit(event);
        await round.save(round.cursor, []);
      }
      const bookmark = sharedBookmark(round.cursor, await bookmarks.read(resource));
      if (!bookmark) return;
      const { events, cursor } = await this.readSinceBookmark(query, bookmark);
      await round.save(cursor, events);
      for (const event of events) this.emit(event);
      await round.save(cursor, []);
      this.o.sendSide('lifecycle/catchup', { resource, since: new Date(bookmark.watermark).toISOString(), events: events.length });
    });
  }

  /**
   * What changed in an Outlook collection since `bookmark` (its catch-up query through the filter engine), as webhook
   * events, without the versions a notification delivered already; and the cursor after it.
   */
  private async readSinceBookmark(query: { objectType: string; url: string }, bookmark: PollerCursor): Promise<{ events: Ms365Event[]; cursor: PollerCursor }> {
    const [config] = parsePollerConfiguration(
      { [query.objectType]: { url: query.url, idField: 'id' } },
      { elementKey: this.o.elementKey, timezone: 'UTC', mePath: this.o.mePath },
    );
    const round = await pollResource(this.engineContext(), config!, bookmark);
    const events: Ms365Event[] = [];
    for (const polled of round.events) {
      const key = versionKey(polled.objectId, (polled.raw as Record<string, unknown> | undefined)?.['@odata.etag']);
      if (key && !this.versionsSeen.add(key)) continue; // delivered by a notification already
      events.push(asWebhookEvent(polled));
    }
    return { events, cursor: round.cursor };
  }

  /** Cluster mode: whether `resource` has a bookmark (advanced by an instance, or a catch-up round's cursor). */
  private async sharedBookmarkExists(resource: string, driveCursors: SharedDriveCursors, bookmarks: SharedBookmarks): Promise<boolean> {
    if (await bookmarks.read(resource)) return true;
    return (await driveCursors.read(bookmarkKey(resource)))?.cursor !== undefined;
  }

  private async catchUpRound(resource: string): Promise<void> {
    if (this.driveCursors && this.bookmarks) return this.sharedCatchUpRound(resource, this.driveCursors, this.bookmarks);
    const { cursors } = this.o;
    const query = catchUpQuery(resource);
    const bookmark = cursors.get(bookmarkKey(resource));
    if (!query || !bookmark) return;
    const { events, cursor } = await this.readSinceBookmark(query, bookmark);
    await cursors.beforeSend(bookmarkKey(resource), cursor, events);
    for (const event of events) this.emit(event);
    await cursors.afterSend();
    this.o.sendSide('lifecycle/catchup', { resource, since: new Date(bookmark.mode === 'filter' ? bookmark.watermark : this.o.graph.serverNow()).toISOString(), events: events.length });
  }

  /**
   * After a recreate, a `missed` notification or a subscription created anew over a bookmark from an earlier run
   * (`catch-up.ts`): drive resources read their delta; Outlook collections read what changed since the bookmark
   * ($filter on lastModifiedDateTime; deletions in the gap cannot be seen); other resources are reported on output 2
   * (`lifecycle/catchup-needed`).
   */
  private async catchUp(resource: string, options: { onlyIfBookmarked?: boolean } = {}): Promise<void> {
    const { cursors } = this.o;
    try {
      await cursors.loaded;
      if (isDriveResource(resource)) {
        if (!options.onlyIfBookmarked) await this.resolveDrive(resource);
        return;
      }
      if (!catchUpQuery(resource)) {
        if (!options.onlyIfBookmarked) this.o.sendSide('lifecycle/catchup-needed', { resource, reason: 'notifications may have been missed; poll this resource (ms365-poller) to catch up' });
        return;
      }
      const { driveCursors, bookmarks } = this;
      if (driveCursors && bookmarks ? !(await this.sharedBookmarkExists(resource, driveCursors, bookmarks)) : !cursors.get(bookmarkKey(resource))) {
        // A first subscription: nothing before it is owed; later gaps start here.
        if (bookmarks) {
          bookmarks.note(resource, this.o.graph.serverNow()); // no slack: catchUpCursor(at, first)
          await bookmarks.flush();
        } else {
          this.heard(resource, this.o.graph.serverNow());
          await cursors.flush();
        }
        if (!options.onlyIfBookmarked) this.o.sendSide('lifecycle/catchup-needed', { resource, reason: 'no bookmark to catch up from' });
        return;
      }
      await this.catchUpFromBookmark(resource);
    } catch (err) {
      if (err instanceof MissingPermissionError && err.permission) this.o.status('red', 'missingPermission', { permission: err.permission });
      this.o.error(`catch-up of ${resource} failed: ${(err as Error).message}`);
    }
  }

  private async handleItem(item: NotificationItem, receivedAt: number): Promise<void> {
    const { o } = this;
    if (!(await this.clientStateOk(item))) {
      this.mismatches += 1;
      if (this.mismatches === 1) o.warn('dropped a notification whose clientState does not match (counted in the status)');
      return;
    }
    if (item.lifecycleEvent) {
      o.sendSide(`lifecycle/${item.lifecycleEvent}`, withoutClientState(item));
      const id = String(item.subscriptionId);
      if (this.ownership && this.standbyOwner !== undefined) {
        // Standing by (cluster): handed to the owner through Redis, which acts at once (its renewal is the backstop).
        const handed = JSON.stringify({ lifecycleEvent: item.lifecycleEvent, subscriptionId: id });
        await this.ownership.handOver(handed).catch((err: Error) => o.error(`handing ${item.lifecycleEvent} over to the subscription owner failed (${err.message}); its next renewal takes care of it`));
        return;
      }
      await this.actOnLifecycle(item.lifecycleEvent, id);
      return;
    }
    // By id; else by resource: a subscription of an earlier run that Graph still serves (ids lost with memory context).
    const itemResource = String(item.resource ?? '').replace(/^\/+/, '').toLowerCase();
    const records = this.recordsFor();
    const record =
      records.find((r) => r.id === item.subscriptionId) ??
      records.find((r) => itemResource === r.resource.toLowerCase() || itemResource.startsWith(`${r.resource.toLowerCase()}/`));
    const drive = driveResourceOf(item, record?.resource, isDriveResource);
    if (drive) {
      await this.resolveDrive(drive);
      return;
    }
    const key = notificationKey(item);
    if (key && !this.seen.add(key)) return;
    // A replayed item skips the claim: this instance may have claimed it before the crash that cut it off.
    if (key && !this.journaled.has(item) && !(await this.claimAcrossInstances(key))) return;
    if (item.changeType !== 'deleted' && item.resourceData) {
      const version = versionKey(String(item.resourceData.id ?? ''), item.resourceData['@odata.etag']);
      if (version && !this.versionsSeen.add(version)) return; // emitted by a catch-up already
    }
    let resource: Record<string, unknown> | undefined;
    let resourceError: string | undefined;
    const encrypted = (item as { encryptedContent?: unknown }).encryptedContent;
    if (isEncryptedContent(encrypted) && o.privateKey) {
      // §4: the resource travels in the notification; no fetch needed.
      resource = decryptResourceData(encrypted, o.privateKey);
    } else if (o.fetchResource && item.changeType !== 'deleted' && item.resource) {
      try {
        resource = await o.graph.get<Record<string, unknown>>(`/${String(item.resource).replace(/^\/+/, '')}`, undefined, this.abort.signal);
      } catch (err) {
        if (this.abort.signal.aborted) throw err;
        // Deleted meanwhile (404): not an error. Anything else (throttled or unavailable beyond the client's
        // retries, forbidden…): the notification is answered already and Graph will not send it again, so the
        // event goes out without the resource rather than not at all.
        if (!(err instanceof GraphError && err.status === 404)) {
          resourceError = (err as Error).message;
          o.warn(`the changed ${objectTypeOf(item)} could not be fetched (${resourceError}); its event goes out without raw.resource`);
        }
      }
    }
    const event = normalizeNotification(item, { elementKey: o.elementKey, instanceName: o.instanceName, receivedAt }, resource, resourceError);
    if (record) this.heard(record.resource, receivedAt, resource ? { objectId: event.objectId, updatedMs: Date.parse(String(resource.lastModifiedDateTime)) } : undefined);
    o.sendEvent(event, eventTopic(event));
  }
}

interface QueuedBatch {
  batch: NotificationBatch;
  /** Its journal entry and when it was accepted (replayed batches keep their first time). */
  seq?: number;
  at?: number;
}

const sha256Hex = (value: string) => createHash('sha256').update(value).digest('hex');

/** Resolves when `promise` settles or after `ms`, whichever comes first. */
function withTimeout(promise: Promise<unknown>, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    void promise.finally(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
