import assert from 'node:assert/strict';
import moment from 'moment-timezone';
import {
  formatJavaDate,
  parseDateValue,
  parseJavaDate,
  resolveZone,
  tokenizeJavaPattern,
  validateJavaPattern,
} from '../../../src/core/dates/java-pattern';
import { Ms365Error } from '../../../src/core/errors';

// reference/open-connectors.md §7: Java output for 2020-03-04T05:06:07.089Z, formatter zone GMT (and Denver).
const T = Date.parse('2020-03-04T05:06:07.089Z');
const ISO = "yyyy-MM-dd'T'HH:mm:ss";
const iso = (ms: number): string => new Date(ms).toISOString();
const invalidDate = (err: unknown): boolean => err instanceof Ms365Error && err.code === 'invalid_date';

describe('formatJavaDate (§7 table, Java output)', () => {
  const rows: Array<[pattern: string, gmt: string, denver?: string]> = [
    [`${ISO}'Z'`, '2020-03-04T05:06:07Z'],
    [`${ISO}.SSS'Z'`, '2020-03-04T05:06:07.089Z'],
    [`${ISO}XXX`, '2020-03-04T05:06:07Z', '2020-03-03T22:06:07-07:00'],
    [`${ISO}X`, '2020-03-04T05:06:07Z', '2020-03-03T22:06:07-07'],
    [`${ISO}XX`, '2020-03-04T05:06:07Z', '2020-03-03T22:06:07-0700'],
    [`${ISO}Z`, '2020-03-04T05:06:07+0000', '2020-03-03T22:06:07-0700'],
    [`${ISO}z`, '2020-03-04T05:06:07GMT', '2020-03-03T22:06:07MST'],
    [`${ISO}.SSSSSSXXX`, '2020-03-04T05:06:07.000089Z'],
  ];
  for (const [pattern, gmt, denver] of rows) {
    it(`formatJavaDate(T, "${pattern}", "GMT") → ${gmt}`, () => {
      assert.equal(formatJavaDate(T, pattern, 'GMT'), gmt);
    });
    if (denver !== undefined) {
      it(`formatJavaDate(T, "${pattern}", "America/Denver") → ${denver}`, () => {
        assert.equal(formatJavaDate(T, pattern, 'America/Denver'), denver);
      });
    }
  }

  it("formatJavaDate: '' is a quote inside and outside quotes, letters map as Java (h, a, EEEE, MMM, yy, D, u, k, K)", () => {
    assert.equal(formatJavaDate(T, "hh 'o''clock' a, EEEE MMM d yy", 'UTC'), "05 o'clock AM, Wednesday Mar 4 20");
    assert.equal(formatJavaDate(T, "'it''s' D u k K", 'UTC'), "it's 64 3 5 5");
    assert.equal(formatJavaDate(Date.parse('2020-03-04T00:00:00Z'), 'k K h a', 'UTC'), '24 0 12 AM');
  });

  it('formatJavaDate: the docs\' macro formats (MM/dd/yyyy HH:mm:ss, yyyy-MM-dd HH:mm:ss)', () => {
    assert.equal(formatJavaDate(T, 'MM/dd/yyyy HH:mm:ss'), '03/04/2020 05:06:07');
    assert.equal(formatJavaDate(T, 'yyyy-MM-dd HH:mm:ss', 'PST'), '2020-03-03 21:06:07');
  });

  it('formatJavaDate: offsets -8:00 / +06:00 as zones; z prints GMT±hh:mm for them', () => {
    assert.equal(formatJavaDate(T, `${ISO}XXX z`, '-8:00'), '2020-03-03T21:06:07-08:00 GMT-08:00');
    assert.equal(formatJavaDate(T, `${ISO}XXX`, '+06:00'), '2020-03-04T11:06:07+06:00');
    assert.equal(formatJavaDate(T, `${ISO}z`, 'UTC'), '2020-03-04T05:06:07UTC');
  });

  it('formatJavaDate: milliseconds → epoch ms', () => {
    assert.equal(formatJavaDate(T, 'milliseconds'), '1583298367089');
  });

  it('formatJavaDate: a reserved letter → Ms365Error invalid_date_pattern', () => {
    assert.throws(() => formatJavaDate(T, 'yyyy-MM-ddTHH'), (e: unknown) => e instanceof Ms365Error && e.code === 'invalid_date_pattern' && /'T'/.test(e.message));
  });
});

