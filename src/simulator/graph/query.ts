/**
 * OData query options of the simulated Graph (`reference/graph.md` §6): `$filter` (eq/ne/ge/gt/le/lt, `and`,
 * `or`, parentheses; date literals UNQUOTED DateTimeOffset, a quoted date or a `+` decoded to a space is a 400
 * as on Graph), `$orderby` (with the Outlook `InefficientFilter` rule), `$top` 1–1000, `$skip`, `$select`, and
 * `@odata.nextLink` pages (absolute URLs on the simulator's own host).
 */
import { badRequest, SimGraphError } from './errors';

type Literal = { type: 'date'; ms: number } | { type: 'string'; value: string } | { type: 'boolean'; value: boolean } | { type: 'number'; value: number } | { type: 'null' };
type Op = 'eq' | 'ne' | 'ge' | 'gt' | 'le' | 'lt';

export type FilterNode =
  | { kind: 'cmp'; field: string[]; op: Op; value: Literal }
  | { kind: 'and' | 'or'; left: FilterNode; right: FilterNode };

export interface ParsedFilter {
  root: FilterNode;
  /** Properties in order of first appearance (for the InefficientFilter rule). */
  properties: string[];
}

const OPS: ReadonlySet<string> = new Set(['eq', 'ne', 'ge', 'gt', 'le', 'lt']);
const OP_NAMES: Record<Op, string> = { eq: 'Equal', ne: 'NotEqual', ge: 'GreaterThanOrEqual', gt: 'GreaterThan', le: 'LessThanOrEqual', lt: 'LessThan' };
/** DateTimeOffset literal: date, optional time, offset `Z` or `±hh:mm` (date-only and zone-less mean UTC). */
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?(Z|[+-]\d{2}:\d{2})?)?$/i;

/** Nesting limit of parentheses (OData's node count limit; also keeps the parser's recursion bounded). */
const MAX_DEPTH = 100;

interface Token {
  text: string;
  pos: number;
}

function tokenize(filter: string): Token[] {
  const tokens: Token[] = [];
  const re = /\s*('(?:[^']|'')*'?|\(|\)|[^\s()]+)/y;
  let match: RegExpExecArray | null;
  while (re.lastIndex < filter.length && (match = re.exec(filter))) {
    if (match[1] === undefined) break;
    tokens.push({ text: match[1], pos: match.index + match[0].length - match[1].length });
  }
  return tokens;
}

function isDateField(field: string[]): boolean {
  return /DateTime$/.test(field[field.length - 1]);
}

