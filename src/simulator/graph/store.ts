/**
 * The object store of the simulated Graph: per user a mailbox (mail folders and messages, the default calendar's
 * events, contacts) and a OneDrive. Every create/update/delete takes the next change sequence number (delta
 * reads them) and emits a `SimChange` through `state.emitChange()` (subscriptions turn those into notifications).
 * The control API (`../control.ts`), tests and benchmarks call these methods directly.
 */
import { randomUUID } from 'node:crypto';
import type { SimChange, SimResourceKind, SimState, SimUser } from '../state';
import { Collection, type Entry } from './collection';
import { buildMessage, patchMessage, WELL_KNOWN_FOLDERS, type MessageInput, type MessagePatch, type SimMailFolder, type SimMessage } from './mail';
import { buildEvent, buildException, occurrenceEvent, occurrenceStarts, parseOccurrenceId, patchEvent, type EventInput, type EventPatch, type SimEvent } from './calendar';
import { buildContact, patchContact, type ContactInput, type SimContact } from './contacts';
import { buildDriveItem, buildRoot, touchDriveItem, type DriveItemInput, type DriveItemPatch, type DriveOwner, type SimDriveItem } from './drive';
import { changeKey, driveId as newDriveId, driveItemId, outlookId, personalDriveId, personalDriveItemId } from './ids';
import { ticksIso, wholeSecondIso } from './timestamps';

export interface CreateOptions {
  /**
   * Late-visible item (`reference/graph.md` §6 pitfall: mail indexed minutes after its `receivedDateTime`):
   * `$filter` listings do not see the object for this many simulated seconds, while its timestamps say it was
   * created now.
   */
  lateVisibleSeconds?: number;
}

export interface UserData {
  user: SimUser;
  folders: Map<string, SimMailFolder>;
  messages: Collection<SimMessage>;
  calendarId: string;
  events: Collection<SimEvent>;
  /** Per series master id: starts (ms) of its deleted or cancelled occurrences (delta does not report them, §11.2). */
  cancelledOccurrences: Map<string, Set<number>>;
  contactFolderId: string;
  contacts: Collection<SimContact>;
  driveId: string;
  rootId: string;
  driveItems: Collection<SimDriveItem>;
  driveOwner: DriveOwner;
}

/** Item ids as each kind of drive has them: `01…` (business), `{driveId}!{n}` (personal). */
function newItemId(owner: DriveOwner): string {
  return owner.driveType === 'personal' ? personalDriveItemId(owner.driveId) : driveItemId();
}

export class UnknownObjectError extends Error {
  constructor(what: string, id: string) {
    super(`${what} ${id} not found`);
    this.name = 'UnknownObjectError';
  }
}

export class ObjectStore {
  private readonly users = new Map<string, UserData>();
  private sequence = 0;
  private gen = randomUUID().slice(0, 8);

  /** Changes on every reset; delta tokens carry it, so tokens from before a reset answer 410. */
  get generation(): string {
    return this.gen;
  }

  constructor(private readonly state: SimState) {}

  /** The last change sequence number handed out. */
  get currentSeq(): number {
    return this.sequence;
  }

  /** The data of a user (id or userPrincipalName), created on first use. */
  user(idOrUpn: string): UserData {
    const user = this.state.findUser(idOrUpn);
    if (!user) throw new UnknownObjectError('user', idOrUpn);
    let data = this.users.get(user.id);
    if (!data) {
      data = this.createUserData(user);
      this.users.set(user.id, data);
    }
    return data;
  }

  /** The drive with this id, across users. */
  userOfDrive(driveId: string): UserData | undefined {
    for (const data of this.users.values()) if (data.driveId === driveId) return data;
    for (const user of this.state.users) {
      const data = this.user(user.id);
      if (data.driveId === driveId) return data;
    }
    return undefined;
  }

  /** Forget every object; users get fresh mailboxes and drives on next use. */
  reset(): void {
    this.users.clear();
    this.gen = randomUUID().slice(0, 8);
  }

  // --- mail ------------------------------------------------------------------------------------------------

  /** A folder by well-known name (case-insensitive) or id. */
  folder(userId: string, nameOrId: string): SimMailFolder | undefined {
    const data = this.user(userId);
    const byId = data.folders.get(nameOrId);
    if (byId) return byId;
    const name = nameOrId.toLowerCase();
    for (const folder of data.folders.values()) if (folder.wellKnownName === name) return folder;
    return undefined;
  }

