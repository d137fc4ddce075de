/**
 * Open Connectors hub URLs → Microsoft Graph paths (CONTRACT "ms365-poller"; `reference/open-connectors.md`
 * §3.1 "a hub URL whose CEQL `where` is translated to the vendor query, for example OData `$filter`", §3.5).
 *
 * - `/hubs/general|productivity/messages|events|contacts|calendars|folders/...` → `/me/messages`, `/me/events`,
 *   `/me/contacts`, `/me/calendars`, `/me/mailFolders/...`;
 * - `/hubs/documents/changes|files|folders` and the onedrivev2 `events` resource → the drive's delta query
 *   (`/me/drive/root/delta`; §3.3: OneDrive change feeds are where DELETED events come from); one folder:
 *   `/hubs/documents/folders/{id}` → `/me/drive/items/{id}/delta`, `?path=/A/B` → `/me/drive/root:/A/B:/delta`
 *   (OneDrive for Business answers delta on the root only: the poller narrows the root delta to the folder,
 *   `core/changes/drive-scope.ts`);
 * - `where=<CEQL>` → `$filter=<OData>`: hub and PascalCase field names to Graph camelCase
 *   (`LastModifiedDateTime`, `modification_date` → `lastModifiedDateTime`; `creation_date` → `createdDateTime`),
 *   `>=`,`>`,`<=`,`<`,`=`,`!=` → `ge`,`gt`,`le`,`lt`,`eq`,`ne`; dates are unquoted (OData v4 DateTimeOffset
 *   literals, §3.1 "Graph is camelCase and ... literals are unquoted");
 * - a Graph path (`/me/...`, `/users/...`, `/drives/...`, ...) passes through unchanged.
 *
 * URL macros (`${gmtDate:...}`, §3.2) are left in place for `expandUrlMacros`; everything else in `$filter` is
 * percent-encoded (spaces → `%20`). Anything not understood → ConfigurationError naming that part.
 */
import { ConfigurationError } from '../errors';
import type { ElementKey } from '../elements';
import { listUrlMacros } from '../dates/url-macros';

export interface TranslatedUrl {
  /** Graph path relative to `graphBaseUrl`, with its query; macros still in place. */
  path: string;
  /** `delta`: a Graph delta query (the path ends in `/delta`); `filter`: a collection read with `$filter`. */
  mode: 'filter' | 'delta';
  /** Graph name of the date the `$filter` compares with `ge`/`gt` (the poll window's field), if any. */
  dateField?: string;
}

const SETTING = 'url';

/** First segments of Graph paths accepted as they are. */
const GRAPH_ROOTS = new Set([
  'me', 'users', 'drives', 'drive', 'groups', 'sites', 'teams', 'chats', 'communications', 'planner',
  'directory', 'devices', 'applications', 'servicePrincipals', 'organization', 'security', 'admin', 'solutions',
  'shares', 'subscriptions', 'education', 'reports', 'print',
].map((s) => s.toLowerCase()));

/** Hub / CEQL field names whose Graph name is not just their camelCase form. */
const FIELD_NAMES: Record<string, string> = {
  lastmodifieddatetime: 'lastModifiedDateTime',
  lastmodifieddate: 'lastModifiedDateTime',
  modification_date: 'lastModifiedDateTime',
  modificationdate: 'lastModifiedDateTime',
  modifieddate: 'lastModifiedDateTime',
  modified_date: 'lastModifiedDateTime',
  modified: 'lastModifiedDateTime',
  updated: 'lastModifiedDateTime',
  updateddate: 'lastModifiedDateTime',
  updated_date: 'lastModifiedDateTime',
  createddatetime: 'createdDateTime',
  creation_date: 'createdDateTime',
  creationdate: 'createdDateTime',
  createddate: 'createdDateTime',
  created_date: 'createdDateTime',
  created: 'createdDateTime',
  receiveddatetime: 'receivedDateTime',
  received_date: 'receivedDateTime',
  receiveddate: 'receivedDateTime',
  sentdatetime: 'sentDateTime',
  sent_date: 'sentDateTime',
};

