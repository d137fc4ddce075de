/**
 * Field-by-field comparison of a simulator answer with one of Microsoft's documentation examples
 * (`test/fixtures/graph/`): same field names (both ways, unless the example is a shortened one), same JSON types, and
 * the same date form (whole seconds, fraction digits, `Z` / offset / no zone, `yyyy-mm-dd hh:mm:ssZ`). Values are not
 * compared: examples carry Microsoft's ids and times. `allow` lists the differences accepted, each with the reason a
 * reader can check (a documented optional property, a typo on the page, ...).
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

export const FIXTURE_DIR = path.join(__dirname, '..', '..', 'fixtures', 'graph');

export interface GoldenFixture {
  source: { page: string; repository: string; path: string; commit: string };
  request: string;
  status: number;
  headers?: Record<string, string>;
  note?: string;
  body: unknown;
}

export function fixture(name: string): GoldenFixture {
  return JSON.parse(readFileSync(path.join(FIXTURE_DIR, name), 'utf8')) as GoldenFixture;
}

export function fixtureNames(): string[] {
  return readdirSync(FIXTURE_DIR).filter((f) => f.endsWith('.json')).sort();
}

/** The form of a date string, or undefined when the string is not a date. */
export interface DateForm {
  /** `Z`, an offset (`+00:00`), no zone (`local`, as dateTimeTimeZone.dateTime), or `yyyy-mm-dd hh:mm:ssZ` (`space`). */
  zone: 'Z' | 'offset' | 'local' | 'space';
  /** Fraction digits (0 = whole seconds). */
  digits: number;
}

export function dateForm(value: string): DateForm | undefined {
  const m = /^\d{4}-\d{2}-\d{2}([T ])\d{2}:\d{2}:\d{2}(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?$/.exec(value);
  if (!m) return undefined;
  const digits = m[2]?.length ?? 0;
  if (m[1] === ' ') return m[3] === 'Z' ? { zone: 'space', digits } : undefined;
  if (!m[3]) return { zone: 'local', digits };
  return { zone: m[3] === 'Z' ? 'Z' : 'offset', digits };
}

function formText(form: DateForm): string {
  return `${form.zone}/${form.digits} digits`;
}

/**
 * Same form: same zone style; the same fraction digits, except that ticks (an example with 4 to 7 digits, 100-ns
 * resolution) are met by 4 to 7 digits: Graph drops trailing zeros of ticks ("Create event": `lastModifiedDateTime`
 * `2017-04-15T03:00:51.245372Z` beside `createdDateTime` `2017-04-15T03:00:50.7579581Z`), but a value with ticks never
 * comes down to milliseconds. `dateTimeTimeZone` (local) keeps all 7.
 */
export function sameDateForm(example: DateForm, actual: DateForm): boolean {
  if (example.zone !== actual.zone) return false;
  if (example.digits >= 4 && example.zone !== 'local') return actual.digits >= 4 && actual.digits <= 7;
  return example.digits === actual.digits;
}

type Json = unknown;

function jsonType(value: Json): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

export interface CompareOptions {
  /**
   * `exact`: the simulator has the example's fields and no others. `subset`: every field of the example is there
   * (the page says its example is shortened, or only a `$select`ed part); extra fields are not differences.
   */
  mode: 'exact' | 'subset';
  /** Accepted differences by path (`a.b`, `value[].c`; `*` at the end of a path covers what is under it): reason. */
  allow?: Record<string, string>;
}

/** Every difference between `example` and `actual`, as readable lines (empty when they agree). */
export function compareShape(example: Json, actual: Json, options: CompareOptions, at = ''): string[] {
  const out: string[] = [];
  const allowed = (p: string): boolean => {
    for (const key of Object.keys(options.allow ?? {})) {
      if (key === p) return true;
      if (key.endsWith('*') && p.startsWith(key.slice(0, -1))) return true;
    }
    return false;
  };
  const here = at || '(top)';
  const te = jsonType(example);
  const ta = jsonType(actual);
  // Nullable properties: Graph writes null where there is no value; the other side may carry one.
  if (te === 'null' || ta === 'null') {
    if (te !== ta && te !== 'null' && ta !== 'null') out.push(`${here}: type ${ta}, example ${te}`);
    return allowed(at) ? [] : out;
  }
  if (te !== ta) {
    return allowed(at) ? [] : [`${here}: type ${ta}, example ${te}`];
  }
  if (te === 'string') {
    const fe = dateForm(example as string);
    const fa = dateForm(actual as string);
    if (fe && !fa) out.push(`${here}: '${String(actual)}' is not a date, example '${String(example)}' (${formText(fe)})`);
    else if (!fe && fa && !allowed(at)) out.push(`${here}: '${String(actual)}' is a date (${formText(fa)}), example '${String(example)}' is not`);
    else if (fe && fa && !sameDateForm(fe, fa)) out.push(`${here}: date '${String(actual)}' (${formText(fa)}), example '${String(example)}' (${formText(fe)})`);
    return allowed(at) ? [] : out;
  }
  if (te === 'array') {
    const ex = example as Json[];
    const ac = actual as Json[];
    if (ex.length === 0 || ac.length === 0) return out;
    for (const item of ac) out.push(...compareShape(ex[0], item, options, `${at}[]`));
    return [...new Set(out)];
  }
  if (te === 'object') {
    const e = example as Record<string, Json>;
    const a = actual as Record<string, Json>;
    for (const key of Object.keys(e)) {
      const p = at ? `${at}.${key}` : key;
      if (!(key in a)) {
        if (!allowed(p)) out.push(`${p}: missing (example has ${jsonType(e[key])})`);
        continue;
      }
      out.push(...compareShape(e[key], a[key], options, p));
    }
    if (options.mode === 'exact') {
      for (const key of Object.keys(a)) {
        const p = at ? `${at}.${key}` : key;
        if (!(key in e) && !allowed(p)) out.push(`${p}: not in the example (simulator has ${jsonType(a[key])})`);
      }
    }
  }
  return out;
}
