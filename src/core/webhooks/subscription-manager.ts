/**
 * Keeps a node's Graph subscriptions alive (`reference/graph.md` §1.3–§1.4, §3): created at start (or reused after a
 * restart from the persisted records), renewed at about half their life, recreated when Graph has forgotten them
 * (404 on renew, `subscriptionRemoved`), reauthorized on `reauthorizationRequired`, deleted on removal.
 * A 400 about the maximum lifetime is retried with the maximum Graph names (or half the asked lifetime).
 */
import { createHash } from 'node:crypto';
import type { GraphClient } from '../graph/client';
import { GraphError, MissingPermissionError } from '../graph/client';
import type { Subscription } from '@microsoft/microsoft-graph-types';

export interface SubscriptionSpec {
  resource: string;
  changeType: string;
  /** Lifetime to ask for; default: the resource type's maximum (Outlook 4,230 min, rich Outlook 1,440, drive 42,300 min). */
  expirationMinutes?: number;
  /** Ask for resource data (rich notifications) on this one; default: whenever `resourceData` is configured. */
  includeResourceData?: boolean;
  /** Why this subscription does not ask for resource data although the node has a certificate (reported). */
  note?: string;
}

export interface SubscriptionRecord {
  id: string;
  resource: string;
  changeType: string;
  expirationDateTime: string;
  minutes: number;
  /** Created with resource data (a recreate asks the same). */
  includeResourceData?: boolean;
  /**
   * SHA-256 (hex) of the clientState it was created with: in cluster mode (`subscription-owner.ts`) the other
   * instances check notifications against it (their own clientState may differ); never the clientState itself.
   */
  clientStateHash?: string;
}

/** The instance is no longer the subscription owner (cluster mode): nothing is sent to Graph. */
export class NotOwnerError extends Error {
  constructor() {
    super('not the subscription owner (cluster mode)');
    this.name = 'NotOwnerError';
  }
}

export function clientStateHash(clientState: string): string {
  return createHash('sha256').update(clientState).digest('hex');
}

export type SubscriptionEventKind = 'created' | 'renewed' | 'recreated' | 'reauthorized' | 'deleted' | 'failed';

export interface SubscriptionEvent {
  kind: SubscriptionEventKind;
  resource: string;
  subscriptionId?: string;
  expirationDateTime?: string;
  error?: string;
  /** `failed` because Graph answered 403: the permission it needs (`graph/permissions.ts`). */
  missingPermission?: string;
  /** On created / recreated: whether the subscription carries resource data, and why not when a certificate is set. */
  includeResourceData?: boolean;
  note?: string;
}

export interface SubscriptionManagerOptions {
  graph: GraphClient;
  /** Full URL Graph posts to (also used as `lifecycleNotificationUrl`). */
  notificationUrl: string;
  clientState: string;
  specs: SubscriptionSpec[];
  /** Rich notifications (graph.md §4): ask for resource data encrypted with this certificate. */
  resourceData?: { certificate: string; certificateId: string };
  /** Where the records live between restarts (node context). */
  load(): Promise<SubscriptionRecord[]>;
  save(records: SubscriptionRecord[]): Promise<void>;
  onEvent(event: SubscriptionEvent): void;
  /**
   * Cluster mode: whether this instance may still act (it holds the subscription lease, on its own clock); checked
   * before every request to Graph. Default: always.
   */
  mayAct?: () => boolean;
  /** Called after a subscription was recreated (changes may have been missed: catch up with delta). */
  onRecreated?(record: SubscriptionRecord): void;
  now?: () => number;
  /** Timer functions (default the global ones): tests drive renewals across simulated days with them. */
  timers?: { set(fn: () => void, ms: number): unknown; clear(handle: unknown): void };
}

/**
 * Default maximum lifetime per resource type, in minutes (§1.3; Outlook at its conservative 4,230; with resource
 * data 1,440: "Set up change notifications that include resource data", §11.4).
 */