/** `LastModifiedDateTime`, `modification_date`, `From.EmailAddress.Address` → Graph's names (`/` between parts). */
export function graphFieldName(name: string): string {
  return name
    .split('.')
    .map((part) => {
      const known = FIELD_NAMES[part.toLowerCase()];
      if (known !== undefined) return known;
      const camel = part.replace(/_([a-z0-9])/gi, (_m, c: string) => c.toUpperCase());
      return camel.charAt(0).toLowerCase() + camel.slice(1);
    })
    .join('/');
}

const OPERATORS: Record<string, string> = { '>=': 'ge', '>': 'gt', '<=': 'le', '<': 'lt', '=': 'eq', '==': 'eq', '!=': 'ne', '<>': 'ne' };

type CeqlToken =
  | { kind: 'ident'; text: string; pos: number }
  | { kind: 'op'; text: string; pos: number }
  | { kind: 'string'; text: string; raw: string; pos: number }
  | { kind: 'macro'; text: string; pos: number }
  | { kind: 'number'; text: string; pos: number }
  | { kind: 'paren'; text: string; pos: number };

/** End (exclusive) of a `${…}` macro starting at `start` (the pattern's quotes never end it, §3.2). */
function macroEnd(text: string, start: number, where: string): number {
  const close = text.indexOf('}', start + 2);
  if (close < 0) throw new ConfigurationError(SETTING, `${where}: macro at position ${start + 1} has no closing "}"`);
  return close + 1;
}

