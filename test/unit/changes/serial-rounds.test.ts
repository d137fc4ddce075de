/** serialRounds: one round at a time per key; requests during a round share one more round after it. */
import assert from 'node:assert/strict';
import { serialRounds } from '../../../src/core/changes/serial-rounds';

describe('serialRounds', () => {
  it('never overlaps rounds of one key; requests made meanwhile share one trailing round; keys are independent', async () => {
    const log: string[] = [];
    let active = 0;
    let maxActive = 0;
    const run = serialRounds(async (key) => {
      active += 1;
      maxActive = Math.max(maxActive, active);
      log.push(`start ${key}`);
      await new Promise((r) => setTimeout(r, 20));
      log.push(`end ${key}`);
      active -= 1;
    });
    const first = run('a');
    const second = run('a');
    const third = run('a');
    assert.equal(second, third, 'requests during a round share the trailing round');
    await Promise.all([first, second, third, run('b')]);
    assert.deepEqual(log.filter((l) => l.endsWith(' a')), ['start a', 'end a', 'start a', 'end a']);
    assert.equal(maxActive, 2, 'a and b ran side by side, never two of a');
    await run('a');
    assert.equal(log.filter((l) => l === 'start a').length, 3, 'a later request gets its own round');
  });

  it('a failed round rejects its callers and does not block the next', async () => {
    let calls = 0;
    const run = serialRounds(async () => {
      calls += 1;
      if (calls === 1) throw new Error('Graph said no');
    });
    await assert.rejects(run('a'), /Graph said no/);
    await run('a');
    assert.equal(calls, 2);
  });
});
