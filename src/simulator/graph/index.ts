/**
 * The simulated Microsoft Graph v1.0 (`reference/graph.md` §5, §6, §7, §10 items 3–5), mounted at `/v1.0`.
 * Under `/me` (delegated tokens only) and `/users/{id|userPrincipalName}` (delegated: the signed-in user only):
 * - `GET` user; messages `/messages`, `/messages/{id}`, `/mailFolders`, `/mailFolders/{id|wellKnownName}`,
 *   `/mailFolders/{id}/messages`, `/mailFolders/{id}/messages/delta` (also `mailFolders('Inbox')` forms);
 * - events `/events`, `/events/{id}` (occurrence ids too), `/calendar`, `/calendar/events`,
 *   `/calendarView?startDateTime&endDateTime` (series expanded), `/calendarView/delta` (occurrence stubs, §11.2;
 *   `/events/delta` refused); contacts `/contacts`, `/contacts/{id}` (also under `/contactFolders/{id}/`),
 *   `/contactFolders/{id}/contacts/delta` (`/contacts/delta` and `/messages/delta` refused as Graph refuses them);
 * - calendars `/calendars` ("List calendars"), `/calendars/{id}` with its `/events` and `/calendarView[/delta]`;
 *   mail folders' `/mailFolders/{id}/childFolders`, drives `/drives` ("List drives");
 * - drive `/drive`, `/drive/root`, `/drive/root/children`, `/drive/items/{id}`, `/drive/items/{id}/children`,
 *   `/drive/root/delta` (also `/drives/{id}/...`; `?token=latest`, `delta(token='...')`); per the user's
 *   `driveType`: `/drive/items/{folder}/delta` on personal drives only (business: 501 `notSupported`), timestamp
 *   tokens on business drives only (personal: 400 `invalidRequest`).
 * Client writes (PATCH a message, DELETE an item) are in `writes.ts`.
 * Authentication, the request log, faults and the per-mailbox concurrency limit are in `gate.ts`, in front of
 * every `/v1.0` route (subscriptions included); delegated scopes and app roles are checked per request
 * (`permissions.ts`, 403 as Graph answers).
 */
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { TokenPrincipal } from '../access-tokens';
import type { SimState, SimUser } from '../state';
import type { Entry } from './collection';
import { badRequest, driveNotFound, graphErrorBody, outlookNotFound, SimGraphError } from './errors';
import { checkInefficientFilter, intOption, matches, parseFilter, parseOrderBy, parseSelect, preferredPageSize, project, sortBy, type FilterNode, type OrderBy } from './query';
import { decodeDeltaToken, deltaPage, encodeDeltaToken, newRound, StaleDeltaTokenError, type DeltaToken, type DeltaView } from './delta';
import { eventTimeMs, occurrenceEvent, occurrenceId, occurrenceStarts, occurrenceStub, type SimEvent } from './calendar';
import { deletedDriveItem, publicDriveItem, type SimDriveItem } from './drive';
import type { SimMessage } from './mail';
import type { SimContact } from './contacts';
import type { UserData } from './store';
import { handleWrite } from './writes';
import { checkPermission } from './permissions';

export { registerGraphGate } from './gate';

/** Parsed query string (first value of each option; `+` decoded to a space, as on Graph). */
type Query = Map<string, string>;

interface Ctx {
  req: Request;
  res: Response;
  state: SimState;
  query: Query;
  data: UserData;
  /** Drive delta of a folder (personal drives): its id. */
  deltaFolderId?: string;
}

function parseQuery(originalUrl: string): Query {
  const q = originalUrl.indexOf('?');
  const map: Query = new Map();
  if (q < 0) return map;
  let params: URLSearchParams;
  try {
    params = new URLSearchParams(originalUrl.slice(q + 1));
  } catch {
    throw badRequest('The query string is malformed.');
  }
  for (const [key, value] of params) if (!map.has(key.toLowerCase())) map.set(key.toLowerCase(), value);
  return map;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw badRequest(`Resource not found for the segment '${segment}'.`);
  }
}

/** Splits `a/mailFolders('Inbox')/b` into `['a', 'mailFolders', 'Inbox', 'b']`; `delta(token='x')` → `delta` + token. */
function segmentsOf(path: string): { segments: string[]; functionToken?: string } {
  const segments: string[] = [];
  let functionToken: string | undefined;
  for (const raw of path.split('/').filter(Boolean)) {
    const segment = decodeSegment(raw);
    const token = /^delta\(token='([^']*)'\)$/i.exec(segment);
    if (token) {
      segments.push('delta');
      functionToken = token[1];
      continue;
    }
    const keyed = /^(\w+)\('([^']*)'\)$/.exec(segment);
    if (keyed) segments.push(keyed[1], keyed[2]);
    else segments.push(segment);
  }
  return { segments, functionToken };
}

function userJson(state: SimState, user: SimUser): Record<string, unknown> {
  return {
    '@odata.context': `${state.baseUrl}/v1.0/$metadata#users/$entity`,
    businessPhones: [],
    displayName: user.displayName,
    givenName: user.displayName.split(' ')[0],
    jobTitle: null,
    mail: user.mail,
    mobilePhone: null,
    officeLocation: null,
    preferredLanguage: 'en-US',
    surname: user.displayName.split(' ').slice(1).join(' '),
    userPrincipalName: user.userPrincipalName,
    id: user.id,
  };
}

