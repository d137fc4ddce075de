import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PollerStateFile, newerPollerState, parsePollerState, type PollerState } from '../../../src/core/changes/poller-state';

const cursor = { mode: 'delta' as const, deltaLink: 'https://graph.example/v1.0/me/messages/delta?$deltatoken=x', syncedAt: 1 };

describe('core/changes/poller-state', () => {
  let dir: string;
  beforeEach(async () => (dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ms365-state-unit-'))));
  afterEach(() => fsp.rm(dir, { recursive: true, force: true }));

  it('save then load returns the record; the file is mode 0600 and no temp file is left', async () => {
    const file = new PollerStateFile(path.join(dir, 'sub', 'poller-a.json'));
    const state: PollerState = { seq: 7, cursors: { messages: cursor }, pending: [] };
    await file.save(state);
    assert.deepEqual(await file.load(), state);
    assert.equal((await fsp.stat(file.file)).mode & 0o777, 0o600);
    assert.deepEqual(await fsp.readdir(path.join(dir, 'sub')), ['poller-a.json']);
  });

  it('concurrent saves are written in call order: the last one wins', async () => {
    const file = new PollerStateFile(path.join(dir, 'poller-b.json'));
    await Promise.all([1, 2, 3, 4, 5].map((seq) => file.save({ seq, cursors: {}, pending: [] })));
    assert.equal((await file.load())?.seq, 5);
  });

  it('load: no file → undefined; not JSON or another format → an error naming the file', async () => {
    const file = new PollerStateFile(path.join(dir, 'poller-c.json'));
    assert.equal(await file.load(), undefined);
    await fsp.writeFile(file.file, '{"seq":');
    await assert.rejects(file.load(), /poller-c\.json is not JSON/);
    await fsp.writeFile(file.file, '{"format":99,"seq":1,"cursors":{}}');
    await assert.rejects(file.load(), /unknown format/);
  });

  it('parsePollerState keeps only delta/filter/start cursors and events with an eventId; rejects non-records', () => {
    assert.equal(parsePollerState(undefined), undefined);
    assert.equal(parsePollerState({ seq: 'x', cursors: {} }), undefined);
    const parsed = parsePollerState({
      seq: 2,
      cursors: { messages: cursor, junk: { mode: 'other' }, events: { mode: 'start', startedAt: 1_700_000_000_000, extra: 1 }, bad: { mode: 'start', startedAt: 'soon' } },
      pending: [{ eventId: 'e1' }, { nope: 1 }],
    });
    assert.deepEqual(parsed, { seq: 2, cursors: { messages: cursor, events: { mode: 'start', startedAt: 1_700_000_000_000 } }, pending: [{ eventId: 'e1' }] });
  });

  it('newerPollerState: the higher seq wins; a missing side yields the other', () => {
    const a: PollerState = { seq: 3, cursors: {}, pending: [] };
    const b: PollerState = { seq: 4, cursors: {}, pending: [] };
    assert.equal(newerPollerState(a, b), b);
    assert.equal(newerPollerState(b, a), b);
    assert.equal(newerPollerState(undefined, a), a);
    assert.equal(newerPollerState(a, undefined), a);
    assert.equal(newerPollerState(undefined, undefined), undefined);
  });
});
