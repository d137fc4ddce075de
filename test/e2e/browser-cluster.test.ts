/**
 * The `ms365-cluster` config node in a real editor (issue 17): headless Debian chromium against a real Node-RED 4.1
 * process loading the packed package. The connector dialog offers the cluster as a config-node select holding the
 * one it names; the cluster dialog shows its labels and placeholders from the catalog of the editor's language
 * (en-US, de, ja) and its help in that language. Skips with a message when /usr/bin/chromium is absent (fails in CI).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { startNodeRed, type NodeRedProcess } from '../support/nodered-process';
import { ROOT, closeTrays, importFlow, openEditor, screenshot, useChromium } from '../support/browser';

type Tree = { [key: string]: string | Tree };
const catalog = (lang: string) => (JSON.parse(fs.readFileSync(path.join(ROOT, 'src', 'nodes', 'locales', lang, 'ms365-cluster.json'), 'utf8')) as { 'ms365-cluster': Tree })['ms365-cluster'];

interface RedWindow {
  RED: {
    nodes: { node(id: string): unknown };
    editor: { editConfig(name: string, type: string, id: string, prefix: string): void };
  };
}

/** A sentence of each language's help (locales/<lang>/ms365-cluster.html). */
const HELP: Record<string, string> = { 'en-US': 'Redis settings', de: 'Redis-Einstellungen', ja: 'Redis の設定' };

describe('ms365-cluster in headless chromium (Node-RED 4.1): connector field, dialog and help in three languages', function () {
  this.timeout(120_000);
  const browser = useChromium();
  let red: NodeRedProcess | undefined;
  let page: Page;

  before(async function () {
    this.timeout(90_000);
    red = await startNodeRed({ version: 4 });
    page = await browser().context.newPage();
    await openEditor(page, red.url);
  });
  after(async function () {
    this.timeout(20_000);
    await page?.close().catch(() => undefined);
    await red?.dispose();
  });
  afterEach(async () => {
    if (page) await closeTrays(page);
  });

  async function edit(type: string, id: string, visible: string): Promise<void> {
    await page.waitForFunction((cid) => Boolean((window as unknown as RedWindow).RED.nodes.node(cid)), id);
    await page.evaluate(([t, cid]) => (window as unknown as RedWindow).RED.editor.editConfig('', t!, cid!, 'node-input'), [type, id]);
    await page.locator(visible).waitFor({ state: 'visible' });
  }

  it('the connector dialog offers the cluster as a config-node select holding the one it names', async () => {
    await importFlow(page, [
      { id: 'clu1', type: 'ms365-cluster', name: 'Shared Redis', url: 'redis://redis.internal:6379', prefix: 'ms365' },
      { id: 'conn1', type: 'ms365-connector', name: 'With cluster', tags: '', scope: '', callbackUrl: '', cluster: 'clu1' },
    ]);
    await edit('ms365-connector', 'conn1', '#node-config-input-clientId');
    const select = page.locator('#node-config-input-cluster');
    assert.equal(await select.evaluate((e) => e.tagName), 'SELECT');
    assert.equal(await select.inputValue(), 'clu1');
    const options = await select.locator('option').allInnerTexts();
    assert.ok(options.includes('Shared Redis'), options.join(' | '));
    assert.equal((await page.locator('label[for="node-config-input-cluster"]').innerText()).trim(), 'Cluster');
  });

  for (const lang of ['en-US', 'de', 'ja']) {
    it(`the cluster dialog in ${lang}: labels and placeholders of that catalog, help in that language`, async () => {
      await page.evaluate((l) => localStorage.setItem('editor-language', l), lang);
      try {
        await openEditor(page, red!.url);
        await importFlow(page, [{ id: `clu-${lang}`, type: 'ms365-cluster', name: '', url: 'redis://127.0.0.1:6379', prefix: 'ms365' }]);
        await edit('ms365-cluster', `clu-${lang}`, '#node-config-input-url');
        const texts = catalog(lang);
        const labels = texts.label as Tree;
        for (const field of ['name', 'url', 'password', 'prefix']) {
          const shown = (await page.locator(`label[for="node-config-input-${field}"]`).innerText()).trim();
          assert.equal(shown, labels[field], `${field} label in ${lang}`);
        }
        assert.equal(await page.locator('#node-config-input-url').getAttribute('placeholder'), (texts.placeholder as Tree).url);
        const help = await page.evaluate(() => document.querySelector('script[data-help-name="ms365-cluster"]')?.innerHTML ?? '');
        assert.ok(help.includes(HELP[lang]!), `the ${lang} help is loaded`);
        await screenshot(page, `cluster-dialog-${lang}`, { selector: '.red-ui-tray' });
      } finally {
        await closeTrays(page);
        await page.evaluate(() => localStorage.removeItem('editor-language'));
      }
    });
  }
});
