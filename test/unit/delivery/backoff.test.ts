import { strict as assert } from 'node:assert';
import { isRetryableStatus, retryAfterMs, retryDelayMs, RETRY_CAP_MS } from '../../../src/core/delivery/backoff';

describe('delivery/backoff', () => {
  const noJitter = () => 0.5;

  it('retryDelayMs(1..5) without jitter is 8 s, 64 s, 512 s, then the 1 h cap', () => {
    assert.deepEqual([1, 2, 3, 4, 5].map((x) => retryDelayMs(x, { random: noJitter })), [8000, 64000, 512000, RETRY_CAP_MS, RETRY_CAP_MS]);
  });

  it('retryDelayMs jitters within ±20 % and a unit of 1 ms shrinks the schedule', () => {
    assert.equal(retryDelayMs(1, { random: () => 0 }), 6400);
    assert.equal(retryDelayMs(1, { random: () => 0.999999 }), 9600);
    assert.equal(retryDelayMs(2, { unitMs: 1, random: noJitter }), 64);
  });

  it('retryAfterMs reads seconds and HTTP dates, caps them, ignores garbage', () => {
    const now = Date.parse('2026-11-22T10:00:00Z');
    assert.equal(retryAfterMs('3', now), 3000);
    assert.equal(retryAfterMs('Sun, 22 Nov 2026 10:00:30 GMT', now), 30000);
    assert.equal(retryAfterMs('999999', now), RETRY_CAP_MS);
    assert.equal(retryAfterMs('soon', now), undefined);
    assert.equal(retryAfterMs(undefined, now), undefined);
  });

  it('isRetryableStatus is true for 408, 429, 5xx and false for other 4xx and 3xx', () => {
    assert.deepEqual([408, 429, 500, 503, 400, 401, 404, 410, 301].map(isRetryableStatus), [true, true, true, true, false, false, false, false, false]);
  });
});
