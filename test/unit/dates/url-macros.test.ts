import assert from 'node:assert/strict';
import { DEFAULT_MACRO_FORMAT, expandUrlMacros, listUrlMacros, validateUrlMacros } from '../../../src/core/dates/url-macros';
import { Ms365Error } from '../../../src/core/errors';

const T = Date.parse('2020-03-04T05:06:07.089Z');
const macroError = (re: RegExp) => (e: unknown): boolean => e instanceof Ms365Error && e.code === 'invalid_url_macro' && re.test(e.message);

describe('expandUrlMacros (§3.2 forms)', () => {
  it("expands the outlookemail example: quotes inside ${gmtDate:…'T'…'Z'} do not end the macro", () => {
    const url = "/hubs/general/messages?where=LastModifiedDateTime>='${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}'";
    assert.equal(expandUrlMacros(url, T), "/hubs/general/messages?where=LastModifiedDateTime>='2020-03-04T05:06:07Z'");
  });

  it('${gmtDate:…XXX} prints Z at UTC; ${date:…XXX} in Europe/Berlin encodes + as %2B', () => {
    assert.equal(expandUrlMacros("?d=${gmtDate:yyyy-MM-dd'T'HH:mm:ssXXX}", T), '?d=2020-03-04T05:06:07Z');
    assert.equal(expandUrlMacros("?d=${date:yyyy-MM-dd'T'HH:mm:ssXXX}", T, 'Europe/Berlin'), '?d=2020-03-04T06:06:07%2B01:00');
  });

  it(`\${date} uses the default format ${DEFAULT_MACRO_FORMAT} in the default zone (UTC)`, () => {
    assert.equal(expandUrlMacros('?d=${date}', T), '?d=2020-03-04T05:06:07Z');
    assert.equal(expandUrlMacros('?d=${date}', T, '-8:00'), '?d=2020-03-03T21:06:07-08:00');
  });

  it('${dateTimeZone:ZONE:FMT} any case, zones PST, -8:00, +6:00, America/Denver; spaces → %20', () => {
    assert.equal(expandUrlMacros('?d=${DateTimeZone:PST:yyyy-MM-dd HH:mm:ss}', T), '?d=2020-03-03%2021:06:07');
    assert.equal(expandUrlMacros('?d=${dateTimeZone:-8:00:HH:mm}', T), '?d=21:06');
    assert.equal(expandUrlMacros('?d=${DATETIMEZONE:+6:00:HH:mm}', T), '?d=11:06');
    assert.equal(expandUrlMacros('?d=${dateTimeZone:America/Denver:MM/dd/yyyy HH:mm:ss}', T), '?d=03/03/2020%2022:06:07');
  });

  it('${epoch}, ${epoch:s|ms|us}, ${milliseconds}', () => {
    assert.equal(
      expandUrlMacros('?a=${epoch}&b=${epoch:s}&c=${epoch:ms}&d=${epoch:us}&e=${milliseconds}', T),
      '?a=1583298367089&b=1583298367&c=1583298367089&d=1583298367089000&e=1583298367089',
    );
  });

  it('leaves a URL without macros unchanged', () => {
    assert.equal(expandUrlMacros('/me/messages?$top=10', T), '/me/messages?$top=10');
  });

  it('an unknown macro, a missing }, a bad zone, a bad pattern, a bad epoch unit → invalid_url_macro naming it', () => {
    assert.throws(() => expandUrlMacros('/x?${foo:bar}', T), macroError(/unknown macro \$\{foo:bar\}.*position 4|position 4.*unknown macro/));
    assert.throws(() => expandUrlMacros('/x?${date:yyyy', T), macroError(/no closing "\}"/));
    assert.throws(() => expandUrlMacros('/x?${dateTimeZone:Mars:yyyy}', T), macroError(/unknown time zone "Mars"/));
    assert.throws(() => expandUrlMacros('/x?${gmtDate:yyyyTHH}', T), macroError(/letter 'T'/));
    assert.throws(() => expandUrlMacros('/x?${epoch:ns}', T), macroError(/s, ms or us/));
    assert.throws(() => expandUrlMacros('/x?${gmtDate}', T), macroError(/needs a format/));
  });
});

describe('listUrlMacros / validateUrlMacros', () => {
  it('listUrlMacros returns each macro with kind, zone, format and position', () => {
    const url = "/a?x='${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}'&y=${dateTimeZone:-8:00:HH:mm}&z=${epoch:s}";
    const macros = listUrlMacros(url);
    assert.deepEqual(
      macros.map((m) => [m.kind, m.zone, m.format, m.unit, m.index]),
      [
        ['gmtDate', 'GMT', "yyyy-MM-dd'T'HH:mm:ss'Z'", undefined, url.indexOf('${gmtDate')],
        ['dateTimeZone', '-8:00', 'HH:mm', undefined, url.indexOf('${dateTimeZone')],
        ['epoch', undefined, undefined, 's', url.indexOf('${epoch')],
      ],
    );
  });

  it('validateUrlMacros: ok with pattern warnings; ok false with the error (no throw)', () => {
    const warn = validateUrlMacros('/a?x=${date:YYYY-MM-dd}');
    assert.equal(warn.ok, true);
    assert.match(warn.warnings[0], /week year/);
    const bad = validateUrlMacros('/a?x=${nope}');
    assert.equal(bad.ok, false);
    assert.match(bad.error ?? '', /unknown macro \$\{nope\}/);
  });
});
