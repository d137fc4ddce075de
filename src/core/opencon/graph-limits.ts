/**
 * What Microsoft Graph cannot serve, refused when a poller is deployed (issue 14: "bad input gets a clear error at
 * deploy that names the limit, never silence"). Each rule names the limit and what to use instead, and cites the
 * Microsoft documentation page it follows (`reference/graph.md` §5, §6, §11.2, §11.3, §11.5):
 *
 * - no mailbox-wide message delta, no delta on `/events`, no delta on `/contacts` outside a contact folder;
 * - message delta: `$filter` only `receivedDateTime ge|gt`, `$orderby` only `receivedDateTime desc`, no `$search`;
 * - calendarView delta: no `$select`, `$filter`, `$orderby`, `$search`, `$expand`; a calendarView window (both ends,
 *   at most 1825 days; calendarView delta without one: the poller supplies it);
 * - Outlook collections read with `$filter` + `$orderby`: the `InefficientFilter` rule;
 * - drive delta on a file (only the root and folders are tracked): a hub `/hubs/documents/files/{id}` at deploy, an
 *   item found to be a file when the poller first resolves it (`checkDriveDeltaItem`, `changes/drive-scope.ts`).
 *
 * Pure: the URL as configured (macros still in place) is all it reads; nothing here asks Graph.
 */
import { ConfigurationError } from '../errors';

/** A poller resource's URL: the Graph path as translated (relative, macros in place), and the URL as written. */
export interface GraphUrlToCheck {
  /** Graph path relative to the version root, with its query (`/me/mailFolders/inbox/messages/delta?$select=x`). */
  url: string;
  /** The URL as the user wrote it (a hub URL or the same Graph path). */
  original?: string;
  /** How the poller reads it (a calendarView without a window is fine in delta mode: the poller supplies one). */
  mode?: 'filter' | 'delta';
}

interface ParsedUrl {
  /** `/me`, `/users/{id}`, ... (as written), or '' for paths that are not a user's. */
  owner: string;
  /** Segments after the owner, lower case; `x('y')` split into `x`, `y`; `delta()` as `delta`. */
  rest: string[];
  /** Query options, names lower case, values decoded. */
  params: Map<string, string>;
}

const OUTLOOK_ROOTS = new Set(['messages', 'mailfolders', 'events', 'calendar', 'calendars', 'calendarview', 'calendargroups', 'contacts', 'contactfolders']);

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function parse(url: string): ParsedUrl {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const params = new Map<string, string>();
  if (q >= 0) {
    for (const pair of url.slice(q + 1).split('&')) {
      if (pair === '') continue;
      const eq = pair.indexOf('=');
      const key = safeDecode(eq < 0 ? pair : pair.slice(0, eq)).toLowerCase();
      // `+` is a space in a query string (as Graph reads it, `reference/graph.md` §6).
      if (!params.has(key)) params.set(key, eq < 0 ? '' : safeDecode(pair.slice(eq + 1).replace(/\+/g, ' ')));
    }
  }
  const raw = path.split('/').filter((s) => s !== '');
  const segments: string[] = [];
  for (const segment of raw) {
    const keyed = /^(\w+)\('([^']*)'\)$/.exec(safeDecode(segment));
    if (keyed) segments.push(keyed[1], keyed[2]);
    else segments.push(safeDecode(segment).replace(/^delta\(\)$/i, 'delta'));
  }
  const head = segments[0]?.toLowerCase();
  let ownerLength = 0;
  if (head === 'me') ownerLength = 1;
  else if (head === 'users' && segments.length >= 2) ownerLength = 2;
  return {
    owner: ownerLength === 0 ? '' : `/${raw.slice(0, ownerLength).join('/')}`,
    rest: segments.slice(ownerLength).map((s) => s.toLowerCase()),
    params,
  };
}

/** `$filter` text with macros and quoted values masked (`M`, `S`): what is left is properties and operators. */
function maskFilter(filter: string): string {
  return filter.replace(/\$\{[^}]*\}/g, 'M').replace(/'(?:[^']|'')*'?/g, 'S');
}

