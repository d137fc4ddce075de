/**
 * The notification journal of ms365-webhook-in (core/webhooks/notification-journal): group commit, replay order,
 * lazy removal, torn / corrupt journals, no clientState in clear, and nothing lost across random crash points.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { MemoryJournalStorage, NotificationJournal, journaledItem, type JournalStorage } from '../../../src/core/webhooks/notification-journal';
import type { NotificationItem } from '../../../src/core/webhooks/notifications';
import { prng } from '../../support/prng';

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');
const item = (id: string, clientState = 'the-secret'): NotificationItem =>
  ({ subscriptionId: 'sub-1', changeType: 'created', clientState, resource: `Users/u/Messages/${id}`, resourceData: { id, '@odata.etag': `W/"${id}"` } }) as NotificationItem;
const journaled = (id: string) => [journaledItem(item(id), true, sha256)];
const idsOf = (replay: Array<{ batch: { items: NotificationItem[] } }>) => replay.map((r) => r.batch.items.map((i) => (i.resourceData as { id: string }).id).join('+'));

function journal(storage: JournalStorage, options: { keepMs?: number; now?: () => number } = {}) {
  const warnings: string[] = [];
  const j = new NotificationJournal(storage, { keepMs: options.keepMs ?? 1000, now: options.now, warn: (m) => void warnings.push(m) });
  return { j, warnings };
}

describe('notification journal (webhook-in, core)', () => {
  it('group commit: batches that arrive together share one write and one sync; each add resolves once on disk', async () => {
    const storage = new MemoryJournalStorage();
    const { j } = journal(storage);
    await j.open();
    const seqs = await Promise.all(Array.from({ length: 20 }, (_, i) => j.add(journaled(`m${i}`), [], 1000 + i)));
    assert.deepEqual(seqs, Array.from({ length: 20 }, (_, i) => i + 1));
    assert.equal(j.syncCount, 1);
    assert.equal(storage.appends, 1);
    // Every one of them is durable: a crash now replays all twenty.
    const after = journal(storage.crashed());
    assert.equal((await after.j.open()).replay.length, 20);
    // Adds while a write is under way wait for the next one (one more sync for the lot).
    const first = j.add(journaled('a'), [], 1);
    await Promise.resolve();
    const rest = Array.from({ length: 5 }, (_, i) => j.add(journaled(`b${i}`), [], 1));
    await Promise.all([first, ...rest]);
    assert.ok(j.syncCount <= 3, `syncs ${j.syncCount}`);
  });

  it('replays unfinished batches after a crash, oldest first, with their time, tokens and clientState evidence', async () => {
    const storage = new MemoryJournalStorage();
    const { j } = journal(storage);
    await j.add(journaled('a'), [], 111);
    await j.add([journaledItem(item('b'), true, sha256), journaledItem(item('c', 'someone-else'), false, sha256)], ['token-1'], 222);
    await j.add(journaled('d'), [], 333);
    const { j: again } = journal(storage.crashed());
    const { replay, skippedLines } = await again.open();
    assert.equal(skippedLines, 0);
    assert.deepEqual(idsOf(replay), ['a', 'b+c', 'd']);
    assert.deepEqual(replay.map((r) => r.at), [111, 222, 333]);
    assert.deepEqual(replay[1].batch.validationTokens, ['token-1']);
    assert.deepEqual(replay[1].evidence, [{ ok: true }, { sha256: sha256('someone-else') }]);
    assert.ok(replay.every((r) => r.batch.items.every((i) => i.clientState === undefined)));
    // New entries continue after the replayed ones.
    assert.equal(await again.add(journaled('e'), [], 444), 4);
  });

  it('never writes a clientState in clear: the result of the check, or the hash of one that is not ours', async () => {
    const storage = new MemoryJournalStorage();
    const { j } = journal(storage);
    const forged = { ...item('f', 'forged-value'), clientStateOk: true } as NotificationItem;
    await j.add([journaledItem(item('g'), true, sha256), journaledItem(forged, false, sha256)], [], 1);
    assert.doesNotMatch(storage.text, /the-secret|forged-value/);
    const { replay } = await journal(storage.crashed()).j.open();
    // A forged `clientStateOk` in the posted body is not taken over: only the hash of what was sent is kept.
    assert.deepEqual(replay[0].evidence, [{ ok: true }, { sha256: sha256('forged-value') }]);
  });

  it('lazy removal: a handed-on entry stays until keepMs have passed, then its done record rides along with a write', async () => {
    let now = 0;
    const storage = new MemoryJournalStorage();
    const { j } = journal(storage, { keepMs: 1000, now: () => now });
    const a = await j.add(journaled('a'), [], 1);
    const b = await j.add(journaled('b'), [], 2);
    const appends = storage.appends;
    j.handedOn(a);
    now = 500;
    j.handedOn(b);
    assert.equal(storage.appends, appends, 'nothing written at hand-on');
    assert.deepEqual(idsOf((await journal(storage.crashed()).j.open()).replay), ['a', 'b'], 'a crash within keepMs replays both');
    now = 1200;
    await j.add(journaled('c'), [], 3);
    assert.deepEqual(idsOf((await journal(storage.crashed()).j.open()).replay), ['b', 'c'], 'a left with the next write, b is too young');
    assert.equal(j.size, 2);
  });

  it('lazy removal without further traffic: a timer writes the done records once keepMs have passed', async () => {
    const storage = new MemoryJournalStorage();
    const { j } = journal(storage, { keepMs: 30 });
    const a = await j.add(journaled('a'), [], 1);
    j.handedOn(a);
    await new Promise((r) => setTimeout(r, 120));
    assert.equal(j.size, 0);
    assert.match(storage.text, /"op":"done","seq":1/);
    assert.deepEqual((await journal(storage.killed()).j.open()).replay, [], 'a SIGKILL keeps the unsynced done record');
    assert.equal((await journal(storage.crashed()).j.open()).replay.length, 1, 'a power cut may lose it: replayed, never lost');
  });

  it('a torn last line is skipped with a readable warning; every complete batch is still replayed', async () => {
    const storage = new MemoryJournalStorage();
    const { j } = journal(storage);
    await j.add(journaled('a'), [], 1);
    await j.add(journaled('b'), [], 2);
    const torn = new MemoryJournalStorage(`${storage.text}{"op":"add","seq":3,"at":3,"items":[{"subscr`);
    const { j: again, warnings } = journal(torn);
    const { replay, skippedLines } = await again.open();
    assert.deepEqual(idsOf(replay), ['a', 'b']);
    assert.equal(skippedLines, 1);
    assert.match(warnings.join('\n'), /1 unreadable line\(s\), skipped \(a line cut by a crash is one\)/);
    assert.doesNotMatch(torn.text, /subscr$/, 'compacted at open: the torn line is gone');
    assert.equal(await again.add(journaled('c'), [], 4), 3);
  });

  it('a corrupt journal (garbage, wrong shapes) warns, replays what it can and keeps working', async () => {
    const good = new MemoryJournalStorage();
    await journal(good).j.add(journaled('ok'), [], 7);
    const storage = new MemoryJournalStorage(`\u0000\u0001garbage\n[1,2]\n{"op":"add","seq":"x"}\n{"op":"other","seq":9}\n${good.text}not json either\n`);
    const { j, warnings } = journal(storage);
    const { replay, skippedLines } = await j.open();
    assert.deepEqual(idsOf(replay), ['ok']);
    assert.equal(skippedLines, 5);
    assert.equal(warnings.length, 1);
    assert.equal(await j.add(journaled('next'), [], 8), 10, 'seqs continue after every readable one');
    const unreadable: JournalStorage = { ...new MemoryJournalStorage(), read: async () => Promise.reject(new Error('EACCES: permission denied')), append: async () => undefined, rewrite: async () => undefined, remove: async () => undefined, close: async () => undefined };
    const broken = journal(unreadable);
    assert.deepEqual((await broken.j.open()).replay, []);
    assert.match(broken.warnings[0], /could not be read \(EACCES: permission denied\)/);
  });

  it('a failed write rejects the add (the adapter answers 5xx) and the journal recovers when the storage does', async () => {
    const memory = new MemoryJournalStorage();
    let failing = true;
    const storage: JournalStorage = {
      read: () => memory.read(),
      append: (text, sync) => (failing ? Promise.reject(new Error('ENOSPC: no space left on device')) : memory.append(text, sync)),
      rewrite: (text) => memory.rewrite(text),
      remove: () => memory.remove(),
      close: () => memory.close(),
    };
    const { j } = journal(storage);
    await assert.rejects(j.add(journaled('a'), [], 1), /ENOSPC/);
    assert.equal(j.size, 0);
    failing = false;
    await j.add(journaled('b'), [], 2);
    assert.deepEqual(idsOf((await journal(memory.crashed()).j.open()).replay), ['b']);
  });

  it('compacts when done records outnumber live ones, and a graceful close marks what was handed on as done', async () => {
    let now = 0;
    const storage = new MemoryJournalStorage();
    const { j } = journal(storage, { keepMs: 10, now: () => now });
    const keep = await j.add(journaled('keep'), [], 0);
    for (let i = 0; i < 1100; i++) {
      const seq = await j.add(journaled(`x${i}`), [], i);
      j.handedOn(seq);
      now += 20;
    }
    await j.add(journaled('last'), [], 0);
    // 1,100 adds and 1,100 done records: without compaction 2,200 lines; rewritten with the live ones past 1,000 dead.
    assert.ok(storage.text.split('\n').length < 1100, `compacted (${storage.text.split('\n').length} lines)`);
    assert.deepEqual(idsOf((await journal(storage.crashed()).j.open()).replay).slice(0, 1), ['keep']);
    j.handedOn(keep);
    await j.close(false);
    const replay = (await journal(storage.crashed()).j.open()).replay;
    assert.deepEqual(idsOf(replay), ['last'], 'only what was never handed on is left');
    await assert.rejects(j.add(journaled('late'), [], 0), /closed/);
  });

  it('close(removed) deletes the stored journal', async () => {
    const storage = new MemoryJournalStorage();
    const { j } = journal(storage);
    await j.add(journaled('a'), [], 1);
    await j.close(true);
    assert.equal(storage.text, '');
  });

  it('nothing lost across random crash points: every batch journaled and not done comes back, in order', async () => {
    for (let seed = 1; seed <= 40; seed++) {
      const random = prng(seed);
      let now = 0;
      let storage = new MemoryJournalStorage();
      let { j } = journal(storage, { keepMs: 50, now: () => now });
      /** Batches journaled (resolved) whose done record may not be written yet: they must come back. */
      let owed = new Map<string, boolean>();
      let n = 0;
      for (let step = 0; step < 60; step++) {
        const r = random();
        if (r < 0.55) {
          const id = `s${seed}-${n++}`;
          const seq = await j.add(journaled(id), [], now);
          owed.set(id, true);
          if (random() < 0.7) {
            j.handedOn(seq);
            owed.set(id, false); // may go, may come back
          }
        } else if (r < 0.9) {
          now += Math.floor(random() * 40);
        } else {
          storage = storage.crashed(Math.floor(random() * 30));
          ({ j } = journal(storage, { keepMs: 50, now: () => now }));
          const { replay } = await j.open();
          const ids = idsOf(replay);
          for (const [id, mustCome] of owed) if (mustCome) assert.ok(ids.includes(id), `seed ${seed}: ${id} lost`);
          const order = replay.map((e) => e.seq);
          assert.deepEqual(order, [...order].sort((a, b) => a - b), `seed ${seed}: replay in order`);
          // After the restart the replayed ones are in flight again (not handed on yet).
          owed = new Map(ids.map((id) => [id, true]));
        }
      }
    }
  });
});
