/** The comparison the golden tests rely on: date forms and field differences, on small known cases. */
import assert from 'node:assert/strict';
import { compareShape, dateForm, sameDateForm } from './shape';

describe('golden shape comparison', () => {
  it('dateForm tells whole seconds, fractions, offsets, dateTimeTimeZone and the AADSTS form apart', () => {
    assert.deepEqual(dateForm('2018-09-09T03:15:05Z'), { zone: 'Z', digits: 0 });
    assert.deepEqual(dateForm('2017-04-15T03:00:50.7579581Z'), { zone: 'Z', digits: 7 });
    assert.deepEqual(dateForm('2019-09-18T00:52:45.9696658+00:00'), { zone: 'offset', digits: 7 });
    assert.deepEqual(dateForm('2016-12-09T20:30:00.0000000'), { zone: 'local', digits: 7 });
    assert.deepEqual(dateForm('2016-01-09 02:02:12Z'), { zone: 'space', digits: 0 });
    assert.equal(dateForm('Holiday hours update'), undefined);
    assert.equal(dateForm('0001-01-01'), undefined);
  });

  it('ticks match 4 to 7 digits, never milliseconds; whole seconds match only whole seconds', () => {
    const ticks = dateForm('2017-04-15T03:00:50.7579581Z')!;
    assert.ok(sameDateForm(ticks, dateForm('2026-12-03T07:43:23.12098Z')!));
    assert.ok(!sameDateForm(ticks, dateForm('2026-12-03T07:43:23.120Z')!));
    assert.ok(!sameDateForm(dateForm('2018-09-09T03:15:05Z')!, dateForm('2026-12-03T07:43:23.120Z')!));
    assert.ok(!sameDateForm(dateForm('2016-12-09T20:30:00.0000000')!, dateForm('2016-12-09T20:30:00.000')!));
  });

  it('reports missing and extra fields, type changes and date forms, and honours allow and subset', () => {
    const example = { id: 'a', n: 1, when: '2018-09-09T03:15:05Z', to: [{ name: 'x' }], opt: null };
    assert.deepEqual(compareShape(example, { id: 'b', n: 2, when: '2026-01-01T00:00:00Z', to: [{ name: 'y' }], opt: 'set' }, { mode: 'exact' }), []);
    assert.deepEqual(compareShape(example, { id: 'b', n: '2', when: '2026-01-01T00:00:00.123Z', to: [{ name: 'y', extra: true }], more: 1 }, { mode: 'exact' }), [
      'n: type string, example number',
      "when: date '2026-01-01T00:00:00.123Z' (Z/3 digits), example '2018-09-09T03:15:05Z' (Z/0 digits)",
      'to[].extra: not in the example (simulator has boolean)',
      'opt: missing (example has null)',
      'more: not in the example (simulator has number)',
    ]);
    assert.deepEqual(compareShape(example, { ...example, more: 1 }, { mode: 'subset' }), []);
    assert.deepEqual(compareShape(example, { ...example, more: 1 }, { mode: 'exact', allow: { more: 'documented' } }), []);
  });
});