  createMessage(userId: string, input: MessageInput = {}, options: CreateOptions = {}): SimMessage {
    const data = this.user(userId);
    const folder = this.folder(userId, input.folder ?? 'inbox');
    if (!folder) throw new UnknownObjectError('mail folder', input.folder ?? 'inbox');
    const now = this.state.clock.now();
    const message = buildMessage(outlookId(data.user.id), folder.id, input, wholeSecondIso(now));
    const visibleAt = options.lateVisibleSeconds ? now + options.lateVisibleSeconds * 1000 : 0;
    this.write(data, data.messages, 'message', 'created', message.id!, message, folder.id, visibleAt);
    return message;
  }

  /** Many messages at once (benchmarks); `i` numbers the subjects. */
  createMessages(userId: string, count: number, input: MessageInput = {}): number {
    for (let i = 0; i < count; i++) this.createMessage(userId, { ...input, subject: `${input.subject ?? 'Message'} ${i + 1}` });
    return count;
  }

  updateMessage(userId: string, id: string, patch: MessagePatch): SimMessage {
    const data = this.user(userId);
    const entry = this.mustGet(data.messages, 'message', id);
    const message = patchMessage(entry.obj, patch, this.wholeSecondNow());
    this.write(data, data.messages, 'message', 'updated', id, message, entry.scope);
    return message;
  }

  deleteMessage(userId: string, id: string): void {
    const data = this.user(userId);
    this.remove(data, data.messages, 'message', id);
  }

  /**
   * Moves a message to another folder. As on Outlook without immutable ids, the moved message gets a new id:
   * the source folder sees a deletion, the destination a creation (delta: `@removed` there, new item here).
   */
  moveMessage(userId: string, id: string, destination: string): SimMessage {
    const data = this.user(userId);
    const entry = this.mustGet(data.messages, 'message', id);
    const folder = this.folder(userId, destination);
    if (!folder) throw new UnknownObjectError('mail folder', destination);
    this.remove(data, data.messages, 'message', id);
    const key = changeKey();
    const moved: SimMessage = {
      ...entry.obj,
      id: outlookId(data.user.id),
      parentFolderId: folder.id,
      changeKey: key,
      '@odata.etag': `W/"${key}"`,
      lastModifiedDateTime: this.wholeSecondNow(),
    };
    this.write(data, data.messages, 'message', 'created', moved.id!, moved, folder.id);
    return moved;
  }

  // --- calendar ---------------------------------------------------------------------------------------------

  createEvent(userId: string, input: EventInput = {}): SimEvent {
    const data = this.user(userId);
    const event = buildEvent(outlookId(data.user.id), input, this.state.clock.now(), { name: data.user.displayName, address: data.user.mail });
    this.write(data, data.events, 'event', 'created', event.id!, event, data.calendarId);
    return event;
  }

  /**
   * An event by id as "Get event" finds it: a single instance, series master or exception, or an occurrence of a
   * series (derived from its master; undefined once deleted or cancelled).
   */
  findEvent(userId: string, id: string): SimEvent | undefined {
    const data = this.user(userId);
    const stored = data.events.get(id)?.obj;
    if (stored) return stored;
    const occurrence = this.occurrenceOf(data, id);
    return occurrence ? occurrenceEvent(occurrence.master, occurrence.startMs) : undefined;
  }

  /**
   * Updates an event. A series master's change re-emits its occurrences in calendarView delta (they follow it); the
   * first edit of an occurrence makes it an exception (its own event, same id, `type: "exception"`). Cancelling an
   * occurrence (`isCancelled: true`) is deleting it.
   */
  updateEvent(userId: string, id: string, patch: EventPatch): SimEvent {
    const data = this.user(userId);
    const entry = data.events.get(id);
    const nowIso = ticksIso(this.state.clock.now(), { trimZeros: true });
    if (entry) {
      if (patch.isCancelled === true && entry.obj.type === 'exception') {
        this.deleteEvent(userId, id);
        return { ...entry.obj, isCancelled: true };
      }
      const event = patchEvent(entry.obj, patch, nowIso);
      this.write(data, data.events, 'event', 'updated', id, event, entry.scope);
      return event;
    }
    const occurrence = this.occurrenceOf(data, id);
    if (!occurrence) throw new UnknownObjectError('event', id);
    if (patch.isCancelled === true) {
      this.cancelOccurrence(data, occurrence.master.id!, occurrence.startMs);
      return { ...occurrenceEvent(occurrence.master, occurrence.startMs), isCancelled: true };
    }
    const exception = buildException(occurrence.master, occurrence.startMs, patch, nowIso);
    this.write(data, data.events, 'event', 'updated', id, exception, data.calendarId);
    return exception;
  }

