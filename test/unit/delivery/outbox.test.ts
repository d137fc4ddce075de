import { strict as assert } from 'node:assert';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Outbox } from '../../../src/core/delivery/outbox';
import type { Notification } from '../../../src/core/delivery/envelope';

const note = (i: number): Notification => ({ id: `n${i}`, body: JSON.stringify({ message: { eventId: `n${i}` } }), eventCount: 1, objectType: 'messages' });

describe('delivery/outbox', () => {
  let dir: string;
  let file: string;
  beforeEach(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ms365-outbox-'));
    file = path.join(dir, 'ms365-events', 'outbox-test.jsonl');
  });
  afterEach(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('add() is on disk when it resolves; reopen gives the same queue in order', async () => {
    const { outbox } = await Outbox.open(file);
    await outbox.add([note(1), note(2)]);
    await outbox.add([note(3)]);
    const text = await fsp.readFile(file, 'utf8');
    assert.equal(text.trim().split('\n').length, 3);
    await outbox.close();
    const again = await Outbox.open(file);
    assert.deepEqual(again.outbox.queued().map((e) => e.notificationId), ['n1', 'n2', 'n3']);
    assert.deepEqual(again.report, { entries: 3, skippedLines: 0 });
    await again.outbox.close();
  });

  it('group commit: 50 adds that arrive together cost one sync, all on disk when each resolves, in arrival order', async () => {
    const { outbox } = await Outbox.open(file);
    const before = outbox.syncCount;
    // As Node-RED delivers a burst of input messages: each handler calls add() without waiting for the others.
    const adds = Array.from({ length: 50 }, (_, i) => outbox.add([note(i)]));
    const lineCounts = await Promise.all(adds.map((a) => a.then(async () => (await fsp.readFile(file, 'utf8')).trim().split('\n').length)));
    assert.equal(outbox.syncCount - before, 1);
    assert.ok(lineCounts.every((n) => n === 50));
    // One after another (each awaited), every add pays its own sync.
    for (let i = 50; i < 55; i++) await outbox.add([note(i)]);
    assert.equal(outbox.syncCount - before, 6);
    await outbox.close();
    const again = await Outbox.open(file);
    assert.deepEqual(again.outbox.queued().map((e) => e.notificationId), Array.from({ length: 55 }, (_, i) => `n${i}`));
    await again.outbox.close();
  });

  it('delivered() removes and gaveUp() keeps an entry across a reopen; requeueGivenUp() puts it last', async () => {
    const { outbox } = await Outbox.open(file);
    const [a, b, c] = await outbox.add([note(1), note(2), note(3)]);
    await outbox.delivered(a!.seq);
    await outbox.gaveUp(b!.seq, 6, 'HTTP 500');
    await outbox.close();
    const r = await Outbox.open(file);
    assert.deepEqual(r.outbox.queued().map((e) => e.notificationId), ['n3']);
    assert.deepEqual(r.outbox.givenUp().map((e) => [e.notificationId, e.attempts, e.lastError]), [['n2', 6, 'HTTP 500']]);
    const moved = await r.outbox.requeueGivenUp();
    assert.equal(moved.length, 1);
    assert.deepEqual(r.outbox.queued().map((e) => e.notificationId), ['n3', 'n2']);
    assert.equal(r.outbox.head()!.seq, c!.seq);
    await r.outbox.close();
    const r2 = await Outbox.open(file);
    assert.deepEqual(r2.outbox.queued().map((e) => e.notificationId), ['n3', 'n2']);
    assert.equal(r2.outbox.givenUp().length, 0);
    await r2.outbox.close();
  });

  it('open() after a torn last line (crash mid-write) recovers every complete record and drops the torn one', async () => {
    const { outbox } = await Outbox.open(file);
    await outbox.add([note(1), note(2)]);
    await outbox.close();
    await fsp.appendFile(file, '{"op":"add","seq":3,"n":{"id":"n3","bo');
    const r = await Outbox.open(file);
    assert.deepEqual(r.report, { entries: 2, skippedLines: 1 });
    assert.deepEqual(r.outbox.queued().map((e) => e.notificationId), ['n1', 'n2']);
    await r.outbox.add([note(4)]);
    await r.outbox.close();
    const r2 = await Outbox.open(file);
    assert.deepEqual(r2.outbox.queued().map((e) => e.notificationId), ['n1', 'n2', 'n4']);
    assert.equal(r2.report.skippedLines, 0);
    await r2.outbox.close();
  });

  it('the journal is compacted once delivered records dominate: 3000 delivered leave a small file', async () => {
    const { outbox } = await Outbox.open(file);
    for (let i = 0; i < 30; i++) {
      const added = await outbox.add(Array.from({ length: 100 }, (_, j) => note(i * 100 + j)));
      for (const e of added) void outbox.delivered(e.seq);
    }
    await outbox.add([note(-1)]);
    await outbox.flush();
    const lines = (await fsp.readFile(file, 'utf8')).trim().split('\n').length;
    assert.ok(lines < 1500, `journal has ${lines} lines`);
    await outbox.close();
    const r = await Outbox.open(file);
    assert.deepEqual(r.outbox.queued().map((e) => e.notificationId), ['n-1']);
    await r.outbox.close();
  });

  it('with maxResidentBytes 150, bodies past the budget are read back from the journal, also after compaction and reopen', async () => {
    const big = (i: number): Notification => ({ id: `b${i}`, body: JSON.stringify({ message: { eventId: `b${i}`, pad: 'x'.repeat(60) } }), eventCount: 1, objectType: 'messages' });
    const { outbox } = await Outbox.open(file, { maxResidentBytes: 150 });
    const added = await outbox.add([big(1), big(2), big(3), big(4)]);
    assert.ok(outbox.resident <= 150, `resident ${outbox.resident}`);
    for (const [i, e] of added.entries()) assert.equal((await outbox.notification(e)).body, big(i + 1).body);
    await outbox.gaveUp(added[3]!.seq, 2, 'HTTP 500');
    for (let i = 0; i < 12; i++) {
      const churn = await outbox.add(Array.from({ length: 100 }, (_, j) => note(i * 100 + j)));
      for (const e of churn) void outbox.delivered(e.seq);
    }
    await outbox.flush();
    assert.ok((await fsp.readFile(file, 'utf8')).trim().split('\n').length < 1500, 'compacted (2,404 records written)');
    for (const [i, e] of added.entries()) assert.equal((await outbox.notification(e)).body, big(i + 1).body);
    await outbox.close();
    const r = await Outbox.open(file, { maxResidentBytes: 150 });
    assert.deepEqual(r.outbox.queued().map((e) => e.notificationId), ['b1', 'b2', 'b3']);
    const bodies = await Promise.all([...r.outbox.queued(), ...r.outbox.givenUp()].map(async (e) => (await r.outbox.notification(e)).body));
    assert.deepEqual(bodies, [big(1).body, big(2).body, big(3).body, big(4).body]);
    const moved = await r.outbox.requeueGivenUp();
    assert.equal((await r.outbox.notification(moved[0]!)).body, big(4).body);
    await r.outbox.close();
  });

  it('Outbox.remove() deletes the file', async () => {
    const { outbox } = await Outbox.open(file);
    await outbox.add([note(1)]);
    await outbox.close();
    await Outbox.remove(file);
    await assert.rejects(fsp.stat(file), /ENOENT/);
  });
});