export function maxMinutesFor(resource: string, resourceData = false): number {
  if (/(^|\/)drives?\b|\/root$/i.test(resource)) return 42_300;
  if (/presence/i.test(resource)) return 60;
  if (/chats|teams|channels/i.test(resource)) return 4_320;
  return resourceData ? 1_440 : 4_230;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

export class SubscriptionManager {
  private records: SubscriptionRecord[] = [];
  /** Created since the last successful save (cluster mode: deleted again when their record cannot be saved). */
  private unsaved: SubscriptionRecord[] = [];
  private timer: unknown;
  private stopped = false;
  private readonly now: () => number;

  private readonly timers: NonNullable<SubscriptionManagerOptions['timers']>;

  constructor(private readonly options: SubscriptionManagerOptions) {
    this.now = options.now ?? Date.now;
    this.timers = options.timers ?? {
      set: (fn, ms) => {
        const timer = setTimeout(fn, ms);
        timer.unref?.();
        return timer;
      },
      clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
    };
  }

  get current(): readonly SubscriptionRecord[] {
    return this.records;
  }

  /** Create or reuse every configured subscription, then keep renewing. */
  async start(): Promise<void> {
    const saved = await this.options.load();
    for (const spec of this.options.specs) {
      if (!this.acting()) return;
      const existing = saved.find((r) => r.resource === spec.resource && r.changeType === spec.changeType);
      try {
        if (existing) {
          this.records.push(existing);
          await this.renew(existing);
        } else {
          const created = await this.create(spec, 'created');
          this.records.push(created);
          this.unsaved.push(created);
        }
      } catch (err) {
        if (err instanceof NotOwnerError) return;
        this.options.onEvent({ kind: 'failed', resource: spec.resource, ...failure(err) });
      }
    }
    // Subscriptions of specs no longer configured: delete them.
    for (const stale of saved.filter((r) => !this.options.specs.some((s) => s.resource === r.resource && s.changeType === r.changeType))) {
      await this.deleteOne(stale).catch(() => undefined);
    }
    await this.persist();
    this.schedule();
  }

  /** Renew one subscription; Graph no longer knowing it (404) → recreate it. */
  async renew(record: SubscriptionRecord): Promise<void> {
    this.assertActing();
    try {
      const res = await this.options.graph.request<Subscription>({
        method: 'PATCH',
        url: `/subscriptions/${encodeURIComponent(record.id)}`,
        body: { expirationDateTime: this.expiry(record.minutes) },
      });
      record.expirationDateTime = res.data.expirationDateTime ?? this.expiry(record.minutes);
      this.options.onEvent({ kind: 'renewed', resource: record.resource, subscriptionId: record.id, expirationDateTime: record.expirationDateTime });
    } catch (err) {
      if (err instanceof GraphError && err.status === 404) {
        await this.recreate(record.id);
        return;
      }
      throw err;
    }
  }

  /** `subscriptionRemoved` or a 404: create a new subscription for the same resource. */
  async recreate(subscriptionId: string): Promise<SubscriptionRecord | undefined> {
    const index = this.records.findIndex((r) => r.id === subscriptionId);
    if (index === -1) return undefined;
    const old = this.records[index];
    const spec = this.options.specs.find((s) => s.resource === old.resource && s.changeType === old.changeType);
    const fresh = await this.create({ ...spec, resource: old.resource, changeType: old.changeType, expirationMinutes: old.minutes, includeResourceData: old.includeResourceData }, 'recreated');
    this.records[index] = fresh;
    this.unsaved.push(fresh);
    await this.persist();
    this.schedule();
    this.options.onRecreated?.(fresh);
    return fresh;
  }

  /** `reauthorizationRequired`: reauthorize (a renew also reauthorizes; used when reauthorize is refused). */
  async reauthorize(subscriptionId: string): Promise<void> {
    const record = this.records.find((r) => r.id === subscriptionId);
    if (!record) return;
    this.assertActing();
    try {
      await this.options.graph.request({ method: 'POST', url: `/subscriptions/${encodeURIComponent(record.id)}/reauthorize` });
      this.options.onEvent({ kind: 'reauthorized', resource: record.resource, subscriptionId: record.id });
    } catch (err) {
      if (err instanceof GraphError && err.status === 404) {
        await this.recreate(record.id);
        return;
      }
      await this.renew(record);
    }
    await this.persist();
  }

  knows(subscriptionId: string): boolean {
    return this.records.some((r) => r.id === subscriptionId);
  }

  /** Stop the renewal timer (node closing; subscriptions stay for the next start). */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.timers.clear(this.timer);
    this.timer = undefined;
  }

  /** Delete every subscription (node removed). */
  async removeAll(): Promise<void> {
    this.stop();
    const saved = this.records.length ? this.records : await this.options.load();
    for (const record of saved) await this.deleteOne(record).catch(() => undefined);
    this.records = [];
    await this.options.save([]);
  }

  private async deleteOne(record: SubscriptionRecord, own = false): Promise<void> {
    if (!own) this.assertActing();
    try {
      await this.options.graph.request({ method: 'DELETE', url: `/subscriptions/${encodeURIComponent(record.id)}` });
    } catch (err) {
      if (!(err instanceof GraphError && err.status === 404)) throw err;
    }
    this.options.onEvent({ kind: 'deleted', resource: record.resource, subscriptionId: record.id });
  }

  private async create(spec: SubscriptionSpec, kind: 'created' | 'recreated'): Promise<SubscriptionRecord> {
    const rich = this.options.resourceData && spec.includeResourceData !== false ? this.options.resourceData : undefined;
    const cap = maxMinutesFor(spec.resource, rich !== undefined);
    let minutes = Math.min(spec.expirationMinutes ?? cap, cap);
    for (let attempt = 0; ; attempt += 1) {
      this.assertActing();
      try {
        const res = await this.options.graph.request<Subscription>({
          method: 'POST',
          url: '/subscriptions',
          body: {
            changeType: spec.changeType,
            notificationUrl: this.options.notificationUrl,
            lifecycleNotificationUrl: this.options.notificationUrl,
            resource: spec.resource,
            expirationDateTime: this.expiry(minutes),
            clientState: this.options.clientState,
            ...(rich ? { includeResourceData: true, encryptionCertificate: rich.certificate, encryptionCertificateId: rich.certificateId } : {}),
          },
        });
        const record: SubscriptionRecord = {
          id: String(res.data.id),
          resource: spec.resource,
          changeType: spec.changeType,
          expirationDateTime: res.data.expirationDateTime ?? this.expiry(minutes),
          minutes,
          ...(rich ? { includeResourceData: true } : {}),
          clientStateHash: clientStateHash(this.options.clientState),
        };
        this.options.onEvent({
          kind,
          resource: spec.resource,
          subscriptionId: record.id,
          expirationDateTime: record.expirationDateTime,
          ...(this.options.resourceData ? { includeResourceData: rich !== undefined, ...(rich ? {} : { note: spec.note }) } : {}),
        });
        return record;
      } catch (err) {
        // §1.3: over-max requests fail with 400 "Subscription expiration can only be N minutes in the future".
        if (attempt < 3 && err instanceof GraphError && err.status === 400 && /expiration/i.test(err.message)) {
          const named = /can only be (\d+) minutes/i.exec(err.message);
          minutes = named ? Math.max(1, Number(named[1]) - 1) : Math.max(1, Math.floor(minutes / 2));
          continue;
        }
        throw err;
      }
    }
  }

  /**
   * Look at the expirations again now: after a clock jump (`GraphClient.onClockJump`) a subscription may have
   * expired on Graph's clock long before our timer (a monotonic one) fires.
   */
  recheck(): void {
    this.schedule();
  }

  /** One timer for the earliest half-life among the subscriptions. */
  private schedule(): void {
    if (this.stopped) return;
    if (this.timer !== undefined) this.timers.clear(this.timer);
    this.timer = undefined;
    if (!this.records.length) return;
    const now = this.now();
    const due = Math.min(
      ...this.records.map((r) => {
        const remaining = Date.parse(r.expirationDateTime) - now;
        return now + Math.max(1000, Math.min(remaining / 2, (r.minutes * 60_000) / 2));
      }),
    );
    this.timer = this.timers.set(() => void this.renewDue(), Math.min(MAX_TIMER_MS, Math.max(1000, due - now)));
  }

  private async renewDue(): Promise<void> {
    const now = this.now();
    for (const record of [...this.records]) {
      if (!this.acting()) return;
      const remaining = Date.parse(record.expirationDateTime) - now;
      if (remaining > (record.minutes * 60_000) / 2 + 500) continue;
      try {
        await this.renew(record);
      } catch (err) {
        if (err instanceof NotOwnerError) return;
        this.options.onEvent({ kind: 'failed', resource: record.resource, subscriptionId: record.id, ...failure(err) });
      }
    }
    await this.persist().catch(() => undefined);
    this.schedule();
  }

  private async persist(): Promise<void> {
    try {
      await this.options.save(this.records.map((r) => ({ ...r })));
      this.unsaved = [];
    } catch (err) {
      // Cluster mode: a subscription whose record cannot be stored (the write refused: another instance owns them
      // now; or Redis away) would be unknown to the next owner, which creates its own: delete it again.
      const orphans = this.options.mayAct ? this.unsaved.splice(0) : [];
      for (const orphan of orphans) {
        this.records = this.records.filter((r) => r !== orphan);
        await this.deleteOne(orphan, true).catch(() => undefined);
      }
      throw err;
    }
  }

  private acting(): boolean {
    return !this.stopped && (this.options.mayAct?.() ?? true);
  }

  /** Before a request to Graph: only the mayAct check (single-instance behaviour unchanged). */
  private assertActing(): void {
    if (this.options.mayAct && !this.options.mayAct()) throw new NotOwnerError();
  }

  private expiry(minutes: number): string {
    return new Date(this.now() + minutes * 60_000).toISOString();
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function failure(err: unknown): Pick<SubscriptionEvent, 'error' | 'missingPermission'> {
  return err instanceof MissingPermissionError && err.permission ? { error: describe(err), missingPermission: err.permission } : { error: describe(err) };
}
