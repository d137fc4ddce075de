/**
 * Java `SimpleDateFormat` patterns, formatted and parsed through moment-timezone with our own tokenizer
 * (`reference/open-connectors.md` §7: "write our own tokenizer (quotes, `''`, letter runs)").
 *
 * Semantics follow Java (§7 table) with the two deliberate choices of §7's recommendation:
 * - `X`, `XX`, `XXX` print `Z` at offset 0 (as Java does; moment would print `+00:00`);
 * - `S…` is a millisecond COUNT when formatting (Java: `SSSSSS` of 89 ms → `000089`) but a FRACTION of a second
 *   when parsing (`.451000` → 451 ms; `.5396412` → 539 ms, where lenient Java would add 5,396,412 ms).
 * `Y`, `D`, `u` and `W` work but draw a warning from `validateJavaPattern` (§7: easy to confuse with `y`, `d`).
 * The special format `milliseconds` is epoch milliseconds (§3.1 `datesConfiguration`).
 */
import moment from 'moment-timezone';
import { Ms365Error } from '../errors';

/** The special `…DateFormat` value meaning epoch milliseconds (§3.1). */
export const MILLISECONDS_FORMAT = 'milliseconds';

export type PatternToken = { kind: 'literal'; text: string } | { kind: 'field'; letter: string; count: number };

/** Letters Java's SimpleDateFormat defines; every other ASCII letter is reserved and rejected (§7 rules). */
const JAVA_LETTERS = 'GyYMLwWDdFEuaHkKhmsSzZX';
/** Letters that work but are easily mistaken for another one (§7: "Warn on Y, D, u and W"). */
const WARN_LETTERS: Record<string, string> = {
  Y: "'Y' is the week year (differs from 'y' around New Year); use 'y' for the calendar year",
  D: "'D' is the day of the year; use 'd' for the day of the month",
  u: "'u' is the day number of the week (1 = Monday); for a year use 'y'",
  W: "'W' is the week of the month; use 'w' for the week of the year",
};

/**
 * Splits a Java pattern into literals and letter runs: `'…'` is literal text, `''` a single quote (also inside
 * quotes), runs of one ASCII letter are fields, everything else is literal. Throws for an unterminated quote or
 * a reserved letter.
 */
export function tokenizeJavaPattern(pattern: string): PatternToken[] {
  const tokens: PatternToken[] = [];
  const pushLiteral = (text: string): void => {
    const last = tokens[tokens.length - 1];
    if (last !== undefined && last.kind === 'literal') last.text += text;
    else tokens.push({ kind: 'literal', text });
  };
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i];
    if (c === "'") {
      if (pattern[i + 1] === "'") {
        pushLiteral("'");
        i += 2;
        continue;
      }
      let j = i + 1;
      let text = '';
      for (;;) {
        if (j >= pattern.length) {
          throw new Ms365Error('invalid_date_pattern', `date pattern "${pattern}": unterminated quote starting at position ${i + 1}`);
        }
        if (pattern[j] === "'") {
          if (pattern[j + 1] === "'") {
            text += "'";
            j += 2;
            continue;
          }
          break;
        }
        text += pattern[j];
        j += 1;
      }
      pushLiteral(text);
      i = j + 1;
    } else if (/[A-Za-z]/.test(c)) {
      if (!JAVA_LETTERS.includes(c)) {
        throw new Ms365Error(
          'invalid_date_pattern',
          `date pattern "${pattern}": letter '${c}' at position ${i + 1} is not a date field; quote literal text ('${c}')`,
        );
      }
      let j = i;
      while (pattern[j] === c) j += 1;
      tokens.push({ kind: 'field', letter: c, count: j - i });
      i = j;
    } else {
      pushLiteral(c);
      i += 1;
    }
  }
  return tokens;
}