  /**
   * Deletes an event. A series master takes its exceptions with it; one occurrence (or exception) of a series is
   * only remembered as cancelled: calendarView delta reports nothing for it (`reference/graph.md` §11.2, obs).
   */
  deleteEvent(userId: string, id: string): void {
    const data = this.user(userId);
    const entry = data.events.get(id);
    if (entry?.obj.type === 'exception' && entry.obj.seriesMasterId) {
      this.cancelOccurrence(data, entry.obj.seriesMasterId, Date.parse(String(entry.obj.originalStart)));
      const at = this.state.clock.now();
      data.events.remove(id, { seq: ++this.sequence, at });
      return;
    }
    if (entry) {
      if (entry.obj.type === 'seriesMaster') {
        const exceptions = [...data.events.live()].filter((e) => e.obj.seriesMasterId === id).map((e) => e.id);
        for (const exceptionId of exceptions) this.remove(data, data.events, 'event', exceptionId);
      }
      this.remove(data, data.events, 'event', id);
      return;
    }
    const occurrence = this.occurrenceOf(data, id);
    if (!occurrence) throw new UnknownObjectError('event', id);
    this.cancelOccurrence(data, occurrence.master.id!, occurrence.startMs);
  }

  /** A live occurrence of a live series master (not cancelled, not an exception). */
  private occurrenceOf(data: UserData, id: string): { master: SimEvent; startMs: number } | undefined {
    const parsed = parseOccurrenceId(id);
    if (!parsed) return undefined;
    const master = data.events.get(parsed.masterId)?.obj;
    if (!master || master.type !== 'seriesMaster') return undefined;
    if (data.cancelledOccurrences.get(master.id!)?.has(parsed.startMs)) return undefined;
    if (!occurrenceStarts(master, parsed.startMs, parsed.startMs + 1).includes(parsed.startMs)) return undefined;
    return { master, startMs: parsed.startMs };
  }

  private cancelOccurrence(data: UserData, masterId: string, startMs: number): void {
    let cancelled = data.cancelledOccurrences.get(masterId);
    if (!cancelled) data.cancelledOccurrences.set(masterId, (cancelled = new Set()));
    cancelled.add(startMs);
  }

  // --- contacts ---------------------------------------------------------------------------------------------

  createContact(userId: string, input: ContactInput = {}): SimContact {
    const data = this.user(userId);
    const contact = buildContact(outlookId(data.user.id), data.contactFolderId, input, this.wholeSecondNow());
    this.write(data, data.contacts, 'contact', 'created', contact.id!, contact, data.contactFolderId);
    return contact;
  }

  updateContact(userId: string, id: string, patch: ContactInput): SimContact {
    const data = this.user(userId);
    const entry = this.mustGet(data.contacts, 'contact', id);
    const contact = patchContact(entry.obj, patch, this.wholeSecondNow());
    this.write(data, data.contacts, 'contact', 'updated', id, contact, entry.scope);
    return contact;
  }

  deleteContact(userId: string, id: string): void {
    const data = this.user(userId);
    this.remove(data, data.contacts, 'contact', id);
  }

  // --- drive ------------------------------------------------------------------------------------------------

  createDriveItem(userId: string, input: DriveItemInput = {}): SimDriveItem {
    const data = this.user(userId);
    const parent = this.mustGet(data.driveItems, 'drive item', input.parentId ?? data.rootId);
    if (!parent.obj.folder) throw new UnknownObjectError('folder', parent.id);
    const nowIso = this.wholeSecondNow();
    const item = buildDriveItem(newItemId(data.driveOwner), parent.obj, input, data.driveOwner, nowIso);
    this.write(data, data.driveItems, 'driveItem', 'created', item.id!, item, data.driveId);
    this.touchAncestors(data, parent.id, nowIso, 1);
    return item;
  }

  updateDriveItem(userId: string, id: string, patch: DriveItemPatch): SimDriveItem {
    const data = this.user(userId);
    const entry = this.mustGet(data.driveItems, 'drive item', id);
    const nowIso = this.wholeSecondNow();
    const item = touchDriveItem(entry.obj, nowIso, patch);
    this.write(data, data.driveItems, 'driveItem', 'updated', id, item, data.driveId);
    if (item.parentReference?.id) this.touchAncestors(data, item.parentReference.id, nowIso, 0);
    return item;
  }

