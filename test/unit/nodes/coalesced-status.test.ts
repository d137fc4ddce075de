/** `coalescedStatus`: a count that changes with every batch is shown at most every interval; state changes at once. */
import assert from 'node:assert/strict';
import type { NodeStatus } from 'node-red';
import { coalescedStatus } from '../../../src/nodes/shared/coalesced-status';

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('nodes: coalescedStatus', () => {
  it('shows the first count at once, then the newest of a burst once per interval, computing only what it shows', async () => {
    const shown: NodeStatus[] = [];
    let computed = 0;
    const statuses = coalescedStatus((s) => shown.push(s), 50);
    const count = (n: number) => () => {
      computed += 1;
      return { fill: 'green', shape: 'dot', text: `received ${n}` } as NodeStatus;
    };
    for (let n = 1; n <= 1000; n += 1) statuses.frequent(count(n));
    assert.deepEqual(shown.map((s) => s.text), ['received 1']);
    await wait(80);
    assert.deepEqual(shown.map((s) => s.text), ['received 1', 'received 1000']);
    assert.equal(computed, 2);
    await wait(80);
    assert.equal(shown.length, 2, 'nothing new, nothing shown');
    statuses.close();
  });

  it('a state change shows at once and a pending count never overwrites it', async () => {
    const shown: string[] = [];
    const statuses = coalescedStatus((s) => shown.push(String(s.text)), 50);
    statuses.frequent(() => ({ text: 'received 1' }));
    statuses.frequent(() => ({ text: 'received 2' }));
    statuses.now({ fill: 'red', shape: 'ring', text: 'subscription failed' });
    await wait(80);
    assert.deepEqual(shown, ['received 1', 'subscription failed']);
    statuses.close();
  });

  it('close drops the pending count and stops its timer', async () => {
    const shown: string[] = [];
    const statuses = coalescedStatus((s) => shown.push(String(s.text)), 30);
    statuses.frequent(() => ({ text: 'received 1' }));
    statuses.frequent(() => ({ text: 'received 2' }));
    statuses.close();
    await wait(60);
    assert.deepEqual(shown, ['received 1']);
  });
});