/** Checks a pattern (or `milliseconds`): `ok` false with a readable `error`; warnings for Y, D, u, W (§7). */
export function validateJavaPattern(pattern: string): { ok: boolean; error?: string; warnings: string[] } {
  if (pattern === MILLISECONDS_FORMAT) return { ok: true, warnings: [] };
  if (typeof pattern !== 'string' || pattern.length === 0) return { ok: false, error: 'date pattern is empty', warnings: [] };
  let tokens: PatternToken[];
  try {
    tokens = tokenizeJavaPattern(pattern);
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err), warnings: [] };
  }
  const warnings: string[] = [];
  for (const t of tokens) {
    if (t.kind === 'field' && WARN_LETTERS[t.letter] !== undefined) {
      const w = `date pattern "${pattern}": ${WARN_LETTERS[t.letter]}`;
      if (!warnings.includes(w)) warnings.push(w);
    }
  }
  if (!tokens.some((t) => t.kind === 'field')) {
    warnings.push(`date pattern "${pattern}" has no date field: every date renders the same text`);
  }
  return { ok: true, warnings };
}

// ---------------------------------------------------------------------------------------------------------------
// Zones

/** Java's `ZoneId.SHORT_IDS` (the legacy three-letter ids `TimeZone.getTimeZone` accepts). */
const JAVA_SHORT_IDS: Record<string, string> = {
  ACT: 'Australia/Darwin', AET: 'Australia/Sydney', AGT: 'America/Argentina/Buenos_Aires', ART: 'Africa/Cairo',
  AST: 'America/Anchorage', BET: 'America/Sao_Paulo', BST: 'Asia/Dhaka', CAT: 'Africa/Harare',
  CNT: 'America/St_Johns', CST: 'America/Chicago', CTT: 'Asia/Shanghai', EAT: 'Africa/Addis_Ababa',
  ECT: 'Europe/Paris', IET: 'America/Indiana/Indianapolis', IST: 'Asia/Kolkata', JST: 'Asia/Tokyo',
  MIT: 'Pacific/Apia', NET: 'Asia/Yerevan', NST: 'Pacific/Auckland', PLT: 'Asia/Karachi', PNT: 'America/Phoenix',
  PRT: 'America/Puerto_Rico', PST: 'America/Los_Angeles', SST: 'Pacific/Guadalcanal', VST: 'Asia/Ho_Chi_Minh',
  EST: '-05:00', MST: '-07:00', HST: '-10:00',
  // Not Java ids (Java would silently fall back to GMT); mapped to the region the writer obviously meant.
  PDT: 'America/Los_Angeles', MDT: 'America/Denver', CDT: 'America/Chicago', EDT: 'America/New_York',
};

const OFFSET_RE = /^([+-])(\d{1,2})(?::?(\d{2}))?$/;

function normalizeOffset(sign: string, hours: string, minutes: string | undefined, original: string): string {
  const h = Number(hours);
  const m = minutes === undefined ? 0 : Number(minutes);
  if (h > 18 || m > 59 || h * 60 + m > 18 * 60) {
    throw new Ms365Error('invalid_timezone', `time zone "${original}": offset out of range (at most ±18:00)`);
  }
  return `${sign}${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`;
}

/**
 * A zone name as the Open Connectors settings write it (§3.1, §3.2: `GMT`, `UTC`, `PST`, `MST`, `-8:00`, `+6:00`,
 * IANA `America/Denver`) → an IANA name moment-timezone knows, or a fixed offset `±HH:MM`. Empty → `UTC`.
 * Throws Ms365Error `invalid_timezone` for anything else.
 */
