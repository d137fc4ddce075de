/**
 * The connector dialog in a real editor (issue 16, item 4): headless Debian chromium (playwright-core) against a
 * real Node-RED process loading the packed package, with the simulated tenant in-process.
 * - The cloud select fills authority host and Graph base URL with Microsoft's national cloud endpoints; hosts that
 *   are none of them (the simulator) show "Other" and open the Advanced section, which is folded otherwise.
 * - Test connection, for a connector not deployed yet (dialog values only): app-only names the app and lists each
 *   permission granted or missing; delegated before a sign-in says "sign in first".
 * - The poller's mail folder picker lists the folders of the connector's mailbox (a connector not deployed yet: the
 *   editor's values) and the "Watch" preset puts the chosen one into the resources.
 * Skips with a message when /usr/bin/chromium is absent (fails in CI).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { useSimulator } from '../support/simulator';
import type { NodeRedProcess } from '../support/nodered-process';
import { SIM_CLIENT_ID, SIM_CLIENT_SECRET } from '../../src/simulator/identity';
import { identityOf } from '../../src/simulator/identity';
import { ROOT, closeTrays, importFlow, openEditor, screenshot, until, useEditor } from '../support/browser';

type Tree = { [key: string]: string | Tree };
/** The leaf strings of a locale file. */
function strings(lang: string): Map<string, string> {
  const tree = JSON.parse(fs.readFileSync(path.join(ROOT, 'src', 'nodes', 'locales', lang, 'ms365-connector.json'), 'utf8')) as Tree;
  const out = new Map<string, string>();
  const walk = (t: Tree, prefix: string) => {
    for (const [k, v] of Object.entries(t)) {
      if (typeof v === 'string') out.set(prefix + k, v);
      else walk(v, `${prefix}${k}.`);
    }
  };
  walk(tree, '');
  return out;
}

const VERSIONS = (process.env.MS365_BROWSER_NODE_RED || '4,5')
  .split(',')
  .map((v) => Number(v.trim()))
  .filter((v): v is 4 | 5 => v === 4 || v === 5);

interface RedWindow {
  RED: {
    nodes: { node(id: string): unknown };
    editor: { editConfig(name: string, type: string, id: string, prefix: string): void };
  };
}

