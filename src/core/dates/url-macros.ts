/**
 * Open Connectors poller URL macros (`reference/open-connectors.md` §3.2, CONTRACT "ms365-poller"):
 *
 * | macro | value |
 * |---|---|
 * | `${gmtDate:FMT}` | the instant in GMT, Java pattern FMT |
 * | `${date:FMT}` | the instant in the default zone (the poller's `timezone`, default UTC) |
 * | `${date}` | the same with the default format `yyyy-MM-dd'T'HH:mm:ssXXX` (ISO-8601, `Z` at UTC: an OData DateTimeOffset literal; Open Connectors never documented its default) |
 * | `${dateTimeZone:ZONE:FMT}` | the instant in ZONE (`PST`, `-8:00`, `+06:00`, `America/Denver`, ...) |
 * | `${epoch}`, `${epoch:ms}` / `${epoch:s}` / `${epoch:us}` | epoch milliseconds / seconds / microseconds |
 * | `${milliseconds}` | epoch milliseconds |
 *
 * Descriptors match case-insensitively (Revel writes `${DateTimeZone:…}`). Parsing rule (§3.2): `${`, the
 * descriptor up to the first `:`, then the pattern up to the closing `}`: the pattern's single quotes never end
 * a macro. Values are percent-encoded for a query string (`+` → `%2B`, space → `%20`; §7 trap: "Any `+` in a
 * query must be percent-encoded"); `:` stays readable.
 */
import { Ms365Error } from '../errors';
import { MILLISECONDS_FORMAT, formatJavaDate, resolveZone, validateJavaPattern } from './java-pattern';

/** The format of a bare `${date}`. */
export const DEFAULT_MACRO_FORMAT = "yyyy-MM-dd'T'HH:mm:ssXXX";

export type MacroKind = 'gmtDate' | 'date' | 'dateTimeZone' | 'epoch' | 'milliseconds';

export interface UrlMacro {
  /** The macro as written, `${…}`. */
  text: string;
  /** Offset of `${` in the URL. */
  index: number;
  kind: MacroKind;
  /** Java pattern (date kinds). */
  format?: string;
  /** Zone as written (`dateTimeZone`), or `GMT` for `gmtDate`. */
  zone?: string;
  /** Epoch unit (`epoch`, `milliseconds`). */
  unit?: 's' | 'ms' | 'us';
}

function macroError(url: string, index: number, message: string): Ms365Error {
  return new Ms365Error('invalid_url_macro', `URL macro at position ${index + 1} of "${url}": ${message}`);
}

/** Splits `ZONE:FMT`; a zone may itself hold one colon (`-8:00`, `+06:00`, `GMT+05:30`). */
function splitZone(rest: string): { zone: string; format: string } | undefined {
  const first = rest.indexOf(':');
  if (first < 0) return undefined;
  const head = rest.slice(0, first);
  const tail = rest.slice(first + 1);
  if (/^(?:GMT|UTC)?[+-]\d{1,2}$/i.test(head)) {
    const m = /^(\d{2}):([\s\S]*)$/.exec(tail);
    if (m !== null) return { zone: `${head}:${m[1]}`, format: m[2] };
  }
  return { zone: head, format: tail };
}

/**
 * Every macro in `url`, in order; throws Ms365Error `invalid_url_macro` naming the macro and position for an
 * unknown descriptor, a missing `}`, an unknown zone or a bad pattern.
 */