describe('parseJavaDate (§7 table, with the §7 "S is a fraction" rule)', () => {
  it(`parseJavaDate("…07Z", "${ISO}'Z'", "GMT") → 05:06:07Z; with America/Denver → +7 h (the quoted Z is a letter)`, () => {
    assert.equal(iso(parseJavaDate('2020-03-04T05:06:07Z', `${ISO}'Z'`, 'GMT')), '2020-03-04T05:06:07.000Z');
    assert.equal(iso(parseJavaDate('2020-03-04T05:06:07Z', `${ISO}'Z'`, 'America/Denver')), '2020-03-04T12:06:07.000Z');
  });

  it(`parseJavaDate("…07.089Z", "${ISO}.SSS'Z'") → .089; without a fraction → invalid_date`, () => {
    assert.equal(iso(parseJavaDate('2020-03-04T05:06:07.089Z', `${ISO}.SSS'Z'`, 'GMT')), '2020-03-04T05:06:07.089Z');
    assert.throws(() => parseJavaDate('2020-03-04T05:06:07Z', `${ISO}.SSS'Z'`, 'GMT'), invalidDate);
  });

  it('parseJavaDate: XXX / X / XX read Z and offsets', () => {
    assert.equal(iso(parseJavaDate('2020-03-04T05:06:07Z', `${ISO}XXX`)), '2020-03-04T05:06:07.000Z');
    assert.equal(iso(parseJavaDate('2020-03-03T22:06:07-07:00', `${ISO}XXX`)), '2020-03-04T05:06:07.000Z');
    assert.equal(iso(parseJavaDate('2020-03-03T22:06:07-07', `${ISO}X`)), '2020-03-04T05:06:07.000Z');
    assert.equal(iso(parseJavaDate('2020-03-03T22:06:07-0700', `${ISO}XX`)), '2020-03-04T05:06:07.000Z');
  });

  it('parseJavaDate with Z: +0100 works; "Z" and "+01:00" → invalid_date (as Java)', () => {
    assert.equal(iso(parseJavaDate('2020-03-04T06:06:07+0100', `${ISO}Z`)), '2020-03-04T05:06:07.000Z');
    assert.throws(() => parseJavaDate('2020-03-04T05:06:07Z', `${ISO}Z`), invalidDate);
    assert.throws(() => parseJavaDate('2020-03-04T06:06:07+01:00', `${ISO}Z`), invalidDate);
  });

  it('parseJavaDate with z: GMT and MST (Java id, fixed -07:00) decide the zone', () => {
    assert.equal(iso(parseJavaDate('2020-03-04T05:06:07GMT', `${ISO}z`, 'America/Denver')), '2020-03-04T05:06:07.000Z');
    assert.equal(iso(parseJavaDate('2020-03-03T22:06:07MST', `${ISO}z`)), '2020-03-04T05:06:07.000Z');
  });

  it('parseJavaDate …ss.SSSSSSXXX on "…07.000089Z" → 07.000 (fraction); closeio "…26.451000+00:00" → .451', () => {
    assert.equal(iso(parseJavaDate('2020-03-04T05:06:07.000089Z', `${ISO}.SSSSSSXXX`)), '2020-03-04T05:06:07.000Z');
    assert.equal(iso(parseJavaDate('2020-03-04T05:06:26.451000+00:00', `${ISO}.SSSSSSXXX`)), '2020-03-04T05:06:26.451Z');
  });

  it("parseJavaDate \"…03.5396412Z\" with …ss.SSS'Z' → 03.539 (fraction; lenient Java would add 5,396,412 ms → 06:36:03.412)", () => {
    const ms = parseJavaDate('2020-03-04T05:06:03.5396412Z', `${ISO}.SSS'Z'`, 'GMT');
    assert.equal(iso(ms), '2020-03-04T05:06:03.539Z');
    assert.notEqual(iso(ms), '2020-03-04T06:36:03.412Z');
  });

  it('parseJavaDate: month names, 12-hour clock, adjacent numeric fields (yyyyMMddHHmmss)', () => {
    assert.equal(iso(parseJavaDate('Wed, 4 Mar 2020 05:06:07 PM', 'EEE, d MMM yyyy hh:mm:ss a')), '2020-03-04T17:06:07.000Z');
    assert.equal(iso(parseJavaDate('20200304050607', 'yyyyMMddHHmmss')), '2020-03-04T05:06:07.000Z');
  });

  it('parseJavaDate: milliseconds accepts a string or number', () => {
    assert.equal(parseJavaDate('1583298367089', 'milliseconds'), T);
    assert.equal(parseJavaDate(1583298367089, 'milliseconds'), T);
    assert.throws(() => parseJavaDate('yesterday', 'milliseconds'), invalidDate);
  });

  it('parseJavaDate: an impossible date → invalid_date naming the text and pattern', () => {
    assert.throws(
      () => parseJavaDate('2020-02-30T00:00:00Z', `${ISO}'Z'`),
      (e: unknown) => invalidDate(e) && /2020-02-30T00:00:00Z/.test((e as Error).message) && /day 30/.test((e as Error).message),
    );
    assert.throws(() => parseJavaDate('2020-13-01T00:00:00Z', `${ISO}'Z'`), invalidDate);
  });

  it('format then parse returns the instant for every zone form', () => {
    for (const zone of ['GMT', 'UTC', 'PST', 'MST', '-8:00', '+06:00', 'America/Denver', 'Asia/Kolkata']) {
      const text = formatJavaDate(T, `${ISO}.SSS`, zone);
      assert.equal(parseJavaDate(text, `${ISO}.SSS`, zone), T, zone);
    }
  });
});

