/** ClockOffset: Graph's clock from Date headers (second resolution), jumps, and trusting agreeing clocks. */
import assert from 'node:assert/strict';
import { ClockOffset } from '../../../src/core/graph/clock-offset';

describe('ClockOffset', () => {
  it('clocks that agree within what the headers allow: offset 0', () => {
    const clock = new ClockOffset();
    assert.equal(clock.offsetMs, undefined);
    assert.equal(clock.observe(10_000, 10_100, 10_130), 0); // Date 10 s, sent 10.1 s, received 10.13 s
    assert.equal(clock.offsetMs, 0);
  });

  it('Graph an hour ahead: the interval narrows from below; never ahead of Graph', () => {
    const clock = new ClockOffset();
    const hour = 3_600_000;
    // Graph's clock = ours + 1 h + 400 ms; answers take 20 ms.
    for (const local of [1000, 2300, 3650, 5980, 7210]) {
      const graphAtHeader = local + 10 + hour + 400;
      clock.observe(Math.floor(graphAtHeader / 1000) * 1000, local, local + 20);
    }
    const offset = clock.offsetMs!;
    assert.ok(offset <= hour + 400, `not ahead (${offset - hour})`);
    assert.ok(offset > hour + 400 - 1000, `within the second (${offset - hour})`);
  });

  it('an answer outside the interval is a jump: it starts again and says how far', () => {
    const clock = new ClockOffset();
    clock.observe(10_000, 10_100, 10_130);
    const shift = clock.observe(10_000 + 7_200_000, 11_000, 11_020);
    assert.ok(Math.abs(shift - (7_200_000 - 1020)) < 2000, String(shift));
    assert.ok(clock.offsetMs! > 7_100_000);
  });
});