export function listUrlMacros(url: string): UrlMacro[] {
  const macros: UrlMacro[] = [];
  let from = 0;
  for (;;) {
    const index = url.indexOf('${', from);
    if (index < 0) break;
    const close = url.indexOf('}', index + 2);
    if (close < 0) throw macroError(url, index, 'no closing "}"');
    const text = url.slice(index, close + 1);
    const body = url.slice(index + 2, close);
    const colon = body.indexOf(':');
    const descriptor = (colon < 0 ? body : body.slice(0, colon)).trim().toLowerCase();
    const rest = colon < 0 ? undefined : body.slice(colon + 1);
    let macro: UrlMacro;
    switch (descriptor) {
      case 'gmtdate':
        if (rest === undefined || rest === '') throw macroError(url, index, `${text} needs a format, e.g. \${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}`);
        macro = { text, index, kind: 'gmtDate', format: rest, zone: 'GMT' };
        break;
      case 'date':
        macro = { text, index, kind: 'date', format: rest === undefined || rest === '' ? DEFAULT_MACRO_FORMAT : rest };
        break;
      case 'datetimezone': {
        const split = rest === undefined ? undefined : splitZone(rest);
        if (split === undefined || split.zone === '' || split.format === '') {
          throw macroError(url, index, `${text} needs a zone and a format, e.g. \${dateTimeZone:PST:yyyy-MM-dd HH:mm:ss}`);
        }
        macro = { text, index, kind: 'dateTimeZone', zone: split.zone, format: split.format };
        break;
      }
      case 'epoch': {
        const unit = rest === undefined ? 'ms' : rest.trim().toLowerCase();
        if (unit !== 's' && unit !== 'ms' && unit !== 'us') throw macroError(url, index, `${text}: the epoch unit must be s, ms or us`);
        macro = { text, index, kind: 'epoch', unit };
        break;
      }
      case 'milliseconds':
        if (rest !== undefined) throw macroError(url, index, `${text}: \${milliseconds} takes no format`);
        macro = { text, index, kind: 'milliseconds', unit: 'ms' };
        break;
      default:
        throw macroError(
          url,
          index,
          `unknown macro ${text}; known: \${gmtDate:FMT}, \${date:FMT}, \${date}, \${dateTimeZone:ZONE:FMT}, \${epoch[:s|ms|us]}, \${milliseconds}`,
        );
    }
    if (macro.format !== undefined) {
      const check = validateJavaPattern(macro.format);
      if (!check.ok) throw macroError(url, index, `${text}: ${check.error ?? 'bad date pattern'}`);
    }
    if (macro.kind === 'dateTimeZone' && macro.zone !== undefined) {
      try {
        resolveZone(macro.zone);
      } catch (err) {
        throw macroError(url, index, `${text}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    macros.push(macro);
    from = close + 1;
  }
  return macros;
}

/** For the editor's preview: `{ok:false, error}` instead of a throw, and the pattern warnings (§7: Y, D, u, W). */
export function validateUrlMacros(url: string): { ok: boolean; error?: string; warnings: string[]; macros: UrlMacro[] } {
  try {
    const macros = listUrlMacros(url);
    const warnings: string[] = [];
    for (const m of macros) {
      if (m.format !== undefined) for (const w of validateJavaPattern(m.format).warnings) if (!warnings.includes(w)) warnings.push(w);
    }
    return { ok: true, warnings, macros };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err), warnings: [], macros: [] };
  }
}

/** Percent-encodes a rendered value for a query string; `:` and `/` stay as they are (both legal there). */
export function encodeMacroValue(value: string): string {
  return encodeURIComponent(value).replace(/%3A/gi, ':').replace(/%2F/gi, '/');
}

/** The raw (not encoded) value of one macro for an instant. */
export function renderMacro(macro: UrlMacro, instantMs: number, defaultZone?: string): string {
  switch (macro.kind) {
    case 'gmtDate':
      return formatJavaDate(instantMs, macro.format ?? DEFAULT_MACRO_FORMAT, 'GMT');
    case 'date':
      return formatJavaDate(instantMs, macro.format ?? DEFAULT_MACRO_FORMAT, defaultZone);
    case 'dateTimeZone':
      return formatJavaDate(instantMs, macro.format ?? DEFAULT_MACRO_FORMAT, macro.zone);
    case 'milliseconds':
      return formatJavaDate(instantMs, MILLISECONDS_FORMAT);
    case 'epoch': {
      const ms = Math.trunc(instantMs);
      if (macro.unit === 's') return String(Math.floor(ms / 1000));
      if (macro.unit === 'us') return `${ms}000`;
      return String(ms);
    }
  }
}

/**
 * Replaces every macro of `url` by `pollStartMs` rendered as the macro says (`defaultZone` for `${date…}`,
 * default UTC), percent-encoded. Text outside macros is left as it is. Throws like `listUrlMacros`.
 */
export function expandUrlMacros(url: string, pollStartMs: number, defaultZone?: string): string {
  const macros = listUrlMacros(url);
  let out = '';
  let from = 0;
  for (const m of macros) {
    out += url.slice(from, m.index) + encodeMacroValue(renderMacro(m, pollStartMs, defaultZone));
    from = m.index + m.text.length;
  }
  return out + url.slice(from);
}
