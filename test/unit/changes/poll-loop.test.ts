/**
 * `core/changes/poll-loop`, the schedule of `ms365-poller`: polls never overlap; the timer is armed after a poll ends;
 * a poll asked during one runs once after it, for every asker; a failing poll is reported and the loop goes on;
 * `stop` waits for the running poll and arms nothing more.
 */
import assert from 'node:assert/strict';
import { PollLoop } from '../../../src/core/changes/poll-loop';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function counting(options: { everyMs?: number; pollMs?: number; fail?: (n: number) => boolean } = {}) {
  const calls: Array<string | undefined> = [];
  let active = 0;
  let overlapped = false;
  const errors: string[] = [];
  const loop = new PollLoop<string, number>({
    everyMs: options.everyMs ?? 10_000,
    poll: async (trigger) => {
      calls.push(trigger);
      active += 1;
      if (active > 1) overlapped = true;
      await sleep(options.pollMs ?? 20);
      active -= 1;
      if (options.fail?.(calls.length)) throw new Error(`poll ${calls.length} failed`);
      return calls.length;
    },
    onError: (err) => void errors.push(err.message),
  });
  return { loop, calls, errors, overlapped: () => overlapped };
}

describe('core/changes/poll-loop', () => {
  it('polls asked while one runs make one more poll after it, never two at once', async () => {
    const c = counting();
    const first = c.loop.run('msg-1');
    await sleep(5);
    const during = [c.loop.run('msg-2'), c.loop.run('msg-3')];
    assert.deepEqual(await Promise.all(during), [undefined, undefined], 'answered when the running poll ends');
    assert.equal(await first, 2, 'the first asker gets the poll that ran after it');
    assert.deepEqual(c.calls, ['msg-1', undefined]);
    assert.equal(c.overlapped(), false);
    await c.loop.stop();
  });

  it('the timer is armed after each poll ends (a slow poll delays the next) and polls on its own', async () => {
    const starts: number[] = [];
    const loop = new PollLoop<string, void>({
      everyMs: 30,
      poll: async () => {
        starts.push(performance.now());
        await sleep(10);
      },
      onError: (err) => assert.fail(err),
    });
    loop.arm();
    await sleep(160);
    await loop.stop();
    assert.ok(starts.length >= 2, `${starts.length} polls`);
    // Armed from the poll's end: 30 ms of waiting plus 10 ms of polling between starts (30 if armed from its start).
    for (let i = 1; i < starts.length; i += 1) assert.ok(starts[i]! - starts[i - 1]! >= 38, `gap ${starts[i]! - starts[i - 1]!} ms`);
  });

  it('a failing poll rejects its asker, a timer poll reports to onError, and the loop goes on', async () => {
    const c = counting({ everyMs: 20, pollMs: 5, fail: (n) => n <= 2 });
    await assert.rejects(c.loop.run('msg'), /poll 1 failed/);
    await sleep(120);
    await c.loop.stop();
    assert.deepEqual(c.errors.slice(0, 1), ['poll 2 failed']);
    assert.ok(c.calls.length >= 3, `polling went on (${c.calls.length} polls)`);
  });

  it('stop waits for the running poll and arms nothing more', async () => {
    const c = counting({ everyMs: 10, pollMs: 30 });
    const running = c.loop.run('msg');
    await sleep(5);
    await c.loop.stop();
    assert.equal(await running, 1);
    await sleep(40);
    assert.equal(c.calls.length, 1, 'no timer after stop');
  });
});
