/**
 * `core/persistence/group-commit`, the write discipline the outbox and the notification journal share: synced appends
 * that come together share one write and one sync; unsynced ones ride along or go out after `lazyMs`; `exclusive`
 * tasks run between writes; a failed write rejects exactly the appends it carried; `close` writes what waits.
 */
import assert from 'node:assert/strict';
import { GroupCommit } from '../../../src/core/persistence/group-commit';

interface Write {
  lines: string[];
  sync: boolean;
}

function recorder(options: { fail?: (w: Write) => boolean; delayMs?: number } = {}) {
  const writes: Write[] = [];
  const order: string[] = [];
  const write = async (lines: string[], sync: boolean) => {
    const w = { lines: [...lines], sync };
    order.push(`write ${lines.join(',')}${sync ? ' +sync' : ''}`);
    if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
    if (options.fail?.(w)) throw new Error('disk full');
    writes.push(w);
  };
  return { writes, order, write };
}

describe('core/persistence/group-commit', () => {
  it('synced appends of the same moment share one write and one sync; appends during a write share the next', async () => {
    const r = recorder({ delayMs: 20 });
    const commit = new GroupCommit<string>({ write: r.write });
    const first = [commit.append(['a'], true), commit.append(['b'], true)];
    await new Promise((resolve) => setTimeout(resolve, 5)); // the first write is under way
    const second = [commit.append(['c'], true), commit.append(['d'], true), commit.append(['e'], true)];
    await Promise.all([...first, ...second]);
    assert.deepEqual(r.writes, [
      { lines: ['a', 'b'], sync: true },
      { lines: ['c', 'd', 'e'], sync: true },
    ]);
    assert.equal(commit.syncCount, 2);
  });

  it('gatherTurn: every append of the event-loop turn joins the group', async () => {
    const r = recorder();
    const commit = new GroupCommit<string>({ write: r.write, gatherTurn: true });
    const a = commit.append(['a'], true);
    await Promise.resolve(); // a microtask later, same turn
    const b = commit.append(['b'], true);
    await Promise.all([a, b]);
    assert.deepEqual(r.writes, [{ lines: ['a', 'b'], sync: true }]);
  });

  it('an unsynced line rides along with the next synced write, or goes out alone after lazyMs, without a sync', async () => {
    const r = recorder();
    const commit = new GroupCommit<string>({ write: r.write, lazyMs: 30 });
    await commit.append(['lazy-1'], false);
    await commit.append(['synced'], true);
    assert.deepEqual(r.writes, [{ lines: ['lazy-1', 'synced'], sync: true }]);
    await commit.append(['lazy-2'], false);
    assert.equal(r.writes.length, 1, 'waits for company');
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.deepEqual(r.writes[1], { lines: ['lazy-2'], sync: false });
    assert.equal(commit.syncCount, 1);
  });

  it('due lines come first in each write; afterWrite runs before the next write', async () => {
    const r = recorder();
    let due = ['done-1'];
    const commit = new GroupCommit<string>({
      write: r.write,
      due: () => {
        const lines = due;
        due = [];
        return lines;
      },
      afterWrite: async (ok) => void r.order.push(`after ${ok}`),
    });
    await commit.append(['add-1'], true);
    await commit.append(['add-2'], true);
    assert.deepEqual(r.order, ['write done-1,add-1 +sync', 'after true', 'write add-2 +sync', 'after true']);
  });

  it('exclusive tasks run between writes, in order; a failing task does not stop the writes', async () => {
    const r = recorder({ delayMs: 10 });
    const commit = new GroupCommit<string>({ write: r.write });
    const w1 = commit.append(['a'], true);
    await new Promise((resolve) => setTimeout(resolve, 2)); // the write of a is under way
    const read = commit.exclusive(async () => {
      r.order.push('read');
      return 42;
    });
    const bad = commit.exclusive(async () => {
      throw new Error('no such line');
    });
    const w2 = commit.append(['b'], true);
    assert.equal(await read, 42);
    await assert.rejects(bad, /no such line/);
    await Promise.all([w1, w2]);
    assert.deepEqual(r.order, ['write a +sync', 'read', 'write b +sync']);
  });

  it('a failed write rejects the appends it carried (afterWrite told), and the next group is written', async () => {
    const r = recorder({ fail: (w) => w.lines.includes('x') });
    const oks: boolean[] = [];
    const commit = new GroupCommit<string>({ write: r.write, afterWrite: async (ok) => void oks.push(ok) });
    await assert.rejects(Promise.all([commit.append(['x'], true), commit.append(['y'], true)]), /disk full/);
    await commit.append(['z'], true);
    assert.deepEqual(r.writes, [{ lines: ['z'], sync: true }]);
    assert.deepEqual(oks, [false, true]);
    assert.equal(commit.syncCount, 1);
  });

  it('close writes what waits lazily, then refuses appends', async () => {
    const r = recorder();
    const commit = new GroupCommit<string>({ write: r.write, lazyMs: 10_000 });
    await commit.append(['lazy'], false);
    await commit.close();
    assert.deepEqual(r.writes, [{ lines: ['lazy'], sync: false }]);
    await assert.rejects(commit.append(['late'], true), /closed/);
  });
});