describe('validateJavaPattern and resolveZone', () => {
  it('validateJavaPattern warns on Y, D, u, W (§7) and accepts milliseconds', () => {
    const r = validateJavaPattern('YYYY-DD u W');
    assert.equal(r.ok, true);
    assert.equal(r.warnings.length, 4);
    assert.match(r.warnings[0], /week year/);
    assert.deepEqual(validateJavaPattern(`${ISO}'Z'`), { ok: true, warnings: [] });
    assert.deepEqual(validateJavaPattern('milliseconds'), { ok: true, warnings: [] });
  });

  it('validateJavaPattern: unterminated quote and reserved letters → ok false with the position', () => {
    const quote = validateJavaPattern("yyyy-MM-dd'T");
    assert.equal(quote.ok, false);
    assert.match(quote.error ?? '', /unterminated quote starting at position 11/);
    const letter = validateJavaPattern('yyyy-MM-ddTHH');
    assert.equal(letter.ok, false);
    assert.match(letter.error ?? '', /letter 'T' at position 11/);
  });

  it("tokenizeJavaPattern: quoted text, '' and letter runs", () => {
    assert.deepEqual(tokenizeJavaPattern("h 'o''clock'''"), [
      { kind: 'field', letter: 'h', count: 1 },
      { kind: 'literal', text: " o'clock'" },
    ]);
  });

  it('resolveZone: GMT, UTC, Java ids, offsets, IANA (any case); unknown → invalid_timezone', () => {
    assert.equal(resolveZone('GMT'), 'Etc/GMT');
    assert.equal(resolveZone('utc'), 'UTC');
    assert.equal(resolveZone(''), 'UTC');
    assert.equal(resolveZone('PST'), 'America/Los_Angeles');
    assert.equal(resolveZone('MST'), '-07:00');
    assert.equal(resolveZone('-8:00'), '-08:00');
    assert.equal(resolveZone('+6:00'), '+06:00');
    assert.equal(resolveZone('GMT+5:30'), '+05:30');
    assert.equal(resolveZone('america/denver'), 'America/Denver');
    assert.throws(() => resolveZone('Mars/Olympus'), (e: unknown) => e instanceof Ms365Error && e.code === 'invalid_timezone' && /Mars\/Olympus/.test(e.message));
    assert.throws(() => resolveZone('+25:00'), (e: unknown) => e instanceof Ms365Error && e.code === 'invalid_timezone');
  });
});

describe('parseDateValue (provider date fields for the poller)', () => {
  it('parseDateValue: numbers are epoch ms; ISO with Z/offset; zone-less ISO read in the zone', () => {
    assert.equal(parseDateValue(T), T);
    assert.equal(parseDateValue('2020-03-04T05:06:07.089Z'), T);
    assert.equal(parseDateValue('2020-03-04T06:06:07.089+01:00'), T);
    assert.equal(iso(parseDateValue('2020-03-04T05:06:07.1234567Z')), '2020-03-04T05:06:07.123Z');
    assert.equal(iso(parseDateValue('2020-03-03T22:06:07', undefined, 'MST')), '2020-03-04T05:06:07.000Z');
  });

  it("parseDateValue with a pattern: Java rules first (quoted 'Z' read in the zone); Graph's 7-digit fraction falls back to ISO", () => {
    assert.equal(iso(parseDateValue('2020-03-04T05:06:07Z', `${ISO}'Z'`, 'America/Denver')), '2020-03-04T12:06:07.000Z');
    assert.equal(iso(parseDateValue('2020-03-04T05:06:07.1234567Z', `${ISO}'Z'`, 'GMT')), '2020-03-04T05:06:07.123Z');
    assert.equal(parseDateValue('1583298367089', 'milliseconds'), T);
  });

  it('parseDateValue: garbage, empty and non-date values → invalid_date', () => {
    for (const bad of ['', 'soon', null, undefined, {}, Number.NaN]) assert.throws(() => parseDateValue(bad), invalidDate, String(bad));
    assert.throws(() => parseDateValue('03/04/2020', `${ISO}'Z'`), invalidDate);
  });
});

describe('formatJavaDate and the global moment locale', () => {
  it("formatJavaDate prints English names (Java's en_US) even when another module switched moment's locale", () => {
    const previous = moment.locale();
    moment.defineLocale('x-test', { parentLocale: 'en', monthsShort: 'a_b_c_d_e_f_g_h_i_j_k_l'.split('_'), weekdays: 'A_B_C_D_E_F_G'.split('_') });
    try {
      moment.locale('x-test');
      assert.equal(formatJavaDate(T, 'EEEE d MMM yyyy'), 'Wednesday 4 Mar 2020');
    } finally {
      moment.locale(previous);
      moment.defineLocale('x-test', null);
    }
  });
});

describe('parseJavaDate strictness', () => {
  it('parseJavaDate: a sign is accepted only on the year; single-digit fields work with separators', () => {
    assert.equal(iso(parseJavaDate('2020-3-4 5:06', 'yyyy-M-d H:mm')), '2020-03-04T05:06:00.000Z');
    assert.throws(() => parseJavaDate('2020--3-04', 'yyyy-MM-dd'), invalidDate);
    assert.throws(() => parseJavaDate('2020-03-00', 'yyyy-MM-dd'), invalidDate);
  });
});