function tokenizeCeql(where: string): CeqlToken[] {
  const tokens: CeqlToken[] = [];
  let i = 0;
  while (i < where.length) {
    const c = where[i];
    if (/\s/.test(c)) {
      i += 1;
    } else if (c === "'") {
      // A quoted value; `''` is a quote; a macro inside is skipped whole.
      let j = i + 1;
      let value = '';
      for (;;) {
        if (j >= where.length) throw new ConfigurationError(SETTING, `where "${where}": unterminated quote at position ${i + 1}`);
        if (where.startsWith('${', j)) {
          const end = macroEnd(where, j, `where "${where}"`);
          value += where.slice(j, end);
          j = end;
        } else if (where[j] === "'") {
          if (where[j + 1] === "'") {
            value += "'";
            j += 2;
          } else break;
        } else {
          value += where[j];
          j += 1;
        }
      }
      tokens.push({ kind: 'string', text: value, raw: where.slice(i, j + 1), pos: i });
      i = j + 1;
    } else if (where.startsWith('${', i)) {
      const end = macroEnd(where, i, `where "${where}"`);
      tokens.push({ kind: 'macro', text: where.slice(i, end), pos: i });
      i = end;
    } else if (c === '(' || c === ')') {
      tokens.push({ kind: 'paren', text: c, pos: i });
      i += 1;
    } else if (/[<>=!]/.test(c)) {
      const op = /^(>=|<=|<>|!=|==|>|<|=)/.exec(where.slice(i));
      if (op === null) throw new ConfigurationError(SETTING, `where "${where}": operator not understood at position ${i + 1}`);
      tokens.push({ kind: 'op', text: op[1], pos: i });
      i += op[1].length;
    } else if (/[-+\d]/.test(c)) {
      const num = /^[-+]?\d+(\.\d+)?/.exec(where.slice(i));
      if (num === null) throw new ConfigurationError(SETTING, `where "${where}": "${c}" not understood at position ${i + 1}`);
      tokens.push({ kind: 'number', text: num[0], pos: i });
      i += num[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const id = /^[A-Za-z_][\w.]*/.exec(where.slice(i));
      tokens.push({ kind: 'ident', text: id === null ? c : id[0], pos: i });
      i += id === null ? 1 : id[0].length;
    } else {
      throw new ConfigurationError(SETTING, `where "${where}": "${c}" not understood at position ${i + 1}`);
    }
  }
  return tokens;
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** Is a quoted CEQL value a date (a date macro, or an ISO date)? Then OData wants it unquoted. */
function isDateValue(value: string): boolean {
  if (ISO_DATE.test(value)) return true;
  if (!value.startsWith('${') || !value.endsWith('}')) return false;
  const macros = listUrlMacros(value);
  return macros.length === 1 && macros[0].text === value;
}

/** Percent-encodes OData text outside macros (spaces → %20; quotes, `:`, `/`, parentheses stay readable). */
function encodeOutsideMacros(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const start = text.indexOf('${', i);
    if (start < 0) {
      out += encodeODataText(text.slice(i));
      break;
    }
    out += encodeODataText(text.slice(i, start));
    const end = text.indexOf('}', start) + 1;
    out += text.slice(start, end);
    i = end;
  }
  return out;
}

function encodeODataText(text: string): string {
  return encodeURIComponent(text).replace(/%3A/gi, ':').replace(/%2F/gi, '/').replace(/%2C/gi, ',');
}

/**
 * CEQL `where` → OData `$filter` text (not encoded), and the field compared with `>=`/`>` to a date.
 * Grammar: comparisons `field op value` joined by `and`/`or`, `not` and parentheses.
 */
export function ceqlToODataFilter(where: string): { filter: string; dateField?: string } {
  const tokens = tokenizeCeql(where);
  if (tokens.length === 0) throw new ConfigurationError(SETTING, 'where is empty');
  const parts: string[] = [];
  let dateField: string | undefined;
  let expectOperand = true;
  let depth = 0;
  for (let i = 0; i < tokens.length; i += 1) {
    const t = tokens[i];
    const at = `where "${where}" at position ${t.pos + 1}`;
    if (t.kind === 'paren') {
      if (t.text === '(') {
        if (!expectOperand) throw new ConfigurationError(SETTING, `${at}: "(" not expected here`);
        depth += 1;
      } else {
        if (expectOperand || depth === 0) throw new ConfigurationError(SETTING, `${at}: ")" not expected here`);
        depth -= 1;
      }
      parts.push(t.text);
      continue;
    }
    if (t.kind === 'ident' && /^(and|or)$/i.test(t.text)) {
      if (expectOperand) throw new ConfigurationError(SETTING, `${at}: "${t.text}" needs a comparison before it`);
      parts.push(` ${t.text.toLowerCase()} `);
      expectOperand = true;
      continue;
    }
    if (t.kind === 'ident' && /^not$/i.test(t.text)) {
      if (!expectOperand) throw new ConfigurationError(SETTING, `${at}: "not" not expected here`);
      parts.push('not ');
      continue;
    }
    if (!expectOperand) throw new ConfigurationError(SETTING, `${at}: "${t.text}" not understood (expected and, or or ")")`);
    // field op value
    if (t.kind !== 'ident') throw new ConfigurationError(SETTING, `${at}: expected a field name, found "${t.text}"`);
    const op = tokens[i + 1];
    if (op === undefined || op.kind !== 'op') {
      const found = op === undefined ? 'the end' : `"${op.text}"`;
      throw new ConfigurationError(
        SETTING,
        `${at}: after "${t.text}" expected one of >=, >, <=, <, =, != (found ${found}); CEQL like/in/is are not translated`,
      );
    }
    const value = tokens[i + 2];
    if (value === undefined || value.kind === 'op' || value.kind === 'paren') {
      throw new ConfigurationError(SETTING, `${at}: "${t.text} ${op.text}" needs a value`);
    }
    const field = graphFieldName(t.text);
    const odataOp = OPERATORS[op.text];
    let literal: string;
    let isDate = false;
    if (value.kind === 'string') {
      isDate = isDateValue(value.text);
      literal = isDate ? value.text : `'${value.text.replace(/'/g, "''")}'`;
    } else if (value.kind === 'macro') {
      listUrlMacros(value.text);
      isDate = true;
      literal = value.text;
    } else if (value.kind === 'ident' && /^(true|false|null)$/i.test(value.text)) {
      literal = value.text.toLowerCase();
    } else if (value.kind === 'number') {
      literal = value.text;
    } else {
      throw new ConfigurationError(SETTING, `where "${where}" at position ${value.pos + 1}: value "${value.text}" not understood (quote text values)`);
    }
    if (isDate && dateField === undefined && (odataOp === 'ge' || odataOp === 'gt')) dateField = field;
    parts.push(`${field} ${odataOp} ${literal}`);
    expectOperand = false;
    i += 2;
  }
  if (expectOperand) throw new ConfigurationError(SETTING, `where "${where}": ends where a comparison is expected`);
  if (depth !== 0) throw new ConfigurationError(SETTING, `where "${where}": unbalanced parentheses`);
  return { filter: parts.join(''), ...(dateField !== undefined ? { dateField } : {}) };
}

/** Splits `path?query`; `&` separates parameters only outside macros and outside CEQL's quoted values. */
function splitQuery(url: string): { path: string; params: Array<[string, string]> } {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const params: Array<[string, string]> = [];
  if (q >= 0) {
    const query = url.slice(q + 1);
    let start = 0;
    let i = 0;
    let quoted = false;
    while (i <= query.length) {
      if (query.startsWith('${', i)) {
        i = macroEnd(query, i, `query "${query}"`);
        continue;
      }
      if (query[i] === "'") quoted = !quoted;
      if (i === query.length || (query[i] === '&' && !quoted)) {
        const pair = query.slice(start, i);
        if (pair !== '') {
          const eq = pair.indexOf('=');
          const key = eq < 0 ? pair : pair.slice(0, eq);
          const value = eq < 0 ? '' : pair.slice(eq + 1);
          params.push([safeDecode(key), safeDecode(value)]);
        }
        start = i + 1;
      }
      i += 1;
    }
  }
  return { path, params };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function dateFieldOfGraphFilter(query: string): string | undefined {
  const m = /\$filter=([^&]*)/i.exec(query);
  if (m === null) return undefined;
  const f = safeDecode(m[1]);
  const c = /([A-Za-z][\w/]*)\s+(ge|gt)\s+(\$\{[^}]*}|\d{4}-\d{2}-\d{2}\S*)/i.exec(f);
  return c === null ? undefined : c[1];
}

/** Path, mode and date field of a Graph path given as the `url` (kept as written, with a leading `/`). */
function passThrough(url: string): TranslatedUrl {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const dateField = q < 0 ? undefined : dateFieldOfGraphFilter(url.slice(q + 1));
  return { path: url, mode: /\/delta(\(\))?$/i.test(path) ? 'delta' : 'filter', ...(dateField !== undefined ? { dateField } : {}) };
}

const DRIVE_DELTA = '/me/drive/root/delta';

/** The Graph collection for a hub resource path (`messages`, `calendars/{id}/events`, ...), or undefined. */
function hubResource(hub: string, segments: string[], elementKey: ElementKey): { path: string; mode: 'filter' | 'delta' } | undefined {
  const [resource, ...rest] = segments;
  const lower = resource.toLowerCase();
  if (hub === 'documents' || elementKey === 'onedrivev2') {
    // §3.5: onedrivev2 polls an `events` resource; §3.3: onedrivebusiness `/hubs/documents/changes` is the change feed.
    if (['changes', 'events', 'files', 'folders'].includes(lower)) {
      if ((lower === 'folders' || lower === 'files') && rest.length >= 1 && !/^(contents|metadata)$/i.test(rest[0])) {
        return { path: `/me/drive/items/${encodeURIComponent(rest[0])}/delta`, mode: 'delta' };
      }
      if (rest.length <= 1) return { path: DRIVE_DELTA, mode: 'delta' };
    }
    if (hub === 'documents') return undefined;
  }
  const tail = rest.map((s) => `/${s}`).join('');
  switch (lower) {
    case 'messages':
      return { path: `/me/messages${tail}`, mode: 'filter' };
    case 'events':
      return { path: `/me/events${tail}`, mode: 'filter' };
    case 'contacts':
      return { path: `/me/contacts${tail}`, mode: 'filter' };
    case 'calendars':
      return { path: `/me/calendars${tail}`, mode: 'filter' };
    case 'folders':
      return { path: `/me/mailFolders${tail}`, mode: 'filter' };
    default:
      return undefined;
  }
}

/** Resource names an element exposes without a hub prefix. */
const ELEMENT_RESOURCES = new Set(['messages', 'events', 'contacts', 'calendars', 'folders', 'changes', 'files']);

const HUBS = new Set(['general', 'productivity', 'documents', 'messaging', 'calendar', 'mail']);

/**
 * Translates a poller resource `url` (Open Connectors hub URL or Graph path) for `elementKey`. Throws
 * ConfigurationError (setting `url`) naming the part that could not be translated.
 */
export function translateHubUrl(url: string, elementKey: ElementKey): TranslatedUrl {
  if (typeof url !== 'string' || url.trim() === '') throw new ConfigurationError(SETTING, 'is empty');
  let text = url.trim();
  const absolute = /^https?:\/\/[^/]+\/(v1\.0|beta)(\/.*)$/i.exec(text);
  if (absolute !== null) text = absolute[2];
  if (!text.startsWith('/')) text = `/${text}`;
  const { path, params } = splitQuery(text);
  const segments = path.split('/').filter((s) => s !== '');
  if (segments.length === 0) throw new ConfigurationError(SETTING, `"${url}" has no path`);

  if (segments[0].toLowerCase() !== 'hubs') {
    if (GRAPH_ROOTS.has(segments[0].toLowerCase())) {
      listUrlMacros(text);
      return passThrough(text);
    }
    if (ELEMENT_RESOURCES.has(segments[0].toLowerCase())) {
      // An element resource path without its hub (`/messages`, onedrivev2 `/events`): the element's own hub.
      return translateHubUrl(`/hubs/${elementKey === 'onedrivev2' ? 'documents' : 'general'}${text}`, elementKey);
    }
    throw new ConfigurationError(
      SETTING,
      `"${url}": "/${segments[0]}" is neither an Open Connectors hub URL (/hubs/...) nor a Graph path (/me/..., /users/..., /drives/...)`,
    );
  }
  const hub = (segments[1] ?? '').toLowerCase();
  if (!HUBS.has(hub)) throw new ConfigurationError(SETTING, `"${url}": hub "${segments[1] ?? ''}" is not translated (known: general, productivity, documents)`);
  if (segments.length < 3) throw new ConfigurationError(SETTING, `"${url}": no resource after /hubs/${segments[1]}`);
  const target = hubResource(hub, segments.slice(2), elementKey);
  if (target === undefined) {
    throw new ConfigurationError(
      SETTING,
      `"${url}": resource "/${segments.slice(2).join('/')}" of hub ${hub} is not translated for ${elementKey} (known: messages, events, contacts, calendars, folders; documents: changes, files, folders)`,
    );
  }

  const query: string[] = [];
  let dateField: string | undefined;
  for (const [key, value] of params) {
    const lower = key.toLowerCase();
    if (lower === 'where') {
      if (target.mode === 'delta') {
        // Delta queries take no $filter (except messages); the poll window is the delta token instead.
        continue;
      }
      const translated = ceqlToODataFilter(value);
      dateField = translated.dateField;
      query.push(`$filter=${encodeOutsideMacros(translated.filter)}`);
    } else if (lower === 'pagesize') {
      if (!/^\d+$/.test(value)) throw new ConfigurationError(SETTING, `"${url}": pageSize "${value}" is not a number`);
      query.push(`$top=${value}`);
    } else if (lower === 'orderby') {
      const order = value
        .split(',')
        .map((p) => p.trim().split(/\s+/))
        .map(([f, dir]) => `${graphFieldName(f)}${dir !== undefined ? ` ${dir.toLowerCase()}` : ''}`)
        .join(',');
      query.push(`$orderby=${encodeOutsideMacros(order)}`);
    } else if (lower === 'path' && target.mode === 'delta') {
      // Documents hub `path=/`: the whole drive; `path=/A/B`: that folder, addressed by path ("Get driveItem").
      const folderPath = value.replace(/\/+$/, '');
      if (folderPath !== '') {
        if (target.path !== DRIVE_DELTA) throw new ConfigurationError(SETTING, `"${url}": give the folder either by id or by path, not both`);
        if (!folderPath.startsWith('/') || folderPath.includes(':')) {
          throw new ConfigurationError(SETTING, `"${url}": path "${value}" must start with "/" and contain no ":"`);
        }
        target.path = `/me/drive/root:${encodeURI(folderPath)}:/delta`;
      }
    } else if (lower.startsWith('$')) {
      query.push(`${key}=${encodeOutsideMacros(value)}`);
    } else {
      throw new ConfigurationError(SETTING, `"${url}": query parameter "${key}" is not translated (known: where, pageSize, orderBy)`);
    }
  }
  return {
    path: query.length > 0 ? `${target.path}?${query.join('&')}` : target.path,
    mode: target.mode,
    ...(dateField !== undefined ? { dateField } : {}),
  };
}