function context(ctx: Ctx, tail: string): string {
  return `${ctx.state.baseUrl}/v1.0/$metadata#users('${ctx.data.user.id}')/${tail}`;
}

function linkBase(ctx: Ctx): string {
  return `${ctx.state.baseUrl}${ctx.req.baseUrl}${ctx.req.path}`;
}

interface ListOptions<T> {
  defaultTop: number;
  defaultOrder?: OrderBy[];
  /** Outlook rules (InefficientFilter). */
  outlook: boolean;
  present(entry: Entry<T>): Record<string, unknown>;
  contextTail: string;
}

/** A page of a collection with `$filter`, `$orderby`, `$top`, `$skip`, `$select` and a `$skip` nextLink (§6). */
function listPage<T>(ctx: Ctx, entries: Iterable<Entry<T>>, options: ListOptions<T>): Record<string, unknown> {
  const { query } = ctx;
  const filterText = query.get('$filter');
  const filter = filterText !== undefined ? parseFilter(filterText) : undefined;
  const orderText = query.get('$orderby');
  const orderBy = orderText !== undefined ? parseOrderBy(orderText) : undefined;
  if (options.outlook) checkInefficientFilter(filter, orderBy);
  const top = intOption('$top', query.get('$top'), 1, 1000);
  const skip = intOption('$skip', query.get('$skip'), 0, Number.MAX_SAFE_INTEGER) ?? 0;
  const select = parseSelect(query.get('$select'));
  const preferred = preferredPageSize(ctx.req.header('prefer'));
  const pageSize = top ?? preferred ?? options.defaultTop;
  if (preferred && top === undefined) ctx.res.setHeader('Preference-Applied', `odata.maxpagesize=${preferred}`);

  const now = ctx.state.clock.now();
  const objects: Array<Record<string, unknown>> = [];
  for (const entry of entries) {
    const obj = options.present(entry);
    if (filter) {
      if (entry.visibleAt > now) continue;
      if (!matches(filter.root, obj)) continue;
    }
    objects.push(obj);
  }
  const order = orderBy ?? options.defaultOrder;
  if (order) sortBy(objects, order);
  const page = objects.slice(skip, skip + pageSize).map((o) => project(o, select));
  const body: Record<string, unknown> = { '@odata.context': context(ctx, options.contextTail) };
  if (skip + pageSize < objects.length) {
    const params = new URLSearchParams();
    for (const [key, value] of ctx.query) if (key !== '$skip' && key !== '$top') params.set(key, value);
    params.set('$top', String(pageSize));
    params.set('$skip', String(skip + pageSize));
    body['@odata.nextLink'] = `${linkBase(ctx)}?${params.toString()}`;
  }
  body.value = page;
  return body;
}

function single(ctx: Ctx, obj: Record<string, unknown>, contextTail: string): Record<string, unknown> {
  return { '@odata.context': context(ctx, `${contextTail}/$entity`), ...project(obj, parseSelect(ctx.query.get('$select'))) };
}

// --- delta ----------------------------------------------------------------------------------------------------

interface DeltaCall<T> {
  resource: string;
  view: DeltaView<T>;
  defaultPageSize: number;
  /** Link style: Outlook uses `$skiptoken`/`$deltatoken`, OneDrive `token`. */
  drive: boolean;
  /** Extra token fields for a new initial round (calendarView window, `$select`). */
  initial(): Partial<DeltaToken>;
}

function gone(ctx: Ctx, drive: boolean): never {
  if (drive) {
    throw new SimGraphError(
      410,
      'resyncChangesApplyDifferences',
      "Resync required. Replace any local items with the server's version (including deletes) if you're sure that the service was up to date with your local changes when you last sync'd. Upload any local changes that the server doesn't know about.",
      { Location: `${ctx.state.baseUrl}/v1.0/drives/${ctx.data.driveId}/${ctx.deltaFolderId ? `items/${ctx.deltaFolderId}` : 'root'}/delta` },
    );
  }
  const highest = ctx.state.graph.store.currentSeq;
  throw new SimGraphError(410, 'SyncStateNotFound', `The sync state generation is not found; generation=${Math.max(0, highest - 8)};[highest=${highest}][${highest}][${highest - 2}][${highest - 1}].`);
}

