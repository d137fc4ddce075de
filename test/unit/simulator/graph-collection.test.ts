import assert from 'node:assert/strict';
import { Collection } from '../../../src/simulator/graph/collection';

describe('simulated Graph: change-ordered collection', () => {
  it('since(seq) returns each entry changed after seq once, in change order, across updates, deletes and compaction', () => {
    const c = new Collection<{ v: number }>();
    let seq = 0;
    for (let i = 0; i < 3000; i++) c.put(`id${i}`, { v: 0 }, { seq: ++seq, at: 0, scope: 's' });
    const mark = seq;
    for (let i = 0; i < 2500; i++) c.put(`id${i % 1000}`, { v: i }, { seq: ++seq, at: 0, scope: 's' });
    c.remove('id5', { seq: ++seq, at: 0 });
    c.put('new', { v: 1 }, { seq: ++seq, at: 0, scope: 's' });
    const changed = [...c.since(mark)];
    assert.equal(changed.length, 1001);
    assert.equal(new Set(changed.map((e) => e.id)).size, 1001);
    assert.deepEqual(changed.slice(-2).map((e) => [e.id, e.deleted]), [['id5', true], ['new', false]]);
    assert.ok(changed.every((e, i) => i === 0 || e.seq > changed[i - 1].seq));
    assert.equal(changed.find((e) => e.id === 'id999')?.obj.v, 1999);
    assert.equal([...c.since(seq)].length, 0);
    assert.equal([...c.since(0)].length, 3001);
    assert.equal(c.size, 3000);
    assert.equal([...c.live()].length, 3000);
  });
});
