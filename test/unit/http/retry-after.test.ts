import { strict as assert } from 'node:assert';
import { parseRetryAfter } from '../../../src/core/http/retry-after';
import { parseRetryAfter as fromClient } from '../../../src/core/graph/client';
import { retryAfterMs } from '../../../src/core/delivery/backoff';

describe('http/retry-after', () => {
  const now = Date.parse('2026-11-22T10:00:00Z');

  it('parseRetryAfter("120") is 120 000 ms whatever now is; fractions round to the ms', () => {
    assert.equal(parseRetryAfter('120', now), 120_000);
    assert.equal(parseRetryAfter(' 0 ', now), 0);
    assert.equal(parseRetryAfter('1.5', now), 1500);
    assert.equal(parseRetryAfter(3, now), 3000);
  });

  it('parseRetryAfter(HTTP-date) is the distance from the given now, 0 for a date in the past', () => {
    assert.equal(parseRetryAfter('Sun, 22 Nov 2026 10:00:30 GMT', now), 30_000);
    assert.equal(parseRetryAfter('Sun, 22 Nov 2026 10:00:30 GMT', now + 10_000), 20_000);
    assert.equal(parseRetryAfter('Sun, 22 Nov 2026 09:59:00 GMT', now), 0);
  });

  it('parseRetryAfter of an array reads the first value', () => {
    assert.equal(parseRetryAfter(['7', '9'], now), 7000);
  });

  it('parseRetryAfter is undefined for absent, empty, negative and unreadable values', () => {
    for (const bad of [undefined, null, '', '  ', '-5', '1e3', 'soon', 'NaN', -1, Number.NaN, {}, []]) {
      assert.equal(parseRetryAfter(bad, now), undefined, JSON.stringify(bad));
    }
  });

  it('the Graph client and callback delivery use this same parser', () => {
    assert.equal(fromClient, parseRetryAfter);
    // Delivery scales it to its schedule unit (1 ms per "second" in tests) and caps it at one hour.
    assert.equal(retryAfterMs('Sun, 22 Nov 2026 10:00:30 GMT', now, 1), 30);
    assert.equal(retryAfterMs('-5', now), undefined);
  });
});