function parseLiteral(token: Token, filter: string): Literal {
  const text = token.text;
  if (text.startsWith("'")) {
    if (text.length < 2 || !text.endsWith("'")) throw syntaxError(filter, token.pos);
    return { type: 'string', value: text.slice(1, -1).replace(/''/g, "'") };
  }
  const lower = text.toLowerCase();
  if (lower === 'true' || lower === 'false') return { type: 'boolean', value: lower === 'true' };
  if (lower === 'null') return { type: 'null' };
  if (/^-?\d+(\.\d+)?$/.test(text)) return { type: 'number', value: Number(text) };
  if (/^\d{4}-/.test(text)) {
    const m = DATE_RE.exec(text);
    const ms = m ? Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4] ?? '00'}:${m[5] ?? '00'}:${m[6] ?? '00'}.${(m[7] ?? '0').padEnd(3, '0').slice(0, 3)}${(m[8] ?? 'Z').toUpperCase()}`) : NaN;
    if (!m || Number.isNaN(ms) || Number(m[2]) > 12 || Number(m[3]) > 31 || Number(m[4] ?? 0) > 23 || Number(m[5] ?? 0) > 59) {
      throw badRequest(`The DateTimeOffset text '${text}' should be in format 'yyyy-mm-ddThh:mm:ss('.'s+)?(zzzzzz)?' and each field value is within valid range.`);
    }
    return { type: 'date', ms };
  }
  throw syntaxError(filter, token.pos);
}

function syntaxError(filter: string, pos: number): SimGraphError {
  return badRequest(`Syntax error at position ${pos} in '${filter}'.`);
}

/** Parses `$filter`; throws a 400 `SimGraphError` with Graph's wording on bad input. */
export function parseFilter(filter: string): ParsedFilter {
  const tokens = tokenize(filter);
  const properties: string[] = [];
  let i = 0;
  let depth = 0;
  const peek = (): Token | undefined => tokens[i];
  const end = (): number => filter.length;

  const parseOr = (): FilterNode => {
    let left = parseAnd();
    while (peek()?.text.toLowerCase() === 'or') {
      i++;
      left = { kind: 'or', left, right: parseAnd() };
    }
    return left;
  };
  const parseAnd = (): FilterNode => {
    let left = parseTerm();
    while (peek()?.text.toLowerCase() === 'and') {
      i++;
      left = { kind: 'and', left, right: parseTerm() };
    }
    return left;
  };
  const parseTerm = (): FilterNode => {
    const first = tokens[i++];
    if (!first) throw syntaxError(filter, end());
    if (first.text === '(') {
      depth += 1;
      if (depth > MAX_DEPTH) throw badRequest(`The query specified in the URI is not valid. The node count limit of '${MAX_DEPTH}' has been exceeded.`);
      const inner = parseOr();
      depth -= 1;
      const close = tokens[i++];
      if (close?.text !== ')') throw syntaxError(filter, close?.pos ?? end());
      return inner;
    }
    if (!/^[A-Za-z][\w]*(\/[A-Za-z][\w]*)*$/.test(first.text)) throw syntaxError(filter, first.pos);
    const opToken = tokens[i++];
    if (!opToken || !OPS.has(opToken.text.toLowerCase())) throw syntaxError(filter, opToken?.pos ?? end());
    const valueToken = tokens[i++];
    if (!valueToken) throw syntaxError(filter, end());
    const field = first.text.split('/');
    const op = opToken.text.toLowerCase() as Op;
    const value = parseLiteral(valueToken, filter);
    if (isDateField(field) && value.type !== 'date' && value.type !== 'null') {
      const found = value.type === 'string' ? 'Edm.String' : value.type === 'boolean' ? 'Edm.Boolean' : 'Edm.Int32';
      throw badRequest(`A binary operator with incompatible types was detected. Found operand types 'Edm.DateTimeOffset' and '${found}' for operator kind '${OP_NAMES[op]}'.`);
    }
    const name = field.join('/');
    if (!properties.includes(name)) properties.push(name);
    return { kind: 'cmp', field, op, value };
  };

  if (tokens.length === 0) throw syntaxError(filter, 0);
  const root = parseOr();
  if (i < tokens.length) throw syntaxError(filter, tokens[i].pos);
  return { root, properties };
}

function valueAt(obj: unknown, path: string[]): unknown {
  let current: unknown = obj;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function compare(actual: unknown, literal: Literal): number | undefined {
  switch (literal.type) {
    case 'date': {
      const ms = typeof actual === 'string' ? Date.parse(actual) : NaN;
      return Number.isNaN(ms) ? undefined : Math.sign(ms - literal.ms);
    }
    case 'string':
      return typeof actual === 'string' ? actual.toLowerCase().localeCompare(literal.value.toLowerCase()) : undefined;
    case 'boolean':
      return typeof actual === 'boolean' ? Number(actual) - Number(literal.value) : undefined;
    case 'number':
      return typeof actual === 'number' ? Math.sign(actual - literal.value) : undefined;
    case 'null':
      return actual === null || actual === undefined ? 0 : 1;
  }
  return undefined;
}

export function matches(node: FilterNode, obj: unknown): boolean {
  if (node.kind !== 'cmp') return node.kind === 'and' ? matches(node.left, obj) && matches(node.right, obj) : matches(node.left, obj) || matches(node.right, obj);
  const c = compare(valueAt(obj, node.field), node.value);
  if (c === undefined) return node.op === 'ne';
  switch (node.op) {
    case 'eq':
      return c === 0;
    case 'ne':
      return c !== 0;
    case 'ge':
      return c >= 0;
    case 'gt':
      return c > 0;
    case 'le':
      return c <= 0;
    case 'lt':
      return c < 0;
  }
}

export interface OrderBy {
  field: string[];
  desc: boolean;
}

export function parseOrderBy(text: string): OrderBy[] {
  return text.split(',').map((part) => {
    const m = /^\s*([A-Za-z]\w*(?:\/[A-Za-z]\w*)*)(?:\s+(asc|desc))?\s*$/i.exec(part);
    if (!m) throw badRequest(`Syntax error at position 0 in '${text}'.`);
    return { field: m[1].split('/'), desc: (m[2] ?? 'asc').toLowerCase() === 'desc' };
  });
}

/**
 * Outlook's rule (§6): with `$filter` and `$orderby`, the ordered properties must appear first in `$filter`, in
 * the same order; otherwise 400 `InefficientFilter`.
 */
export function checkInefficientFilter(filter: ParsedFilter | undefined, orderBy: OrderBy[] | undefined): void {
  if (!filter || !orderBy) return;
  const ordered = orderBy.map((o) => o.field.join('/').toLowerCase());
  const filtered = filter.properties.map((p) => p.toLowerCase());
  if (ordered.some((name, index) => filtered[index] !== name)) {
    throw new SimGraphError(400, 'InefficientFilter', 'The restriction or sort order is too complex for this operation.');
  }
}

export function sortBy<T>(items: T[], orderBy: OrderBy[]): T[] {
  return items.sort((a, b) => {
    for (const { field, desc } of orderBy) {
      const x = valueAt(a, field);
      const y = valueAt(b, field);
      if (x === y) continue;
      if (x === undefined || x === null) return desc ? 1 : -1;
      if (y === undefined || y === null) return desc ? -1 : 1;
      const c = typeof x === 'string' && typeof y === 'string' ? (x < y ? -1 : 1) : Number(x) < Number(y) ? -1 : 1;
      return desc ? -c : c;
    }
    return 0;
  });
}

/** Keeps `$select`ed properties; `id` and `@odata.etag` always stay (as Graph does). */
export function project(obj: Record<string, unknown>, select: string[] | undefined): Record<string, unknown> {
  if (!select) return obj;
  const out: Record<string, unknown> = {};
  for (const key of ['@odata.etag', '@odata.type', 'id']) if (key in obj) out[key] = obj[key];
  for (const key of select) if (key in obj) out[key] = obj[key];
  return out;
}

export function parseSelect(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  const fields = text.split(',').map((s) => s.trim()).filter(Boolean);
  for (const field of fields) if (!/^[A-Za-z@][\w.@]*$/.test(field)) throw badRequest(`Syntax error at position 0 in '${text}'.`);
  return fields.length ? fields : undefined;
}

/** An integer query option within bounds, else 400 as Graph words it. */
export function intOption(name: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text.trim())) throw badRequest(`Invalid value '${text}' for ${name} query parameter.`);
  const value = Number(text.trim());
  if (value < min || value > max) throw badRequest(`Invalid value '${text}' for ${name} query parameter. The value must be between ${min} and ${max}.`);
  return value;
}

/** `Prefer: odata.maxpagesize=N` (N ≥ 1), or undefined. */
export function preferredPageSize(prefer: string | undefined): number | undefined {
  const m = /odata\.maxpagesize\s*=\s*(\d+)/i.exec(prefer ?? '');
  if (!m) return undefined;
  const n = Number(m[1]);
  return n >= 1 ? Math.min(n, 1000) : undefined;
}
