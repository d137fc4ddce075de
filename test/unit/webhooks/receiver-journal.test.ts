/**
 * `core/webhooks/receiver` with its notification journal (against the simulated Graph): `receive` journals a batch
 * before the adapter's 202; after a crash a new receiver on what the journal left replays it through the normal path,
 * with the same eventIds, the clientState check applied to what the journal kept instead of the secret.
 */
import assert from 'node:assert/strict';
import { simGraphClient, useSimulator } from '../../support/simulator';
import { waitFor } from '../../support/connector';
import { collectingReceiver } from '../../support/webhook-receiver';
import { MemoryJournalStorage, NotificationJournal } from '../../../src/core/webhooks/notification-journal';
import type { NotificationBatch, NotificationItem } from '../../../src/core/webhooks/notifications';
import { GRAPH_NOTIFICATION_PUBLISHER_APP_ID } from '../../../src/core/webhooks/validation-tokens';
import { signJwt } from '../../../src/simulator/jwt';
import { SIM_CLIENT_ID } from '../../../src/simulator/identity';

describe('core/webhooks/receiver with the notification journal', function () {
  this.timeout(20_000);
  const sim = useSimulator();
  const item = (id: string, clientState = 'unit-state'): NotificationItem =>
    ({ subscriptionId: 'sub-1', clientState, tenantId: sim().state.tenantId, changeType: 'created', resource: `Users/u/Messages/${id}`, resourceData: { '@odata.type': '#Microsoft.Graph.Message', id, '@odata.etag': `W/"${id}"` } }) as NotificationItem;
  const batch = (...items: NotificationItem[]): NotificationBatch => ({ items, validationTokens: [] });

  it('a batch journaled and killed before its events went out is replayed at start: same eventIds, forged items still dropped', async () => {
    const storage = new MemoryJournalStorage();
    const first = collectingReceiver(sim(), { journal: new NotificationJournal(storage, { warn: () => undefined }) });
    await first.r.receive(batch(item('a'), item('forged', 'not-our-state')));
    await first.r.receive(batch(item('b')));
    // SIGKILL now: the 202s went out, the receiver had not handled the batches yet (they run on the next turn).
    const left = storage.killed();
    assert.doesNotMatch(left.text, /unit-state|not-our-state/, 'no clientState in clear in the journal');
    await new Promise((r) => setImmediate(r));
    await waitFor('the first run handled both', () => first.events.length === 2);
    const warnings: string[] = [];
    const second = collectingReceiver(sim(), { journal: new NotificationJournal(left, { warn: () => undefined }), warn: (m) => void warnings.push(m) });
    await second.r.start();
    await waitFor('replayed', () => second.events.length === 2);
    assert.deepEqual(second.events.map((e) => e.eventId), first.events.map((e) => e.eventId));
    assert.deepEqual(second.events.map((e) => e.objectId), ['a', 'b']);
    assert.match(warnings.join('\n'), /replaying 2 notification batch\(es\)/);
    assert.match(warnings.join('\n'), /clientState does not match/, 'the forged item is dropped on replay too');
    await first.r.close(false);
    await second.r.close(false);
  });

  it('a batch with validation tokens replayed after they expired is judged as it arrived: not dropped (Graph: tokens last an hour)', async () => {
    const tenantId = sim().state.tenantId;
    // Graph's clock two hours back while the batch arrives: its token (signed by the simulated Graph, valid one hour,
    // "Set up change notifications that include resource data") has long expired when the replay runs, at Graph's now.
    sim().state.clock.advance(-2 * 3600_000);
    const graph = simGraphClient(sim());
    await graph.get(`/users/${sim().state.defaultUser.id}`); // the client takes Graph's clock from the answer's Date
    const now = Math.floor(sim().state.clock.now() / 1000);
    const token = signJwt(sim().state, { aud: SIM_CLIENT_ID, iss: `https://sts.windows.net/${tenantId}/`, appid: GRAPH_NOTIFICATION_PUBLISHER_APP_ID, appidacr: '2', tid: tenantId, ver: '1.0', exp: now + 3600 });
    const storage = new MemoryJournalStorage();
    const first = collectingReceiver(sim(), { graph, journal: new NotificationJournal(storage, { warn: () => undefined }) });
    await first.r.receive({ items: [item('with-token')], validationTokens: [token] });
    const left = storage.killed(); // SIGKILL right after the 202
    await waitFor('the first run accepted it', () => first.events.length === 1);
    await first.r.close(false);
    sim().state.clock.advance(2 * 3600_000);
    const warnings: string[] = [];
    const second = collectingReceiver(sim(), { journal: new NotificationJournal(left, { warn: () => undefined }), warn: (m) => void warnings.push(m) });
    await second.r.start();
    await waitFor('replayed', () => second.events.length === 1 || /invalid validation tokens/.test(warnings.join('\n')));
    assert.doesNotMatch(warnings.join('\n'), /invalid validation tokens/);
    assert.equal(second.events[0]?.eventId, first.events[0].eventId);
    // A live batch with that token now is refused: it expired an hour ago.
    await second.r.receive({ items: [item('late-token')], validationTokens: [token] });
    await waitFor('refused', () => /invalid validation tokens/.test(warnings.join('\n')));
    assert.equal(second.events.length, 1);
    await second.r.close(false);
  });

  it('cluster mode: a replayed item skips the shared dedupe claim (this instance may have claimed it before the crash)', async () => {
    const claimed = new Set<string>();
    const sharedDedupe = { claim: async (key: string) => (claimed.has(key) ? false : (claimed.add(key), true)) };
    const storage = new MemoryJournalStorage();
    const first = collectingReceiver(sim(), { sharedDedupe, journal: new NotificationJournal(storage, { warn: () => undefined }) });
    await first.r.receive(batch(item('claimed-then-killed')));
    const left = storage.killed();
    await waitFor('claimed (and sent) by the first run', () => claimed.size === 1 && first.events.length === 1);
    const second = collectingReceiver(sim(), { sharedDedupe, journal: new NotificationJournal(left, { warn: () => undefined }) });
    await second.r.start();
    await waitFor('replayed despite the claim', () => second.events.length === 1);
    assert.equal(second.events[0].eventId, first.events[0].eventId);
    // A live repeat of the same notification is still claimed away.
    await second.r.receive(batch(item('claimed-then-killed')));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(second.events.length, 1);
    await first.r.close(false);
    await second.r.close(false);
  });

  it('a journal that cannot be written rejects receive (the adapter answers 503) and reports it once', async () => {
    const storage = new MemoryJournalStorage();
    storage.append = async () => Promise.reject(new Error('EROFS: read-only file system'));
    const { r, events, errors } = collectingReceiver(sim(), { journal: new NotificationJournal(storage, { warn: () => undefined }) });
    await assert.rejects(r.receive(batch(item('x'))), /EROFS/);
    await assert.rejects(r.receive(batch(item('y'))), /EROFS/);
    await new Promise((res) => setTimeout(res, 20));
    assert.equal(events.length, 0, 'nothing handled without the journal (Graph sends it again)');
    assert.equal(errors.filter((e) => /cannot be written/.test(e)).length, 1);
    await r.close(false);
  });

  it('a receiver that is closing refuses new batches (503) and leaves journaled ones for the next start', async () => {
    const storage = new MemoryJournalStorage();
    const { r } = collectingReceiver(sim(), { journal: new NotificationJournal(storage, { warn: () => undefined }) });
    await r.close(false);
    await assert.rejects(r.receive(batch(item('late'))), /closing/);
  });
});