export function resolveZone(name: string | undefined): string {
  const raw = (name ?? '').trim();
  if (raw === '') return 'UTC';
  const upper = raw.toUpperCase();
  if (upper === 'GMT' || upper === 'UT' || upper === 'Z') return 'Etc/GMT';
  if (upper === 'UTC') return 'UTC';
  const prefixed = /^(?:GMT|UTC|UT)([+-].*)$/i.exec(raw);
  const offsetText = prefixed !== null ? prefixed[1] : raw;
  const off = OFFSET_RE.exec(offsetText);
  if (off !== null) return normalizeOffset(off[1], off[2], off[3], raw);
  const short = JAVA_SHORT_IDS[upper];
  if (short !== undefined) return short;
  const zone = moment.tz.zone(raw);
  if (zone !== null) return zone.name;
  throw new Ms365Error(
    'invalid_timezone',
    `unknown time zone "${raw}": use an IANA name (Europe/Berlin), GMT, UTC, an offset (+06:00, -8:00) or a Java id (PST, MST)`,
  );
}

function isOffsetZone(zone: string): boolean {
  return /^[+-]\d{2}:\d{2}$/.test(zone);
}

function inZone(epochMs: number, zone: string): moment.Moment {
  // English names whatever moment's global locale is (Java's default locale for the hubs was en_US).
  return (isOffsetZone(zone) ? moment.utc(epochMs).utcOffset(zone) : moment.tz(epochMs, zone)).locale('en');
}

// ---------------------------------------------------------------------------------------------------------------
// Formatting

const pad = (n: number, width: number): string => {
  const s = String(Math.abs(n)).padStart(width, '0');
  return n < 0 ? `-${s}` : s;
};

function offsetText(minutes: number, style: 'h' | 'hm' | 'h:m'): string {
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  const hh = pad(Math.floor(abs / 60), 2);
  const mm = pad(abs % 60, 2);
  if (style === 'h') return `${sign}${hh}`;
  return style === 'hm' ? `${sign}${hh}${mm}` : `${sign}${hh}:${mm}`;
}

function zoneAbbreviation(m: moment.Moment, zone: string): string {
  if (zone === 'Etc/GMT') return 'GMT';
  if (zone === 'UTC') return 'UTC';
  if (isOffsetZone(zone)) return m.utcOffset() === 0 ? 'GMT' : `GMT${offsetText(m.utcOffset(), 'h:m')}`;
  const abbr = m.format('z');
  // moment-timezone has no letters for some zones (prints "+03"): Java prints GMT+03:00 there.
  return /^[+-]\d/.test(abbr) ? `GMT${offsetText(m.utcOffset(), 'h:m')}` : abbr;
}

function formatField(m: moment.Moment, zone: string, letter: string, count: number): string {
  switch (letter) {
    case 'G':
      return m.year() > 0 ? 'AD' : 'BC';
    case 'y':
      return count === 2 ? pad(m.year() % 100, 2) : pad(m.year(), count);
    case 'Y':
      return count === 2 ? pad(m.weekYear() % 100, 2) : pad(m.weekYear(), count);
    case 'M':
    case 'L':
      if (count >= 4) return m.format('MMMM');
      if (count === 3) return m.format('MMM');
      return pad(m.month() + 1, count);
    case 'w':
      return pad(m.week(), count);
    case 'W': {
      const firstDow = m.clone().startOf('month').day();
      return pad(Math.ceil((m.date() + firstDow) / 7), count);
    }
    case 'D':
      return pad(m.dayOfYear(), count);
    case 'd':
      return pad(m.date(), count);
    case 'F':
      return pad(Math.floor((m.date() - 1) / 7) + 1, count);
    case 'E':
      return count >= 4 ? m.format('dddd') : m.format('ddd');
    case 'u':
      return pad(m.isoWeekday(), count);
    case 'a':
      return m.hour() < 12 ? 'AM' : 'PM';
    case 'H':
      return pad(m.hour(), count);
    case 'k':
      return pad(m.hour() === 0 ? 24 : m.hour(), count);
    case 'K':
      return pad(m.hour() % 12, count);
    case 'h':
      return pad(m.hour() % 12 === 0 ? 12 : m.hour() % 12, count);
    case 'm':
      return pad(m.minute(), count);
    case 's':
      return pad(m.second(), count);
    case 'S':
      // §7: Java's S is a millisecond count, zero-padded to the run length (SSSSSS of 89 ms → 000089).
      return pad(m.millisecond(), count);
    case 'z':
      return zoneAbbreviation(m, zone);
    case 'Z':
      return offsetText(m.utcOffset(), 'hm');
    case 'X': {
      // §7: X/XX/XXX print Z at offset 0.
      if (m.utcOffset() === 0) return 'Z';
      return offsetText(m.utcOffset(), count === 1 ? 'h' : count === 2 ? 'hm' : 'h:m');
    }
    default:
      throw new Ms365Error('invalid_date_pattern', `letter '${letter}' is not a date field`);
  }
}