for (const version of VERSIONS) describe(`connector dialog in headless chromium (Node-RED ${version === 4 ? '4.1' : '5'}): cloud, Advanced, Test connection`, function () {
  this.timeout(120_000);
  const editor = useEditor(version);
  const sim = useSimulator();
  let red: NodeRedProcess;
  let page: Page;
  let count = 0;
  before(() => ({ red, page } = editor()));

  /** Imports a connector (not deployed) and opens its dialog. */
  async function openConnector(props: Record<string, unknown>): Promise<string> {
    const id = `dlgconn${++count}`;
    await importFlow(page, [{ id, type: 'ms365-connector', name: `Connector ${count}`, tags: '', scope: '', callbackUrl: '', ...props }], { x: 200, y: 60 * count });
    await page.waitForFunction((cid) => Boolean((window as unknown as RedWindow).RED.nodes.node(cid)), id);
    await page.evaluate((cid) => (window as unknown as RedWindow).RED.editor.editConfig('', 'ms365-connector', cid, 'node-input'), id);
    await page.locator('#node-config-input-clientId').waitFor({ state: 'visible' });
    await until('the cloud list', async () => (await page.locator('#node-config-ms365-cloud option').count()) >= 5);
    return id;
  }

  it('cloud select: Microsoft\'s endpoints per cloud; Advanced folded for a Microsoft cloud, open for other hosts', async () => {
    await openConnector({ elementKey: 'office365', tenant: 'contoso.onmicrosoft.com', grantType: 'authorization_code', authorityHost: 'https://login.microsoftonline.com', graphBaseUrl: 'https://graph.microsoft.com/v1.0', userId: '' });
    assert.equal(await page.locator('#node-config-ms365-cloud').inputValue(), 'global');
    assert.equal(await page.locator('#node-config-input-authorityHost').isVisible(), false, 'Advanced is not folded for the global cloud');
    const cases: Array<[string, string, string]> = [
      ['usgov', 'https://login.microsoftonline.us', 'https://graph.microsoft.us/v1.0'],
      ['usgovdod', 'https://login.microsoftonline.us', 'https://dod-graph.microsoft.us/v1.0'],
      ['china', 'https://login.chinacloudapi.cn', 'https://microsoftgraph.chinacloudapi.cn/v1.0'],
      ['global', 'https://login.microsoftonline.com', 'https://graph.microsoft.com/v1.0'],
    ];
    for (const [cloud, authority, graph] of cases) {
      await page.selectOption('#node-config-ms365-cloud', cloud);
      assert.equal(await page.locator('#node-config-input-authorityHost').inputValue(), authority, cloud);
      assert.equal(await page.locator('#node-config-input-graphBaseUrl').inputValue(), graph, cloud);
    }
    await page.locator('#node-config-ms365-advanced-toggle').click();
    assert.equal(await page.locator('#node-config-input-graphBaseUrl').isVisible(), true, 'Advanced does not open');
    await page.fill('#node-config-input-graphBaseUrl', 'https://graph.example.org/v1.0');
    await page.locator('#node-config-input-graphBaseUrl').dispatchEvent('change');
    assert.equal(await page.locator('#node-config-ms365-cloud').inputValue(), 'custom');
    await screenshot(page, `connector-advanced-nr${version}`, { selector: '.red-ui-tray' });
    await closeTrays(page);

    // A connector on other hosts (the simulator) opens with Advanced unfolded and "Other" selected.
    await openConnector({ elementKey: 'office365', tenant: sim().state.tenantId, grantType: 'authorization_code', authorityHost: sim().authorityHost, graphBaseUrl: sim().graphBaseUrl, userId: '' });
    await until('Advanced to open', async () => page.locator('#node-config-input-authorityHost').isVisible());
    assert.equal(await page.locator('#node-config-ms365-cloud').inputValue(), 'custom');
  });

  it('Test connection (not deployed, dialog values): app-only names the app, lists granted and missing permissions; delegated says "sign in first"', async () => {
    const app = identityOf(sim().state).registerApp({ appRoles: ['Mail.Read', 'Contacts.Read'] });
    await openConnector({ elementKey: 'office365', tenant: sim().state.tenantId, grantType: 'client_credentials', authorityHost: sim().authorityHost, graphBaseUrl: sim().graphBaseUrl, userId: sim().state.defaultUser.id });
    await page.fill('#node-config-input-clientId', app.clientId);
    await page.fill('#node-config-input-clientSecret', app.clientSecret);
    await page.locator('#node-config-ms365-test').click();
    const result = page.locator('#node-config-ms365-test-result');
    await until('the test result', async () => (await result.locator('li').count()) > 0, 20_000);
    const text = await result.innerText();
    assert.match(text, new RegExp(`application ${app.clientId}`));
    const items = await result.locator('li').evaluateAll((els) => els.map((e) => [e.getAttribute('data-permission'), e.getAttribute('data-granted')]));
    assert.deepEqual(items, [['Mail.ReadBasic.All', 'true'], ['Calendars.Read', 'false'], ['Contacts.Read', 'true']]);
    assert.match(text, /Calendars\.Read: missing/);
    assert.ok(!text.includes(app.clientSecret));
    await screenshot(page, `connector-test-connection-nr${version}`, { selector: '.red-ui-tray' }, { docs: version === 4 });

    // Delegated, no sign-in yet.
    await page.selectOption('#node-config-input-grantType', 'authorization_code');
    await page.fill('#node-config-input-tenant', 'common');
    await page.fill('#node-config-input-clientId', SIM_CLIENT_ID);
    await page.fill('#node-config-input-clientSecret', SIM_CLIENT_SECRET);
    await page.locator('#node-config-ms365-test').click();
    await until('the sign-in-first answer', async () => /sign in first/i.test(await result.innerText()), 20_000);
  });

  it('poller dialog: the mail folder picker lists the mailbox folders of a connector not deployed yet and fills the chosen one into the resources', async () => {
    const conn = `pickconn${++count}`;
    const poll = `pickpoll${count}`;
    await importFlow(
      page,
      [
        {
          id: conn, type: 'ms365-connector', name: 'Picker connector', elementKey: 'outlookemail', tenant: sim().state.tenantId, grantType: 'client_credentials',
          scope: '', callbackUrl: '', authorityHost: sim().authorityHost, graphBaseUrl: sim().graphBaseUrl, userId: sim().state.defaultUser.id, tags: '',
          credentials: { clientId: SIM_CLIENT_ID, clientSecret: SIM_CLIENT_SECRET },
        },
        { id: poll, type: 'ms365-poller', name: 'Picked folder', connector: conn, interval: 15, timezone: 'UTC', configuration: '', pollOnStart: false, x: 300, y: 400, wires: [[]] },
      ],
      { x: 300, y: 400 },
    );
    await page.waitForFunction((id) => Boolean(document.getElementById(id)), poll);
    await page.locator(`g.red-ui-flow-node-group[id="${poll}"] rect.red-ui-flow-node`).dblclick();
    // A flow with only `configuration` opens on Advanced; "Mail created, updated or deleted in a folder" takes a folder.
    await page.locator('#node-input-watch').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#node-input-watch').inputValue(), 'advanced');
    await page.selectOption('#node-input-watch', 'mail');
    await page.locator('#ms365-poller-target-load').waitFor({ state: 'visible' });
    await page.locator('#ms365-poller-target-load').click();
    await until('the folders', async () => (await page.locator('#ms365-poller-target option').count()) > 1, 20_000);
    const options = await page.locator('#ms365-poller-target option').evaluateAll((els) => els.map((e) => [(e as HTMLOptionElement).value, e.textContent]));
    const inbox = options.find(([, name]) => name === 'Inbox');
    assert.ok(inbox && inbox[0], `no Inbox among ${JSON.stringify(options)}`);
    await page.selectOption('#ms365-poller-target', inbox[0]!);
    // The dialog's code editor (ace or monaco) is the edited node's `editor` while the dialog is open.
    const config = await until('the resources to name the folder', async () => {
      const value = await page.evaluate((id) => {
        const n = (window as unknown as { RED: { nodes: { node(i: string): { editor?: { getValue(): string } } | null } } }).RED.nodes.node(id);
        return n?.editor?.getValue() ?? '';
      }, poll);
      return value.includes(`/mailFolders/${inbox[0]!}/messages/delta`) ? value : false;
    });
    assert.match(config, new RegExp(`/me/mailFolders/${inbox[0]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/messages/delta`));
    await screenshot(page, `poller-folder-picker-nr${version}`, { selector: '.red-ui-tray' });
  });

  for (const lang of ['de', 'ja']) {
    it(`connector dialog in ${lang}: no English label, option or button text of the connector's catalog`, async () => {
      await page.evaluate((l) => localStorage.setItem('editor-language', l), lang);
      try {
        await openEditor(page, red!.url);
        await openConnector({ elementKey: 'office365', tenant: sim().state.tenantId, grantType: 'client_credentials', authorityHost: sim().authorityHost, graphBaseUrl: sim().graphBaseUrl, userId: sim().state.defaultUser.id });
        const shown = await page.locator('.red-ui-tray').last().evaluate((tray) => {
          const texts: string[] = [];
          tray.querySelectorAll('.red-ui-tray-body label, .red-ui-tray-body option, .red-ui-tray-body button, .red-ui-tray-body a').forEach((e) => texts.push((e as HTMLElement).innerText || e.textContent || ''));
          tray.querySelectorAll('.red-ui-tray-body input[placeholder]').forEach((e) => texts.push((e as HTMLInputElement).placeholder));
          return texts.map((t) => t.trim()).filter(Boolean);
        });
        const en = strings('en-US');
        const translated = strings(lang);
        const english = shown.filter((text) => [...en].some(([key, value]) => value === text && translated.get(key) !== value));
        assert.deepEqual(english, [], `English strings in the ${lang} connector dialog`);
        assert.ok(shown.includes(translated.get('ms365-connector.label.test')!), `the ${lang} "Test connection" label is not shown: ${shown.join(' | ')}`);
        await screenshot(page, `connector-dialog-${lang}-nr${version}`, { selector: '.red-ui-tray' });
      } finally {
        await closeTrays(page);
        await page.evaluate(() => localStorage.removeItem('editor-language'));
        await openEditor(page, red!.url);
      }
    });
  }
});