function runDelta<T>(ctx: Ctx, call: DeltaCall<T>, tokenText: { skip?: string; delta?: string; latest?: boolean; since?: number }): Record<string, unknown> {
  const { state, req } = ctx;
  const faults = state.graph.faults;
  const path = req.originalUrl;
  if (faults.takeDeltaFault('deltaGone', req.method, path)) gone(ctx, call.drive);
  const store = state.graph.store;
  const userId = ctx.data.user.id;
  let token: DeltaToken;
  if (tokenText.skip !== undefined) token = decodeDeltaToken(tokenText.skip, call.resource, userId, state.graph.store.generation);
  else if (tokenText.delta !== undefined) {
    const saved = decodeDeltaToken(tokenText.delta, call.resource, userId, state.graph.store.generation);
    token = { ...saved, h: store.currentSeq, a: saved.b };
  } else if (tokenText.latest) {
    token = { ...newRound(call.resource, userId, store.currentSeq, store.currentSeq, call.initial()) };
  } else if (tokenText.since !== undefined) {
    token = { ...newRound(call.resource, userId, 0, store.currentSeq, call.initial()), t: tokenText.since };
  } else {
    token = newRound(call.resource, userId, -1, store.currentSeq, call.initial());
  }
  token.g = store.generation;
  const pageSize = preferredPageSize(req.header('prefer')) ?? token.ps ?? call.defaultPageSize;
  const link = (t: DeltaToken, kind: 'next' | 'delta'): string => {
    const encoded = encodeDeltaToken(t);
    // A call made as `delta(token='...')` gets links without the old token in the path.
    const base = linkBase(ctx).replace(/\/delta\([^/]*$/i, '/delta');
    if (call.drive && kind === 'delta' && state.graph.driveDeltaLinkStyle === 'function') return `${base}(token='${encoded}')`;
    const name = call.drive ? 'token' : kind === 'next' ? '$skiptoken' : '$deltatoken';
    return `${base}?${name}=${encoded}`;
  };
  const body: Record<string, unknown> = {
    '@odata.context': call.drive ? context(ctx, 'drive/root/delta') : `${state.baseUrl}/v1.0/$metadata#Collection(${call.resource === 'calendarView' ? 'event' : call.resource === 'contacts' ? 'contact' : 'message'})`,
  };
  if (faults.takeDeltaFault('deltaEmptyPage', req.method, path)) {
    body['@odata.nextLink'] = link({ ...token }, 'next');
    body.value = [];
    return body;
  }
  const page = deltaPage(call.view, token, pageSize, parseSelect(token.sel));
  if (page.value.length > 0 && faults.takeDeltaFault('deltaReplay', req.method, path)) page.value.push(page.value[0]);
  if (page.next) body['@odata.nextLink'] = link(page.next, 'next');
  if (page.delta) body['@odata.deltaLink'] = link(page.delta, 'delta');
  body.value = page.value;
  return body;
}

function outlookRemoved(type: string) {
  return (entry: Entry<unknown>): Record<string, unknown> => ({ '@odata.type': type, id: entry.id, '@removed': { reason: 'deleted' } });
}

// --- resources ------------------------------------------------------------------------------------------------

function messagesList(ctx: Ctx, folderId: string | undefined): Record<string, unknown> {
  const all = ctx.data.messages.live();
  const entries = folderId === undefined ? all : filterIter(all, (e) => e.scope === folderId);
  return listPage<SimMessage>(ctx, entries, {
    defaultTop: 10,
    defaultOrder: [{ field: ['receivedDateTime'], desc: true }],
    outlook: true,
    present: (e) => rec(e.obj),
    contextTail: folderId ? `mailFolders('${folderId}')/messages` : 'messages',
  });
}

/** Graph objects as plain JSON records (for `$filter`/`$select`). */
function rec(obj: object): Record<string, unknown> {
  return obj as Record<string, unknown>;
}

function* filterIter<T>(items: Iterable<T>, keep: (item: T) => boolean): IterableIterator<T> {
  for (const item of items) if (keep(item)) yield item;
}

/**
 * A calendar resource ("calendar resource type"; "Get calendar" shows every field, `@odata.id` included; the simulated
 * user has one, the default calendar, which cannot be removed and tallies responses).
 */
function calendarJson(ctx: Ctx): Record<string, unknown> {
  const { data } = ctx;
  return {
    '@odata.id': `${ctx.state.baseUrl}/v1.0/users('${data.user.id}@${ctx.state.tenantId}')/calendars('${data.calendarId}')`,
    id: data.calendarId,
    name: 'Calendar',
    color: 'auto',
    isDefaultCalendar: true,
    changeKey: Buffer.from(`calendar:${data.calendarId}`).toString('base64').slice(0, 32),
    canShare: true,
    canViewPrivateItems: true,
    hexColor: '',
    canEdit: true,
    allowedOnlineMeetingProviders: ['teamsForBusiness'],
    defaultOnlineMeetingProvider: 'teamsForBusiness',
    isTallyingResponses: true,
    isRemovable: false,
    owner: { name: data.user.displayName, address: data.user.mail },
  };
}

/** A drive resource ("drive resource type"). */
function driveJson(ctx: Ctx): Record<string, unknown> {
  const { data } = ctx;
  return {
    id: data.driveId,
    driveType: data.driveOwner.driveType,
    name: 'OneDrive',
    webUrl: data.driveItems.get(data.rootId)?.obj.webUrl,
    owner: { user: { id: data.user.id, displayName: data.user.displayName } },
    quota: { deleted: 0, remaining: 1099511627776, state: 'normal', total: 1099511627776, used: 0 },
  };
}

function folderJson(ctx: Ctx, folderId: string): Record<string, unknown> {
  const folder = ctx.data.folders.get(folderId)!;
  let total = 0;
  let unread = 0;
  for (const entry of ctx.data.messages.live()) {
    if (entry.scope !== folderId) continue;
    total += 1;
    if (!entry.obj.isRead) unread += 1;
  }
  return {
    id: folder.id,
    displayName: folder.displayName,
    parentFolderId: folder.parentFolderId,
    childFolderCount: 0,
    unreadItemCount: unread,
    totalItemCount: total,
    sizeInBytes: 0,
    isHidden: false,
  };
}

function mustFolder(ctx: Ctx, nameOrId: string): string {
  const folder = ctx.state.graph.store.folder(ctx.data.user.id, nameOrId);
  if (!folder) throw outlookNotFound();
  return folder.id;
}

/** The longest calendarView window Graph serves: 1825 days (`reference/graph.md` §11.2, obs). */
const MAX_WINDOW_DAYS = 1825;

function windowParams(ctx: Ctx): { s: string; e: string } {
  const s = ctx.query.get('startdatetime');
  const e = ctx.query.get('enddatetime');
  if (!s || !e) {
    throw new SimGraphError(400, 'ErrorInvalidParameter', 'This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.');
  }
  if (Number.isNaN(Date.parse(s)) || Number.isNaN(Date.parse(e))) {
    throw new SimGraphError(400, 'ErrorInvalidParameter', `The value '${Number.isNaN(Date.parse(s)) ? s : e}' of parameter 'StartDateTime' or 'EndDateTime' is invalid.`);
  }
  // "List calendarView" / "event: delta": a span over five years is refused (obs; the harsher reading applies it to both).
  if (Date.parse(e) - Date.parse(s) > MAX_WINDOW_DAYS * 86_400_000) {
    throw new SimGraphError(400, 'ErrorInvalidRequest', `The time span between StartDateTime and EndDateTime cannot exceed ${MAX_WINDOW_DAYS} days.`);
  }
  return { s, e };
}

function overlaps(event: SimEvent, s: string, e: string): boolean {
  return eventTimeMs(event.start) < Date.parse(e) && eventTimeMs(event.end) > Date.parse(s);
}

const EVENT_TYPE = '#microsoft.graph.event';
const eventRemoved = (id: string): Record<string, unknown> => ({ '@odata.type': EVENT_TYPE, id, '@removed': { reason: 'deleted' } });

/** Starts of a series' occurrences in the window that are neither cancelled nor deleted. */
function liveStarts(ctx: Ctx, master: Entry<SimEvent>, s: number, e: number): number[] {
  const cancelled = ctx.data.cancelledOccurrences.get(master.id);
  return occurrenceStarts(master.obj, s, e).filter((t) => !cancelled?.has(t));
}

/**
 * calendarView delta as Graph serves it ("event: delta", "Get incremental changes to events in a calendar view",
 * `reference/graph.md` §11.2): single instances and exceptions in full; a series as its occurrences in the window,
 * each a stub (id, type, seriesMasterId, start, end), every one of them again whenever the master changes; the master
 * itself only behind `state.graph.calendarSeriesMaster`; a cancelled or deleted occurrence: nothing. Change rounds:
 * `@removed` (reason `deleted`) for deletions in the window and for anything added, changed or deleted outside it.
 */
function eventView(ctx: Ctx, window: { s: string; e: string }): DeltaView<SimEvent> {
  const s = Date.parse(window.s);
  const e = Date.parse(window.e);
  const withMaster = ctx.state.graph.calendarSeriesMaster;
  const full = (obj: SimEvent): Record<string, unknown> => ({ '@odata.type': EVENT_TYPE, ...obj });
  return {
    collection: ctx.data.events,
    inScope: () => true,
    present: (entry) => full(entry.obj),
    removed: (entry) => eventRemoved(entry.id),
    expand: (entry, initial) => {
      const event = entry.obj;
      if (event.type === 'seriesMaster') {
        const starts = liveStarts(ctx, entry, s, e);
        if (starts.length === 0) return initial ? [] : [eventRemoved(entry.id)];
        if (entry.deleted) return initial ? [] : [...starts.map((t) => eventRemoved(occurrenceId(entry.id, t))), ...(withMaster ? [eventRemoved(entry.id)] : [])];
        const stubs = starts.filter((t) => !ctx.data.events.get(occurrenceId(entry.id, t))).map((t) => occurrenceStub(event, t));
        return withMaster ? [full(event), ...stubs] : stubs;
      }
      if (event.type === 'exception' && entry.deleted && ctx.data.cancelledOccurrences.get(String(event.seriesMasterId))?.has(Date.parse(String(event.originalStart)))) return [];
      const inRange = overlaps(event, window.s, window.e);
      if (initial) return entry.deleted || !inRange ? [] : [full(event)];
      return entry.deleted || !inRange ? [eventRemoved(entry.id)] : [full(event)];
    },
  };
}

/** "List calendarView": single instances, exceptions and occurrences (in full) in the window; no series master. */
function* calendarViewEntries(ctx: Ctx, window: { s: string; e: string }): IterableIterator<Entry<SimEvent>> {
  const s = Date.parse(window.s);
  const e = Date.parse(window.e);
  for (const entry of ctx.data.events.live()) {
    if (entry.obj.type !== 'seriesMaster') {
      if (overlaps(entry.obj, window.s, window.e)) yield entry;
      continue;
    }
    for (const t of liveStarts(ctx, entry, s, e)) {
      if (!ctx.data.events.get(occurrenceId(entry.id, t))) yield { ...entry, id: occurrenceId(entry.id, t), obj: occurrenceEvent(entry.obj, t) };
    }
  }
}

function driveList(ctx: Ctx, parentId: string): Record<string, unknown> {
  if (!ctx.data.driveItems.get(parentId)) throw driveNotFound();
  const entries = filterIter(ctx.data.driveItems.live(), (e) => e.obj.parentReference?.id === parentId);
  return listPage<SimDriveItem>(ctx, entries, {
    defaultTop: 200,
    outlook: false,
    present: (e) => publicDriveItem(e.obj) as Record<string, unknown>,
    contextTail: `drive/items('${parentId}')/children`,
  });
}

/** The id of the item at `path` below the root (names compared case-insensitively, as OneDrive does). */
function driveItemByPath(ctx: Ctx, path: string): string {
  let current = ctx.data.rootId;
  for (const name of path.split('/').filter(Boolean)) {
    const lower = name.toLowerCase();
    const child = filterIter(ctx.data.driveItems.live(), (e) => e.obj.parentReference?.id === current && e.obj.name?.toLowerCase() === lower).next();
    if (child.done) throw driveNotFound();
    current = child.value.id;
  }
  return current;
}

function driveItemJson(ctx: Ctx, id: string): Record<string, unknown> {
  const entry = ctx.data.driveItems.get(id);
  if (!entry) throw driveNotFound();
  return single(ctx, publicDriveItem(entry.obj) as Record<string, unknown>, 'drive/items');
}

/** Ids of `folderId` and everything under it, deleted items included (their last parent decides). */
function subtreeIds(ctx: Ctx, folderId: string): Set<string> {
  const parentOf = new Map<string, string | undefined>();
  for (const entry of ctx.data.driveItems.all()) parentOf.set(entry.id, entry.obj.parentReference?.id ?? undefined);
  const inside = new Set<string>([folderId]);
  const outside = new Set<string>();
  for (const id of parentOf.keys()) {
    const chain: string[] = [];
    let current: string | undefined = id;
    while (current !== undefined && !inside.has(current) && !outside.has(current)) {
      chain.push(current);
      current = parentOf.get(current);
    }
    const verdict = current !== undefined && inside.has(current) ? inside : outside;
    for (const link of chain) verdict.add(link);
  }
  return inside;
}

/**
 * Drive delta ("driveItem: delta"): the root of any drive; a folder only on personal OneDrive (OneDrive for
 * Business answers 501 `notSupported` "view.delta can only be called on the root.", OneDrive/onedrive-api-docs
 * issue 842); timestamp tokens only on OneDrive for Business and SharePoint (the page's "token" remark).
 */
function driveDelta(ctx: Ctx, functionToken: string | undefined, folderId?: string): Record<string, unknown> {
  const tokenParam = functionToken ?? ctx.query.get('token');
  const personal = ctx.data.driveOwner.driveType === 'personal';
  if (folderId !== undefined && !personal) throw new SimGraphError(501, 'notSupported', 'view.delta can only be called on the root.');
  if (folderId !== undefined && !ctx.data.driveItems.get(folderId)?.obj.folder) throw driveNotFound();
  ctx.deltaFolderId = folderId;
  let scope: Set<string> | undefined;
  const view: DeltaView<SimDriveItem> = {
    collection: ctx.data.driveItems,
    inScope: (entry) => {
      if (folderId === undefined) return true;
      scope ??= subtreeIds(ctx, folderId);
      return scope.has(entry.id);
    },
    present: (entry, sel) => project(publicDriveItem(entry.obj, true) as Record<string, unknown>, sel),
    removed: (entry) => deletedDriveItem(entry.obj),
  };
  const resource = folderId === undefined ? `drive:${ctx.data.driveId}` : `drive:${ctx.data.driveId}:${folderId}`;
  const tokens: { skip?: string; delta?: string; latest?: boolean; since?: number } = {};
  if (tokenParam === undefined || tokenParam === '') {
    // initial enumeration
  } else if (tokenParam === 'latest') {
    tokens.latest = true;
  } else if (/^\d{4}-\d{2}-\d{2}T/.test(tokenParam)) {
    // Not documented for personal drives: the harsher plausible answer (README, simulator section).
    if (personal) throw new SimGraphError(400, 'invalidRequest', 'Invalid token: timestamp tokens are not supported on this drive.');
    const since = Date.parse(tokenParam);
    if (Number.isNaN(since)) throw badRequest(`Invalid timestamp token '${tokenParam}'.`);
    tokens.since = since;
  } else {
    const decoded = decodeDeltaToken(tokenParam, resource, ctx.data.user.id, ctx.state.graph.store.generation);
    if (decoded.a < decoded.h || decoded.b < 0) tokens.skip = tokenParam;
    else tokens.delta = tokenParam;
  }
  return runDelta(ctx, {
    resource,
    view,
    defaultPageSize: 200,
    drive: true,
    initial: () => ({ sel: ctx.query.get('$select'), ps: intOption('$top', ctx.query.get('$top'), 1, 1000) }),
  }, tokens);
}

function route(ctx: Ctx, rest: string[], functionToken: string | undefined): Record<string, unknown> {
  const { data, state } = ctx;
  const [first, second, third, fourth] = [rest[0]?.toLowerCase(), rest[1], rest[2], rest[3]];
  const n = rest.length;
  switch (first) {
    case undefined:
      return userJson(state, data.user);
    case 'messages': {
      if (n === 1) return messagesList(ctx, undefined);
      // "message: delta": per folder only; Graph answers this (`reference/graph.md` §11.3, obs).
      if (n === 2 && second.toLowerCase() === 'delta') throw unsupportedDelta('message');
      if (n === 2) {
        const entry = data.messages.get(second);
        if (!entry) throw outlookNotFound();
        return single(ctx, rec(entry.obj), 'messages');
      }
      break;
    }
    case 'mailfolders': {
      if (n === 1) {
        const value = [...data.folders.keys()].map((id) => folderJson(ctx, id));
        return { '@odata.context': context(ctx, 'mailFolders'), value };
      }
      const folderId = mustFolder(ctx, second);
      if (n === 2) return { '@odata.context': context(ctx, 'mailFolders/$entity'), ...folderJson(ctx, folderId) };
      if (n === 3 && third.toLowerCase() === 'childfolders') {
        // "List childFolders": the folders directly below this one (the simulated mailbox has none below its top folders).
        const value = [...data.folders.values()].filter((f) => f.parentFolderId === folderId).map((f) => folderJson(ctx, f.id));
        return { '@odata.context': context(ctx, `mailFolders('${folderId}')/childFolders`), value };
      }
      if (third?.toLowerCase() !== 'messages') break;
      if (n === 3) return messagesList(ctx, folderId);
      if (n === 4 && fourth.toLowerCase() === 'delta') {
        const select = ctx.query.get('$select');
        const filterText = ctx.query.get('$filter');
        checkMessageDeltaOptions(filterText, ctx.query);
        let parsed: { text?: string; filter?: FilterNode } = {};
        const filterOf = (text: string | undefined): FilterNode | undefined => {
          if (parsed.text !== text) parsed = { text, filter: text === undefined ? undefined : parseFilter(text).root };
          return parsed.filter;
        };
        return runDelta<SimMessage>(ctx, {
          resource: `messages:${folderId}`,
          view: {
            collection: data.messages,
            inScope: (e, t) => {
              if (e.scope !== folderId) return false;
              const filter = filterOf(t.f);
              return !filter || matches(filter, e.obj);
            },
            present: (e, sel) => ({ '@odata.type': '#microsoft.graph.message', ...project(rec(e.obj), sel) }),
            removed: outlookRemoved('#microsoft.graph.message'),
          },
          defaultPageSize: 10,
          drive: false,
          initial: () => ({ sel: select, f: filterText, ps: intOption('$top', ctx.query.get('$top'), 1, 1000) }),
        }, outlookTokens(ctx));
      }
      if (n === 4) {
        const entry = data.messages.get(fourth);
        if (!entry || entry.scope !== folderId) throw outlookNotFound();
        return single(ctx, rec(entry.obj), 'messages');
      }
      break;
    }
    case 'events':
    case 'calendar': {
      const events = first === 'calendar' ? rest.slice(1) : rest;
      if (first === 'calendar' && n === 1) {
        return { '@odata.context': context(ctx, 'calendar/$entity'), ...calendarJson(ctx) };
      }
      if (first === 'calendar' && events[0]?.toLowerCase() !== 'events') break;
      const k = events.length - 1;
      // "List events": single instances and series masters (occurrences and exceptions only through calendarView).
      if (k === 0) return listPage<SimEvent>(ctx, filterIter(data.events.live(), (e) => e.obj.type !== 'exception'), { defaultTop: 10, outlook: true, present: (e) => rec(e.obj), contextTail: 'events' });
      if (k === 1 && events[1].toLowerCase() === 'delta') {
        // v1.0 tracks changes of events only through calendarView (`reference/graph.md` §11.2, obs).
        throw badRequest("Unsupported request: Change tracking is not supported against 'microsoft.graph.event'.");
      }
      if (k === 1) {
        const event = state.graph.store.findEvent(data.user.id, events[1]);
        if (!event) throw outlookNotFound();
        return single(ctx, rec(event), 'events');
      }
      break;
    }
    case 'calendarview': {
      if (n === 1) {
        const window = windowParams(ctx);
        return listPage<SimEvent>(ctx, calendarViewEntries(ctx, window), { defaultTop: 10, outlook: true, present: (e) => rec(e.obj), contextTail: 'calendarView' });
      }
      if (n === 2 && second.toLowerCase() === 'delta') {
        // "event: delta": `$select`, `$filter`, `$orderby`, `$search`, `$expand` are not supported; refused (the wording
        // is the harsher plausible one, README "The simulated tenant").
        const unsupported = ['$select', '$filter', '$orderby', '$search', '$expand'].find((option) => ctx.query.has(option));
        if (unsupported !== undefined) throw new SimGraphError(400, 'ErrorInvalidUrlQuery', `The '${unsupported}' parameter is not supported for change tracking over the 'Events' resource.`);
        const tokens = outlookTokens(ctx);
        let window: { s: string; e: string };
        if (tokens.skip ?? tokens.delta) {
          const saved = decodeDeltaToken((tokens.skip ?? tokens.delta)!, 'calendarView', data.user.id, state.graph.store.generation);
          window = { s: saved.s ?? '', e: saved.e ?? '' };
        } else window = windowParams(ctx);
        return runDelta<SimEvent>(ctx, {
          resource: 'calendarView',
          view: eventView(ctx, window),
          defaultPageSize: 10,
          drive: false,
          initial: () => ({ s: window.s, e: window.e }),
        }, tokens);
      }
      break;
    }
    case 'contactfolders':
    case 'contacts': {
      // `/contactFolders/{id}/contacts[...]` addresses the default contact folder (the only one simulated).
      if (first === 'contactfolders') {
        if (n < 2 || (second !== data.contactFolderId && second.toLowerCase() !== 'contacts')) throw outlookNotFound();
        if (n === 2) return { '@odata.context': context(ctx, 'contactFolders/$entity'), id: data.contactFolderId, displayName: 'Contacts', parentFolderId: data.contactFolderId };
        if (third?.toLowerCase() !== 'contacts') break;
        // "contact: delta": per contact folder (`/contactFolders/{id}/contacts/delta`).
        if (n === 4 && fourth.toLowerCase() === 'delta') return contactsDelta(ctx);
        return route(ctx, rest.slice(2), functionToken);
      }
      if (n === 1) return listPage(ctx, data.contacts.live(), { defaultTop: 10, outlook: true, present: (e) => rec(e.obj), contextTail: 'contacts' });
      // `/contacts/delta` is not documented ("contact: delta" lists the folder form only): refused as Graph refuses
      // delta where it does not track changes (the harsher plausible answer, README "The simulated tenant").
      if (n === 2 && second.toLowerCase() === 'delta') throw unsupportedDelta('contact');
      if (n === 2) {
        const entry = data.contacts.get(second);
        if (!entry) throw outlookNotFound();
        return single(ctx, rec(entry.obj), 'contacts');
      }
      break;
    }
    case 'calendars': {
      // "List calendars": the user's calendars (one simulated: the default calendar). `$select` applies.
      if (n === 1) {
        const select = parseSelect(ctx.query.get('$select'));
        return { '@odata.context': context(ctx, 'calendars'), value: [project(calendarJson(ctx), select)] };
      }
      // "Get calendar" and a calendar's events and calendar view (`/calendars/{id}/calendarView/delta`: "Get
      // incremental changes to events in a calendar view", each calendar tracked on its own): the one simulated
      // calendar is the default one, so its paths answer as `/calendar`, `/events`, `/calendarView` do. Another id:
      // 404 `ErrorItemNotFound`, as for any Outlook item that does not exist.
      if (second !== data.calendarId) throw outlookNotFound();
      if (n === 2) return { '@odata.context': context(ctx, 'calendars/$entity'), ...calendarJson(ctx) };
      const below = third.toLowerCase();
      if (below === 'events' || below === 'calendarview') return route(ctx, rest.slice(2), functionToken);
      break;
    }
    case 'drives': {
      // "List drives" (`/me/drives`, `/users/{id}/drives`): the drives the user owns (one simulated: the OneDrive).
      if (n === 1) {
        const select = parseSelect(ctx.query.get('$select'));
        return { '@odata.context': `${state.baseUrl}/v1.0/$metadata#drives`, value: [project(driveJson(ctx), select)] };
      }
      break;
    }
    case 'drive': {
      if (n === 1) {
        return { '@odata.context': `${state.baseUrl}/v1.0/$metadata#drives/$entity`, ...driveJson(ctx) };
      }
      const sub = second?.toLowerCase();
      if (sub?.startsWith('root:')) {
        // An item by path ("Get driveItem": `/drive/root:/path/to/item`, also with a closing `:`).
        const path = rest.slice(1).join('/').slice('root:'.length).replace(/:$/, '');
        if (path.includes(':')) throw badRequest(`Resource not found for the segment '${rest[rest.length - 1]}'.`);
        return driveItemJson(ctx, driveItemByPath(ctx, path));
      }
      if (sub === 'root') {
        if (n === 2) return driveItemJson(ctx, data.rootId);
        if (n === 3 && third.toLowerCase() === 'children') return driveList(ctx, data.rootId);
        if (n === 3 && third.toLowerCase() === 'delta') return driveDelta(ctx, functionToken);
      }
      if (sub === 'items' && n >= 3) {
        const itemId = third.toLowerCase() === 'root' ? data.rootId : third;
        if (n === 3) return driveItemJson(ctx, itemId);
        if (n === 4 && fourth.toLowerCase() === 'children') return driveList(ctx, itemId);
        if (n === 4 && fourth.toLowerCase() === 'delta') return driveDelta(ctx, functionToken, itemId === data.rootId ? undefined : itemId);
      }
      break;
    }
  }
  throw badRequest(`Resource not found for the segment '${rest[rest.length - 1] ?? ''}'.`);
}

/**
 * Message delta's query options ("message: delta", Query parameters; `reference/graph.md` §5, §11.3): `$filter` only
 * `receivedDateTime ge|gt {value}` (Graph's answer otherwise: 400 `ErrorInvalidUrlQuery`, as reported in
 * msgraph-sdk-dotnet#1512), `$orderby` only `receivedDateTime desc`, no `$search` (the same answer, in the same form:
 * the harsher plausible one, README "The simulated tenant").
 */
function checkMessageDeltaOptions(filterText: string | undefined, query: Query): void {
  const refuse = (option: string, allowed: string): SimGraphError =>
    new SimGraphError(400, 'ErrorInvalidUrlQuery', `The '${option}' parameter value is not supported for 'Messages' resource; only a value of '${allowed}' is supported.`);
  if (filterText !== undefined) {
    const { root } = parseFilter(filterText);
    if (root.kind !== 'cmp' || root.field.join('/').toLowerCase() !== 'receiveddatetime' || (root.op !== 'ge' && root.op !== 'gt')) throw refuse('$filter', 'receivedDateTime ge value');
  }
  const orderText = query.get('$orderby');
  if (orderText !== undefined) {
    const order = parseOrderBy(orderText);
    if (order.length !== 1 || order[0].field.join('/').toLowerCase() !== 'receiveddatetime' || !order[0].desc) throw refuse('$orderby', 'receivedDateTime desc');
  }
  if (query.has('$search')) throw new SimGraphError(400, 'ErrorInvalidUrlQuery', "The '$search' parameter is not supported for 'Messages' resource.");
}

/** Delta on a collection Graph does not track: 400 "Unsupported request: Change tracking is not supported against ..." (obs). */
function unsupportedDelta(type: 'message' | 'contact'): SimGraphError {
  return badRequest(`Unsupported request: Change tracking is not supported against 'microsoft.graph.${type}'.`);
}

/** Contact delta of the (only simulated) contact folder. */
function contactsDelta(ctx: Ctx): Record<string, unknown> {
  const select = ctx.query.get('$select');
  return runDelta<SimContact>(ctx, {
    resource: 'contacts',
    view: {
      collection: ctx.data.contacts,
      inScope: () => true,
      present: (e, sel) => ({ '@odata.type': '#microsoft.graph.contact', ...project(rec(e.obj), sel) }),
      removed: outlookRemoved('#microsoft.graph.contact'),
    },
    defaultPageSize: 10,
    drive: false,
    initial: () => ({ sel: select }),
  }, outlookTokens(ctx));
}

function outlookTokens(ctx: Ctx): { skip?: string; delta?: string } {
  return { skip: ctx.query.get('$skiptoken'), delta: ctx.query.get('$deltatoken') };
}

function sendError(res: Response, state: SimState, err: unknown): void {
  const requestId = String(res.getHeader('request-id') ?? '');
  if (err instanceof SimGraphError) {
    for (const [name, value] of Object.entries(err.headers)) res.setHeader(name, value);
    res.status(err.status).json(err.body(state.clock.now(), requestId || undefined!));
    return;
  }
  res.status(500).json(graphErrorBody('InternalServerError', 'The simulator failed to handle the request.', state.clock.now(), requestId || undefined));
}

/** Resolves `/me`, `/users/{id}` and `/drives/{id}` to the owner's data, enforcing who may read what. */
function resolveOwner(state: SimState, principal: TokenPrincipal, segments: string[]): { data: UserData; rest: string[] } {
  const head = segments[0]?.toLowerCase();
  if (head === 'me') {
    if (principal.appOnly || !principal.userId) throw badRequest('/me request is only valid with delegated authentication flow.');
    return { data: state.graph.store.user(principal.userId), rest: segments.slice(1) };
  }
  if (head === 'users' && segments.length >= 2) {
    // Notifications name users as `{userId}@{tenantId}` (§2.1): the tenant part is ours, drop it.
    const tenantSuffix = `@${state.tenantId}`;
    const key = segments[1].toLowerCase().endsWith(tenantSuffix) ? segments[1].slice(0, -tenantSuffix.length) : segments[1];
    const user = state.findUser(key);
    if (!user) throw new SimGraphError(404, 'ErrorInvalidUser', `The requested user '${segments[1]}' is invalid.`);
    if (!principal.appOnly && principal.userId !== user.id) throw new SimGraphError(403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.');
    return { data: state.graph.store.user(user.id), rest: segments.slice(2) };
  }
  if (head === 'drives' && segments.length >= 2) {
    const data = state.graph.store.userOfDrive(segments[1]);
    if (!data) throw new SimGraphError(404, 'itemNotFound', 'The resource could not be found.');
    if (!principal.appOnly && principal.userId !== data.user.id) throw new SimGraphError(403, 'accessDenied', 'Access denied');
    return { data, rest: ['drive', ...segments.slice(2)] };
  }
  throw badRequest(`Resource not found for the segment '${segments[0] ?? ''}'.`);
}

export function registerGraph(app: Express, state: SimState): void {
  app.use('/v1.0', express.json({ limit: '1mb' }), (req: Request, res: Response, _next: NextFunction) => {
    try {
      let principal = res.locals.principal as TokenPrincipal | undefined;
      if (!principal) {
        const check = state.accessTokens.check(req.header('authorization'));
        if (!check.ok) {
          res.status(check.status).json(check.body);
          return;
        }
        principal = check.principal;
      }
      const query = parseQuery(req.originalUrl);
      const { segments, functionToken } = segmentsOf(req.path);
      const owner = resolveOwner(state, principal, segments);
      checkPermission(principal, req.method, owner.rest);
      if (req.method !== 'GET') {
        const result = handleWrite(state, owner.data, owner.rest, req.method, req.body);
        if (result.body) res.status(result.status).json(result.body);
        else res.status(result.status).end();
        return;
      }
      const ctx: Ctx = { req, res, state, query, data: owner.data };
      let body: Record<string, unknown>;
      try {
        body = route(ctx, owner.rest, functionToken);
      } catch (err) {
        if (err instanceof StaleDeltaTokenError) gone(ctx, err.drive);
        throw err;
      }
      res.status(200).json(body);
    } catch (err) {
      sendError(res, state, err);
    }
  });
  // Malformed or oversized JSON bodies: a Graph-shaped 4xx, never a crash.
  app.use('/v1.0', (err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const status = (err as { status?: number }).status;
    if (status && status >= 400 && status < 500) {
      const message = status === 413 ? 'The request body is too large.' : 'Invalid JSON. The request body could not be read.';
      res.status(status).json(graphErrorBody(status === 413 ? 'RequestEntityTooLarge' : 'BadRequest', message, state.clock.now()));
      return;
    }
    sendError(res, state, err);
  });
}