  /** Deletes an item and, for a folder, everything under it. */
  deleteDriveItem(userId: string, id: string): void {
    const data = this.user(userId);
    const entry = this.mustGet(data.driveItems, 'drive item', id);
    if (id === data.rootId) throw new UnknownObjectError('deletable drive item', id);
    if (entry.obj.folder) {
      const children = [...data.driveItems.live()].filter((e) => e.obj.parentReference?.id === id).map((e) => e.id);
      for (const child of children) this.deleteDriveItem(userId, child);
    }
    this.remove(data, data.driveItems, 'driveItem', id);
    const parentId = entry.obj.parentReference?.id;
    if (parentId) this.touchAncestors(data, parentId, this.wholeSecondNow(), -1);
  }

  // --- internals ----------------------------------------------------------------------------------------------

  private createUserData(user: SimUser): UserData {
    const nowIso = this.wholeSecondNow();
    const folders = new Map<string, SimMailFolder>();
    const msgRoot = outlookId(user.id, 'folder');
    for (const wellKnown of WELL_KNOWN_FOLDERS) {
      const folder: SimMailFolder = { id: outlookId(user.id, 'folder'), wellKnownName: wellKnown.name, displayName: wellKnown.displayName, parentFolderId: msgRoot };
      folders.set(folder.id, folder);
    }
    const personal = user.driveType === 'personal';
    const driveId = personal ? personalDriveId() : newDriveId();
    const driveOwner: DriveOwner = { driveId, driveType: user.driveType, userId: user.id, displayName: user.displayName, email: user.mail };
    const rootId = newItemId(driveOwner);
    const driveItems = new Collection<SimDriveItem>();
    const webBase = personal ? `https://onedrive.live.com/personal/${driveId.toLowerCase()}` : `https://contoso-my.sharepoint.com/personal/${user.userPrincipalName.replace(/[@.]/g, '_')}`;
    driveItems.put(rootId, buildRoot(rootId, driveOwner, nowIso, webBase), { seq: ++this.sequence, at: this.state.clock.now(), scope: driveId });
    return {
      user,
      folders,
      messages: new Collection<SimMessage>(),
      calendarId: outlookId(user.id, 'folder'),
      events: new Collection<SimEvent>(),
      cancelledOccurrences: new Map(),
      contactFolderId: outlookId(user.id, 'folder'),
      contacts: new Collection<SimContact>(),
      driveId,
      rootId,
      driveItems,
      driveOwner,
    };
  }

  /**
   * Now as Outlook messages, contacts and drive items carry it: whole seconds ("Get message", "Get contact",
   * "Get driveItem"; `timestamps.ts`). Events get 7-digit ticks ("Create event"), in `buildEvent` and `updateEvent`.
   */
  private wholeSecondNow(): string {
    return wholeSecondIso(this.state.clock.now());
  }

  private mustGet<T>(collection: Collection<T>, what: string, id: string): Entry<T> {
    const entry = collection.get(id);
    if (!entry) throw new UnknownObjectError(what, id);
    return entry;
  }

  private write<T extends { '@odata.etag'?: string; eTag?: string | null }>(
    data: UserData,
    collection: Collection<T>,
    kind: SimResourceKind,
    changeType: 'created' | 'updated',
    id: string,
    obj: T,
    scope: string,
    visibleAt?: number,
  ): void {
    const at = this.state.clock.now();
    collection.put(id, obj, { seq: ++this.sequence, at, scope, visibleAt });
    this.emit({ kind, changeType, userId: data.user.id, id, parentId: scope, etag: obj['@odata.etag'] ?? obj.eTag ?? undefined, at });
  }

  private remove<T>(data: UserData, collection: Collection<T>, kind: SimResourceKind, id: string): void {
    const at = this.state.clock.now();
    const entry = collection.remove(id, { seq: ++this.sequence, at });
    if (!entry) throw new UnknownObjectError(kind, id);
    this.emit({ kind, changeType: 'deleted', userId: data.user.id, id, parentId: entry.scope, at });
  }

  /** A child changed: its folders get new eTag/cTag (and child count), up to the root (root appears in delta, §5). */
  private touchAncestors(data: UserData, folderId: string, nowIso: string, childDelta: number): void {
    let currentId: string | undefined = folderId;
    let delta = childDelta;
    while (currentId) {
      const entry = data.driveItems.get(currentId);
      if (!entry) return;
      const next = touchDriveItem(entry.obj, nowIso);
      if (next.folder && delta !== 0) next.folder = { childCount: Math.max(0, (next.folder.childCount ?? 0) + delta) };
      delta = 0;
      data.driveItems.put(currentId, next, { seq: ++this.sequence, at: this.state.clock.now(), scope: data.driveId });
      currentId = next.parentReference?.id ?? undefined;
    }
  }

  private emit(change: SimChange): void {
    this.state.emitChange(change);
  }
}