/**
 * Renders an instant with a Java pattern in `zone` (default UTC; any name `resolveZone` accepts).
 * `milliseconds` renders the epoch milliseconds.
 */
export function formatJavaDate(epochMs: number, pattern: string, zone?: string): string {
  if (!Number.isFinite(epochMs)) throw new Ms365Error('invalid_date', `cannot format ${String(epochMs)}: not a time`);
  if (pattern === MILLISECONDS_FORMAT) return String(Math.trunc(epochMs));
  const resolved = resolveZone(zone);
  const m = inZone(epochMs, resolved);
  return tokenizeJavaPattern(pattern)
    .map((t) => (t.kind === 'literal' ? t.text : formatField(m, resolved, t.letter, t.count)))
    .join('');
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing

const MONTHS = moment.localeData('en').months();
const MONTHS_SHORT = moment.localeData('en').monthsShort();
const DAYS = moment.localeData('en').weekdays();
const DAYS_SHORT = moment.localeData('en').weekdaysShort();
const NUMERIC = 'yYMLwWDdFuHkKhmsS';
const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const alternatives = (names: string[]): string => [...names].sort((a, b) => b.length - a.length).map(escapeRe).join('|');

function fieldRegex(token: { letter: string; count: number }, nextIsNumber: boolean): string {
  const { letter, count } = token;
  if ((letter === 'M' || letter === 'L') && count >= 3) return `(${alternatives([...MONTHS, ...MONTHS_SHORT])})`;
  if (letter === 'E') return `(${alternatives([...DAYS, ...DAYS_SHORT])})`;
  if (letter === 'G') return '(AD|BC)';
  if (letter === 'a') return '(AM|PM|am|pm)';
  if (letter === 'z') return '(GMT(?:[+-]\\d{1,2}(?::?\\d{2})?)?|UTC(?:[+-]\\d{1,2}(?::?\\d{2})?)?|[A-Z][A-Za-z]{1,5}|[A-Za-z]+/[A-Za-z_/+-]+)';
  if (letter === 'Z') return '([+-]\\d{4})';
  if (letter === 'X') return count === 1 ? '(Z|[+-]\\d{2})' : count === 2 ? '(Z|[+-]\\d{4})' : '(Z|[+-]\\d{2}:\\d{2})';
  if (letter === 'S') return nextIsNumber ? `(\\d{${count}})` : '(\\d+)';
  if (letter === 'y' && count === 2) return '(\\d{2})';
  // Java: a numeric field directly followed by another numeric field takes exactly its run length (yyyyMMdd).
  if (nextIsNumber) return `(\\d{${count}})`;
  return letter === 'y' || letter === 'Y' ? '([+-]?\\d+)' : '(\\d+)';
}

function invalid(text: string, pattern: string, why: string): Ms365Error {
  return new Ms365Error('invalid_date', `date "${text}" does not match pattern "${pattern}": ${why}`);
}

/**
 * Parses `text` written with a Java pattern to epoch ms. A zone, offset or `X`/`Z` in the text wins; otherwise
 * the text is read in `zone` (default UTC): §3.3 "`…Timezone` is used to parse response dates", so a quoted
 * `'Z'` is just a letter and `…Timezone` decides. `milliseconds` accepts epoch ms as a string or number.
 * Throws Ms365Error `invalid_date` with the text, the pattern and the reason.
 */
export function parseJavaDate(text: string | number, pattern: string, zone?: string): number {
  if (pattern === MILLISECONDS_FORMAT) {
    const s = String(text).trim();
    if (!/^-?\d+(\.\d+)?$/.test(s)) throw invalid(String(text), pattern, 'expected epoch milliseconds (digits)');
    return Math.trunc(Number(s));
  }
  if (typeof text !== 'string') throw invalid(String(text), pattern, 'expected text');
  const tokens = tokenizeJavaPattern(pattern);
  const fields: Array<{ letter: string; count: number }> = [];
  let source = '^';
  tokens.forEach((t, i) => {
    if (t.kind === 'literal') {
      source += escapeRe(t.text);
      return;
    }
    const next = tokens[i + 1];
    const nextIsNumber = next !== undefined && next.kind === 'field' && NUMERIC.includes(next.letter) &&
      !((next.letter === 'M' || next.letter === 'L') && next.count >= 3);
    source += fieldRegex(t, nextIsNumber);
    fields.push(t);
  });
  const match = new RegExp(`${source}$`).exec(text.trim());
  if (match === null) throw invalid(text, pattern, 'the text does not have the pattern\'s shape');

  let year = 1970;
  let month: number | undefined;
  let day: number | undefined;
  let dayOfYear: number | undefined;
  let hour24: number | undefined;
  let hour12: number | undefined;
  let pm: boolean | undefined;
  let minute = 0;
  let second = 0;
  let ms = 0;
  let offsetMinutes: number | undefined;
  let textZone: string | undefined;
  let bc = false;

  fields.forEach((f, i) => {
    const v = match[i + 1];
    const n = Number(v);
    switch (f.letter) {
      case 'y':
      case 'Y':
        if (f.count === 2 && v.length === 2) {
          // Java: two-digit years fall within 80 years before and 20 years after now.
          const now = new Date().getUTCFullYear();
          let y = Math.floor((now - 80) / 100) * 100 + n;
          if (y < now - 80) y += 100;
          year = y;
        } else year = n;
        break;
      case 'M':
      case 'L':
        if (f.count >= 3) {
          const lower = v.toLowerCase();
          let idx = MONTHS.findIndex((x) => x.toLowerCase() === lower);
          if (idx < 0) idx = MONTHS_SHORT.findIndex((x) => x.toLowerCase() === lower);
          month = idx + 1;
        } else month = n;
        break;
      case 'd':
        day = n;
        break;
      case 'D':
        dayOfYear = n;
        break;
      case 'H':
        hour24 = n;
        break;
      case 'k':
        hour24 = n === 24 ? 0 : n;
        break;
      case 'K':
        hour12 = n;
        break;
      case 'h':
        hour12 = n === 12 ? 0 : n;
        break;
      case 'a':
        pm = v.toUpperCase() === 'PM';
        break;
      case 'm':
        minute = n;
        break;
      case 's':
        second = n;
        break;
      case 'S':
        // §7: a fraction of a second when parsing (".451000" → 451 ms), truncated to milliseconds.
        ms = Math.floor(Number(`0.${v}`) * 1000 + 1e-9);
        break;
      case 'G':
        bc = v === 'BC';
        break;
      case 'Z':
      case 'X':
        offsetMinutes = v === 'Z' ? 0 : (v[0] === '-' ? -1 : 1) * (Number(v.slice(1, 3)) * 60 + Number(v.replace(':', '').slice(3, 5) || '0'));
        break;
      case 'z':
        try {
          textZone = resolveZone(v);
        } catch {
          throw invalid(text, pattern, `unknown time zone "${v}"`);
        }
        break;
      default:
        // w, W, F, E, u: informative only (the calendar date comes from y/M/d or D).
        break;
    }
  });

  if (bc) year = 1 - year;
  if (hour12 !== undefined) {
    if (hour12 > 11) throw invalid(text, pattern, `hour ${hour12} is out of range`);
    hour24 = hour12 + (pm === true ? 12 : 0);
  }
  const hour = hour24 ?? 0;
  if (month !== undefined && (month < 1 || month > 12)) throw invalid(text, pattern, `month ${month} is out of range`);
  if (hour > 23) throw invalid(text, pattern, `hour ${hour} is out of range`);
  if (minute > 59) throw invalid(text, pattern, `minute ${minute} is out of range`);
  if (second > 59) throw invalid(text, pattern, `second ${second} is out of range`);

  const fields2 = { year, month: (month ?? 1) - 1, date: day ?? 1, hour, minute, second, millisecond: ms };
  const local = moment.utc(fields2);
  if (!local.isValid() || local.date() !== fields2.date) {
    throw invalid(text, pattern, `day ${fields2.date} does not exist in ${year}-${pad(fields2.month + 1, 2)}`);
  }
  if (dayOfYear !== undefined && month === undefined && day === undefined) local.dayOfYear(dayOfYear);

  if (offsetMinutes !== undefined) return local.valueOf() - offsetMinutes * 60_000;
  const resolved = textZone ?? resolveZone(zone);
  if (isOffsetZone(resolved)) {
    const sign = resolved[0] === '-' ? -1 : 1;
    return local.valueOf() - sign * (Number(resolved.slice(1, 3)) * 60 + Number(resolved.slice(4, 6))) * 60_000;
  }
  return moment.tz(local.format('YYYY-MM-DDTHH:mm:ss.SSS'), 'YYYY-MM-DDTHH:mm:ss.SSS', true, resolved).valueOf();
}

const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i;
const ISO_LOCAL = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$/;

/**
 * A provider's date field (the poller's `datesConfiguration` `…Field`) → epoch ms:
 * - a number is epoch ms; a `Date` its time;
 * - no `format`: ISO-8601 (Graph's form); without an offset it is read in `zone` (§3.3 "`…Timezone` is used to
 *   parse response dates");
 * - with a `format`: `parseJavaDate`. If the text does not have the pattern's shape but is a complete ISO-8601
 *   timestamp with `Z` or an offset (Graph's `…07.1234567Z` against `…ss'Z'`), it is read as ISO: Java would fail
 *   there, but the instant is unambiguous and dropping the object would lose a change.
 * Throws Ms365Error `invalid_date` otherwise.
 */
export function parseDateValue(value: unknown, format?: string, zone?: string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Ms365Error('invalid_date', `date ${String(value)} is not a time`);
    return Math.trunc(value);
  }
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new Ms365Error('invalid_date', 'date is an invalid Date');
    return value.getTime();
  }
  if (typeof value !== 'string' || value.trim() === '') {
    throw new Ms365Error('invalid_date', `date ${JSON.stringify(value) ?? String(value)} is not a date text`);
  }
  const text = value.trim();
  if (format === undefined || format === '') {
    if (ISO_WITH_OFFSET.test(text)) return moment.utc(text, moment.ISO_8601, true).valueOf();
    if (ISO_LOCAL.test(text)) {
      const local = moment.utc(text, moment.ISO_8601, true);
      if (local.isValid()) return parseJavaDate(local.format('YYYY-MM-DDTHH:mm:ss.SSS'), "yyyy-MM-dd'T'HH:mm:ss.SSS", zone);
    }
    throw new Ms365Error('invalid_date', `date "${text}" is not ISO-8601 (set a date format for this field)`);
  }
  try {
    return parseJavaDate(text, format, zone);
  } catch (err) {
    if (format !== MILLISECONDS_FORMAT && ISO_WITH_OFFSET.test(text)) {
      const iso = moment.utc(text, moment.ISO_8601, true);
      if (iso.isValid()) return iso.valueOf();
    }
    throw err;
  }
}
