/**
 * Graph's own date form, read fast: `2026-12-02T17:18:53Z` (Outlook messages, contacts, drive items: whole seconds,
 * `reference/graph.md` §11.1) or with a fraction of up to 7 digits (`…T17:18:53.5377451Z`, events). A poll round
 * reads two per object, so this is a hot path: the day is converted once (the last one is kept) and the time of day
 * added from its digits. Same result as `Date.parse` for these strings (a fraction is truncated to milliseconds, as
 * V8 does); any other string returns undefined and the caller parses it the general way.
 */
let lastDay = '';
let lastDayMs = NaN;

function digit(text: string, at: number): number {
  const d = text.charCodeAt(at) - 48;
  return d >= 0 && d <= 9 ? d : NaN;
}

/** Milliseconds of `YYYY-MM-DDTHH:MM:SS[.f{1,7}]Z`, or undefined for any other form. */
export function parseGraphUtcDate(text: string): number | undefined {
  const n = text.length;
  if (n < 20 || n > 28 || n === 21 || text.charCodeAt(n - 1) !== 90 /* Z */ || text.charCodeAt(10) !== 84 /* T */) return undefined;
  if (text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58) return undefined;
  const hours = digit(text, 11) * 10 + digit(text, 12);
  const minutes = digit(text, 14) * 10 + digit(text, 15);
  const seconds = digit(text, 17) * 10 + digit(text, 18);
  if (!(hours <= 23 && minutes <= 59 && seconds <= 59)) return undefined; // NaN fails too
  let ms = 0;
  if (n > 20) {
    if (text.charCodeAt(19) !== 46 /* . */) return undefined;
    for (let i = 20; i < n - 1; i += 1) {
      const d = digit(text, i);
      if (Number.isNaN(d)) return undefined;
      if (i < 23) ms += d * (i === 20 ? 100 : i === 21 ? 10 : 1);
    }
  }
  const day = text.slice(0, 10);
  if (day !== lastDay) {
    if (!/^\d{4}-\d\d-\d\d$/.test(day)) return undefined;
    const dayMs = Date.parse(`${day}T00:00:00Z`);
    if (!Number.isFinite(dayMs)) return undefined;
    lastDay = day;
    lastDayMs = dayMs;
  }
  return lastDayMs + ((hours * 60 + minutes) * 60 + seconds) * 1000 + ms;
}
