/**
 * Errors in the runtime's language (issue 16 item 6): a real Node-RED started with `lang` de, then ja, loading the
 * packed package. The poller without a connector and a webhook-in with a refused path log German / Japanese from
 * their catalogs (src/nodes/locales/<lang>/<type>.json), the value quoted as it is. (Statuses set while a node starts
 * reach no status node; they go through the same helper, checked against Node-RED's i18n in
 * test/unit/i18n/runtime-text.test.ts.)
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, startNodeRed, waitUntil, type NodeRedProcess } from '../support/nodered-process';

function catalog(lang: string, type: string): Record<string, Record<string, string>> {
  return (JSON.parse(fs.readFileSync(path.join(ROOT, 'src', 'nodes', 'locales', lang, `${type}.json`), 'utf8')) as Record<string, Record<string, Record<string, string>>>)[type]!;
}

const flows = [
  { id: 'lt', type: 'tab', label: 'language' },
  { id: 'lp', z: 'lt', type: 'ms365-poller', name: '', connector: '', interval: 15, timezone: 'UTC', configuration: '', pollOnStart: false, wires: [[]] },
  { id: 'lw', z: 'lt', type: 'ms365-webhook-in', name: '', connector: '', path: 'bad path', notificationUrl: '', subscriptions: '[]', fetchResource: true, wires: [[], []] },
  { id: 'lc', z: 'lt', type: 'ms365-callback-out', name: '', url: 'not a url', batchSize: '', retries: 5, wires: [[], []] },
];

for (const lang of ['de', 'ja']) {
  describe(`runtime texts in ${lang} (Node-RED started with lang "${lang}", packed package)`, function () {
    this.timeout(90_000);
    let red: NodeRedProcess | undefined;

    before(async () => {
      red = await startNodeRed({ settings: { lang } });
      await red.deploy(flows);
    });
    after(async () => {
      await red?.dispose();
    });

    it('the missing connector and the refused path are logged in the language, the value quoted', async () => {
      const poller = catalog(lang, 'ms365-poller').errors!.noConnector!;
      const path = catalog(lang, 'ms365-webhook-in').errors!.badPath!.replace('__path__', 'bad path');
      await waitUntil('the errors in the log', () => red!.log().includes(poller) && red!.log().includes(path), 20_000).catch(() => undefined);
      assert.ok(red!.log().includes(poller), `"${poller}" not in the log`);
      assert.ok(red!.log().includes(path), `"${path}" not in the log`);
    });
  });
}