/** Properties of a `$filter` in order of first appearance (comparisons, `contains(...)`-like functions, lambdas). */
export function filterProperties(filter: string): string[] {
  const masked = maskFilter(filter);
  const found: Array<{ at: number; name: string }> = [];
  for (const m of masked.matchAll(/([A-Za-z_][\w/]*)\s+(?:eq|ne|gt|ge|lt|le|in|has)\s/gi)) found.push({ at: m.index ?? 0, name: m[1] });
  for (const m of masked.matchAll(/\b(?:contains|startswith|endswith)\s*\(\s*([A-Za-z_][\w/]*)/gi)) found.push({ at: m.index ?? 0, name: m[1] });
  for (const m of masked.matchAll(/([A-Za-z_][\w/]*?)\/(?:any|all)\s*\(/gi)) found.push({ at: m.index ?? 0, name: m[1] });
  found.sort((a, b) => a.at - b.at);
  // Lambda variables (`categories/any(c:c eq 'Red')`) are not properties.
  const variables = new Set([...masked.matchAll(/\/(?:any|all)\s*\(\s*(\w+)\s*:/gi)].map((m) => m[1].toLowerCase()));
  const names: string[] = [];
  for (const { name } of found) {
    if (/^(and|or|not)$/i.test(name) || variables.has(name.split('/')[0].toLowerCase())) continue;
    if (!names.some((n) => n.toLowerCase() === name.toLowerCase())) names.push(name);
  }
  return names;
}

/** `$orderby` as `[property, 'asc'|'desc']` pairs (the direction defaults to asc, as in OData). */
function orderByOf(text: string): Array<[string, 'asc' | 'desc']> {
  return text
    .split(',')
    .map((part) => part.trim().split(/\s+/))
    .filter((words) => words[0] !== '')
    .map(([name, dir]) => [name ?? '', dir?.toLowerCase() === 'desc' ? 'desc' : 'asc']);
}

/**
 * Outlook's `$filter` + `$orderby` rule ("List messages", Optional query parameters: "Using filter and orderby in
 * the same query"): the properties in `$orderby` must also be in `$filter`, in the same order, before any other
 * property; otherwise Graph answers 400 `InefficientFilter` "The restriction or sort order is too complex for this
 * operation." The page documents it for messages; Exchange applies its restrictions alike to the other Outlook
 * items, and so does the simulator.
 */
export function inefficientFilterProblem(filter: string, orderBy: string): string | undefined {
  const ordered = orderByOf(orderBy).map(([name]) => name);
  const filtered = filterProperties(filter);
  const misplaced = ordered.findIndex((name, i) => filtered[i]?.toLowerCase() !== name.toLowerCase());
  if (misplaced < 0) return undefined;
  const wanted = ordered.join(', ');
  return (
    `$orderby=${orderBy} with $filter=${filter}: Graph answers 400 InefficientFilter ("The restriction or sort order is too complex for this operation") ` +
    `unless the $orderby properties (${wanted}) also come first in $filter, in the same order; ` +
    `start the $filter with ${ordered.map((n) => `${n} ...`).join(' and ')}, or leave out $orderby`
  );
}

const MESSAGE_DELTA_FILTER = /^\s*(\(\s*)?receivedDateTime\s+(ge|gt)\s+[^\s()]+\s*(\)\s*)?$/i;

/**
 * Message delta ("message: delta", Query parameters; "Get incremental changes to messages in a folder"): `$filter`
 * only `receivedDateTime ge|gt {value}`, `$orderby` only `receivedDateTime desc`, no `$search`.
 */
function messageDeltaProblem(params: Map<string, string>): string | undefined {
  const filter = params.get('$filter');
  if (filter !== undefined && !MESSAGE_DELTA_FILTER.test(maskFilter(filter))) {
    return `$filter=${filter}: Graph's message delta takes only $filter=receivedDateTime ge {date} (or gt); filter the messages in a flow after the poller, or poll /messages with $filter instead of delta`;
  }
  const orderBy = params.get('$orderby');
  if (orderBy !== undefined) {
    const order = orderByOf(orderBy);
    if (order.length !== 1 || order[0][0].toLowerCase() !== 'receiveddatetime' || !/\sdesc\s*$/i.test(orderBy)) {
      return `$orderby=${orderBy}: Graph's message delta takes only $orderby=receivedDateTime desc; leave it out (the poller does not need an order)`;
    }
  }
  if (params.has('$search')) return "$search: Graph's message delta does not support $search; leave it out, or poll /messages with $filter instead of delta";
  return undefined;
}

/** calendarView delta ("event: delta", Query parameters): `$select`, `$filter`, `$orderby`, `$search`, `$expand` are not supported. */
const CALENDAR_DELTA_UNSUPPORTED = ['$select', '$filter', '$orderby', '$search', '$expand'];

/** The longest calendarView window Graph serves (`reference/graph.md` §11.2, obs: a longer one is a 400 `ErrorInvalidRequest`). */
const MAX_CALENDAR_WINDOW_DAYS = 1825;

/**
 * A calendarView's window ("List calendarView": `startDateTime` and `endDateTime` required; "event: delta": on the
 * first call only): both ends or neither (delta: the poller supplies one year back, two ahead), ISO dates, at most
 * 1825 days apart. Macros are known only when a poll renders them.
 */
function calendarWindowProblem(params: Map<string, string>, mode: 'filter' | 'delta'): string | undefined {
  const start = params.get('startdatetime');
  const end = params.get('enddatetime');
  const limit = `Graph serves a calendarView window of at most ${MAX_CALENDAR_WINDOW_DAYS} days`;
  if (start === undefined && end === undefined) {
    if (mode === 'delta') return undefined; // the delta engine adds one year back, two years ahead
    return `a calendarView needs startDateTime and endDateTime (${limit}); or use /calendarView/delta, for which the poller supplies one year back and two ahead`;
  }
  if (start === undefined || end === undefined) return `give both startDateTime and endDateTime (${limit}), or neither with /calendarView/delta`;
  if (/\$\{/.test(start) || /\$\{/.test(end)) return undefined;
  const startMs = Date.parse(start);
  const endMs = Date.parse(end);
  if (Number.isNaN(startMs) || Number.isNaN(endMs)) return `startDateTime and endDateTime must be ISO dates (${limit})`;
  if (endMs <= startMs) return 'endDateTime must be after startDateTime';
  const days = (endMs - startMs) / 86_400_000;
  if (days > MAX_CALENDAR_WINDOW_DAYS) return `the window spans ${Math.ceil(days)} days; ${limit} (Graph answers 400 ErrorInvalidRequest)`;
  return undefined;
}

/** The problem Graph would have with this resource URL (a message naming the URL, the limit and what to use instead), or undefined. */
export function graphLimitProblem(check: GraphUrlToCheck): string | undefined {
  const original = check.original?.trim() ?? '';
  // Documents hub: `/hubs/documents/files/{id}` names one file. Drive delta tracks the root and folders only
  // ("driveItem: delta", HTTP request: `/drive/root/delta`, `/drive/items/{folder}/delta`; `reference/graph.md` §11.5).
  const hubFile = /^(?:https?:\/\/[^/]+)?\/?hubs\/documents\/files\/([^/?]+)(?:[/?]|$)/i.exec(original);
  const byPath = /[?&]path=([^&]*)/i.exec(original);
  const filePath = byPath !== null && safeDecode(byPath[1]).replace(/\/+$/, '') !== '';
  if (hubFile && (!/^(contents|metadata)$/i.test(hubFile[1]) || filePath)) {
    return `${original}: Graph's drive delta tracks folders and the whole drive, not one file; poll the folder that holds it (/hubs/documents/folders/{folderId}) or the drive (/hubs/documents/changes)`;
  }
  const { owner, rest, params } = parse(check.url);
  const me = owner || '/me';
  const n = rest.length;
  const path = check.url.replace(/\?.*$/, '');
  if (n === 0 || !OUTLOOK_ROOTS.has(rest[0])) return undefined;
  const isDelta = rest[n - 1] === 'delta';
  if (isDelta && n === 2 && rest[0] === 'messages') {
    // "message: delta": per folder only; `/me/messages/delta` answers 400 "Change tracking is not supported against
    // 'microsoft.graph.message'" (`reference/graph.md` §11.3).
    return `${path}: Graph has no mailbox-wide message delta (it answers "Change tracking is not supported against 'microsoft.graph.message'"); use ${me}/mailFolders/{folder}/messages/delta, e.g. ${me}/mailFolders/inbox/messages/delta, one resource per folder`;
  }
  if (isDelta && n >= 2 && rest[n - 2] === 'events') {
    // "event: delta" (v1.0): delta on a calendar view only; `/events/delta` answers 400 "Change tracking is not
    // supported against 'microsoft.graph.event'" (`reference/graph.md` §11.2).
    return `${path}: Graph tracks event changes only through a calendar view: use ${me}/calendarView/delta (the poller supplies the window); Graph answers "Change tracking is not supported against 'microsoft.graph.event'"`;
  }
  if (isDelta && n === 2 && rest[0] === 'contacts') {
    // "contact: delta": per contact folder (`/contactFolders/{id}/contacts/delta`); `/contacts/delta` is not
    // documented and is refused (`reference/graph.md` §11.3).
    return `${path}: Graph tracks contact changes per contact folder only; use ${me}/contactFolders/{folderId}/contacts/delta ({folderId}: the parentFolderId of your contacts, or an id from GET ${me}/contactFolders)`;
  }
  if (isDelta && n >= 4 && rest[n - 2] === 'messages' && rest[0] === 'mailfolders') {
    const problem = messageDeltaProblem(params);
    return problem === undefined ? undefined : `${path}: ${problem}`;
  }
  if (isDelta && n >= 2 && rest[n - 2] === 'calendarview') {
    const given = CALENDAR_DELTA_UNSUPPORTED.filter((name) => params.has(name));
    if (given.length > 0) {
      return `${path}: Graph's calendarView delta does not support ${given.join(', ')} (it returns every event in the window, with all its properties); leave ${given.length === 1 ? 'it' : 'them'} out and filter in a flow after the poller`;
    }
  }
  if (rest[n - 1] === 'calendarview' || (isDelta && rest[n - 2] === 'calendarview')) {
    const problem = calendarWindowProblem(params, check.mode ?? (isDelta ? 'delta' : 'filter'));
    if (problem !== undefined) return `${path}: ${problem}`;
    if (isDelta) return undefined;
  }
  const filter = params.get('$filter');
  const orderBy = params.get('$orderby');
  if (!isDelta && filter !== undefined && orderBy !== undefined) {
    const problem = inefficientFilterProblem(filter, orderBy);
    return problem === undefined ? undefined : `${path}: ${problem}`;
  }
  return undefined;
}

/** Throws a ConfigurationError for `setting` when Graph cannot serve the URL (`graphLimitProblem`). */
export function checkGraphLimits(check: GraphUrlToCheck, setting: string): void {
  const problem = graphLimitProblem(check);
  if (problem !== undefined) throw new ConfigurationError(setting, problem);
}

/** The facets of a drive item that tell a folder from a file. */
export interface DriveItemKind {
  id?: unknown;
  folder?: unknown;
  root?: unknown;
}

/**
 * A drive delta must start at the root or a folder ("driveItem: delta": `/drive/root/delta`,
 * `/drive/items/{folder}/delta`): an item without a `folder` (or `root`) facet is a file, refused with the limit
 * named. `described` names the item as configured (its id or path).
 */
export function checkDriveDeltaItem(item: DriveItemKind, described: string, setting = 'url'): void {
  const present = (value: unknown) => value !== undefined && value !== null;
  if (present(item.folder) || present(item.root)) return;
  throw new ConfigurationError(
    setting,
    `${described} is a file: Graph's drive delta tracks the root and folders only; poll the folder that holds it, or the whole drive (/me/drive/root/delta)`,
  );
}
