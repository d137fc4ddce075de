/**
 * The nodes' runtime texts (shared/i18n `text`) through Node-RED's own i18n (@node-red/util, as the runtime registers
 * a node set's catalog: namespace `<module>/<set>`, `RED._` prefixed with it): statuses in de and ja with their
 * parameters, and the en-US catalog when the runtime has none (node-red-node-test-helper's identity `_`).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import type { NodeAPI } from 'node-red';
import { text } from '../../../src/nodes/shared/i18n';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { i18n } = require('@node-red/util') as {
  i18n: {
    init(settings: { lang?: string }): Promise<void>;
    registerMessageCatalog(namespace: string, dir: string, file: string): Promise<void>;
    _(key: string, params?: Record<string, unknown>): string;
    i: { changeLanguage(lang: string): Promise<unknown> };
  };
};

const LOCALES = path.resolve(__dirname, '..', '..', '..', 'src', 'nodes', 'locales');
const TYPES = ['ms365-poller', 'ms365-webhook-in', 'ms365-callback-out'];

/** The RED a node set gets: `_` in its own namespace. */
function redOf(type: string): NodeAPI {
  return { _: (key: string, params?: Record<string, unknown>) => i18n._(`test-module/${type}:${key}`, params) } as unknown as NodeAPI;
}

describe('runtime texts through Node-RED i18n (shared/i18n)', () => {
  before(async () => {
    await i18n.init({ lang: 'de' });
    for (const type of TYPES) await i18n.registerMessageCatalog(`test-module/${type}`, LOCALES, `${type}.json`);
  });
  after(async () => {
    await i18n.i.changeLanguage('en-US');
  });

  it('German statuses, parameters filled', async () => {
    await i18n.i.changeLanguage('de');
    assert.equal(text(redOf('ms365-poller'), 'ms365-poller.status.events', { time: '10:15:02', count: 3 }), '10:15:02: 3 Ereignisse');
    assert.equal(text(redOf('ms365-poller'), 'ms365-poller.status.missingPermission', { permission: 'Mail.ReadBasic.All' }), 'Berechtigung Mail.ReadBasic.All fehlt');
    assert.equal(text(redOf('ms365-webhook-in'), 'ms365-webhook-in.status.receivedDropped', { received: 5, dropped: 2 }), '5 empfangen, 2 verworfen');
    assert.equal(text(redOf('ms365-callback-out'), 'ms365-callback-out.status.failing', { time: '10:00:00', count: 4 }), 'Fehler seit 10:00:00 (4 in der Warteschlange)');
  });

  it('Japanese statuses', async () => {
    await i18n.i.changeLanguage('ja');
    assert.equal(text(redOf('ms365-poller'), 'ms365-poller.status.polling'), '取得中');
    assert.equal(text(redOf('ms365-webhook-in'), 'ms365-webhook-in.status.subscriptions', { count: 2 }), 'サブスクリプション 2 件');
    assert.equal(text(redOf('ms365-callback-out'), 'ms365-callback-out.status.queued', { count: 7 }), '7 件待機中');
  });

  it('a core message passed as a parameter stays as it is (English, not escaped)', async () => {
    await i18n.i.changeLanguage('de');
    const core = 'subscriptions[0] ("me/drive/root"): a OneDrive subscription takes only changeType "updated" <x>';
    assert.equal(text(redOf('ms365-webhook-in'), 'ms365-webhook-in.errors.invalidConfig', { error: core }), `ms365-webhook-in: ${core}`);
  });

  it('without a catalog in the runtime (identity _), the en-US text', () => {
    const identity = { _: (key: string) => key } as unknown as NodeAPI;
    assert.equal(text(identity, 'ms365-poller.status.eventsOne', { time: '10:15:02' }), '10:15:02: 1 event');
    assert.equal(text(identity, 'ms365-webhook-in.status.received', { received: 9 }), '9 received');
    assert.equal(text(identity, 'ms365-nothing.status.x'), 'ms365-nothing.status.x');
  });
});
