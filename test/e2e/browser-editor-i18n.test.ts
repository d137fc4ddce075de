/**
 * The poller, webhook-in and callback-out dialogs in a real browser (issue 16 items 3, 5, 6): headless Debian chromium
 * driven by playwright-core against a real Node-RED process loading the packed package (as browser-editor.test.ts).
 * - Item 6: the editor switched to German and Japanese (its own language setting, `editor-language`) shows no English
 *   text of ours in the three dialogs, and a refused value says why in that language.
 * - Item 3: the webhook's subscriptions as a list: two rows added, saved and deployed, the node holds the right JSON.
 * - Item 5: the poller's interval with a unit (stored in minutes), the time zone's IANA suggestions.
 * Skips with a message when /usr/bin/chromium is absent (fails in CI).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { useSimulator } from '../support/simulator';
import { SIM_CLIENT_ID, SIM_CLIENT_SECRET } from '../../src/simulator/identity';
import type { NodeRedProcess } from '../support/nodered-process';
import { ROOT, clearNotifications, closeTrays, importFlow, openEditor, openNodeDialog, screenshot, until, useEditor } from '../support/browser';

const TYPES = ['ms365-poller', 'ms365-webhook-in', 'ms365-callback-out'] as const;
const LOCALES = path.join(ROOT, 'src', 'nodes', 'locales');

interface RedWindow {
  RED: {
    nodes: { node(id: string): Record<string, unknown> | null };
    actions: { invoke(action: string): void };
  };
}

/** Every string of a catalog, by key. */
function strings(lang: string, type: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (v: unknown, key: string) => {
    if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, key ? `${key}.${k}` : k);
    else out.set(key, String(v));
  };
  walk(JSON.parse(fs.readFileSync(path.join(LOCALES, lang, `${type}.json`), 'utf8')), '');
  return out;
}

/** `words` stand in `text` as words (not inside an identifier or a path such as `me/events`). */
function hasWords(text: string, words: string): boolean {
  return new RegExp(`(^|[^A-Za-z0-9/._-])${words.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}($|[^A-Za-z0-9/._-])`).test(text);
}

/**
 * English texts of ours that the dialog must not show in `lang`: the en-US catalog strings whose translation differs,
 * as the words a user would read (tags and placeholders removed; short values such as "Name" = "Name" are not English-only).
 */
function englishOnly(lang: string, type: string): string[] {
  const en = strings('en-US', type);
  const other = strings(lang, type);
  const found: string[] = [];
  for (const [key, value] of en) {
    if (other.get(key) === value) continue;
    // Technical terms that stay as they are in every language (element keys, Graph names, signing schemes).
    const plain = value.replace(/\b(?:outlookemail|office365|microsoftgraph|onedrivev2|calendarView|delta|Open Connectors|Standard Webhooks|Elements-Webhook-Signature|webhook-signature)\b/g, ' ');
    for (const part of plain.replace(/<code>[\s\S]*?<\/code>/g, ' ').replace(/<[^>]+>/g, ' ').split(/__\w+__|[():;]/)) {
      const words = part.trim();
      // A word the translation uses too ("optional" in German) is not English-only.
      if (/[A-Za-z]{3,}/.test(words) && words.length >= 4 && !/^(?:ms365|https?|me\/)/.test(words) && !hasWords(other.get(key) ?? '', words)) found.push(words);
    }
  }
  return [...new Set(found)];
}

/** What a user reads in the open tray: its text, placeholders, titles and option labels. */
async function trayText(page: Page, without?: string): Promise<string> {
  return page.evaluate((skip) => {
    const tray = document.querySelector('.red-ui-tray:last-of-type .red-ui-tray-body') as HTMLElement;
    // The parts named by `without` are hidden while the text is read (innerText leaves hidden elements out).
    const hidden = skip ? Array.from(tray.querySelectorAll<HTMLElement>(skip)).map((e) => [e, e.style.display] as const) : [];
    hidden.forEach(([e]) => (e.style.display = 'none'));
    const visible = (e: Element) => !hidden.some(([h]) => h.contains(e));
    const attrs = Array.from(tray.querySelectorAll('[placeholder], [title]')).filter(visible).map((e) => `${e.getAttribute('placeholder') ?? ''} ${e.getAttribute('title') ?? ''}`);
    const options = Array.from(tray.querySelectorAll('option')).filter(visible).map((o) => o.textContent ?? '');
    const text = [tray.innerText, ...attrs, ...options].join('\n');
    hidden.forEach(([e, display]) => (e.style.display = display));
    return text;
  }, without);
}

const VERSIONS = (process.env.MS365_BROWSER_NODE_RED || '4,5')
  .split(',')
  .map((v) => Number(v.trim()))
  .filter((v): v is 4 | 5 => v === 4 || v === 5);

for (const version of VERSIONS) describe(`editor dialogs in German, Japanese; subscription list; interval unit (Node-RED ${version === 4 ? '4.1' : '5'}, chromium)`, function () {
  this.timeout(120_000);
  const editor = useEditor(version, {
    onFailure: (p, title) => screenshot(p, `failed-i18n-${title.replace(/[^A-Za-z0-9-]+/g, '_').slice(0, 50)}`),
    beforeClose: (p) => p.evaluate(() => localStorage.removeItem('editor-language')),
  });
  const sim = useSimulator();
  let red: NodeRedProcess;
  let page: Page;
  let imports = 0;
  const shot = (name: string) => screenshot(page, `${version === 4 ? '' : 'nr5-'}${name}`, { selector: '.red-ui-tray' });

  before(() => ({ red, page } = editor()));

  function connector(id: string) {
    return {
      id,
      type: 'ms365-connector',
      name: 'Simulated tenant',
      elementKey: 'office365',
      tenant: sim().state.tenantId,
      grantType: 'authorization_code',
      scope: '',
      callbackUrl: '',
      authorityHost: sim().authorityHost,
      graphBaseUrl: sim().graphBaseUrl,
      userId: '',
      tags: '',
      // An app registration (no sign-in yet): the pickers get as far as "sign in first".
      credentials: { clientId: SIM_CLIENT_ID, clientSecret: SIM_CLIENT_SECRET },
    };
  }

  /** The three flow nodes (and a connector), fresh ids per import; answers the ids by type. */
  async function importNodes(extra: Record<string, Record<string, unknown>> = {}): Promise<Record<string, string>> {
    const n = ++imports;
    const ids = { conn: `i18nconn${n}`, 'ms365-poller': `i18npoll${n}`, 'ms365-webhook-in': `i18nhook${n}`, 'ms365-callback-out': `i18ncb${n}` };
    const flow = [
      connector(ids.conn),
      { id: ids['ms365-poller'], type: 'ms365-poller', name: '', connector: ids.conn, interval: 15, timezone: 'UTC', configuration: '', pollOnStart: false, x: 150, y: 60 * n, wires: [[]], ...extra['ms365-poller'] },
      {
        id: ids['ms365-webhook-in'],
        type: 'ms365-webhook-in',
        name: '',
        connector: ids.conn,
        path: `/ms365/i18n-${n}`,
        notificationUrl: 'https://nodered.example.com',
        subscriptions: '[{"resource":"me/messages","changeType":"created,updated,deleted"}]',
        fetchResource: true,
        x: 350,
        y: 60 * n,
        wires: [[], []],
        ...extra['ms365-webhook-in'],
      },
      { id: ids['ms365-callback-out'], type: 'ms365-callback-out', name: '', url: 'http://127.0.0.1:9/callback', batchSize: '', retries: 5, x: 550, y: 60 * n, wires: [[], []] },
    ];
    await importFlow(page, flow, { x: 100, y: 40 + 60 * n });
    await page.waitForFunction((all) => all.every((i) => (window as unknown as RedWindow).RED.nodes.node(i)), Object.values(ids));
    return ids;
  }

  async function switchLanguage(lang: string): Promise<void> {
    await page.evaluate((l) => localStorage.setItem('editor-language', l), lang);
    await openEditor(page, red!.url);
    await page.waitForFunction((l) => (window as unknown as { RED: { i18n: { lang(): string } } }).RED.i18n.lang().startsWith(l), lang);
  }

  async function clickDone(): Promise<void> {
    const trays = await page.locator('.red-ui-tray').count();
    await clearNotifications(page);
    await page.locator('.red-ui-tray').last().locator('#node-dialog-ok').click();
    await until('the edit tray to close', async () => (await page.locator('.red-ui-tray').count()) < trays);
  }

  /** Deploy through the editor's action; the admin API must take the flows (HTTP 200). */
  async function deploy(): Promise<void> {
    const posted = page.waitForResponse((r) => /\/flows$/.test(new URL(r.url()).pathname) && r.request().method() === 'POST', { timeout: 20_000 });
    await page.evaluate(() => (window as unknown as RedWindow).RED.actions.invoke('core:deploy-flows'));
    const confirm = page.locator('.red-ui-notification button', { hasText: /confirm deploy|deploy/i });
    await confirm.first().click({ timeout: 2000 }).catch(() => undefined);
    assert.equal((await posted).status(), 200);
  }

  for (const lang of ['de', 'ja']) {
    it(`in ${lang}: the poller, webhook-in and callback-out dialogs show no English text of ours; a refused value says why in ${lang}`, async () => {
      await switchLanguage(lang);
      const ids = await importNodes();
      for (const type of TYPES) {
        await openNodeDialog(page, ids[type]!);
        if (type === 'ms365-webhook-in') await page.locator('.ms365-sub-resource').first().waitFor();
        const text = await trayText(page);
        const english = englishOnly(lang, type).filter((words) => hasWords(text, words));
        assert.deepEqual(english, [], `${type} dialog in ${lang} shows English: ${english.join(' | ')}`);
        // It is really in that language: its labels come from the catalog of ${lang}.
        const translated = strings(lang, type);
        for (const key of ['label.name', 'label.retries', 'label.interval', 'label.subscriptions']) {
          const want = translated.get(key);
          if (want) assert.ok(text.includes(want), `${type} dialog in ${lang} lacks "${want}"`);
        }
        await shot(`dialog-${type}-${lang}`);
        await closeTrays(page);
      }
      // A refused value says why, in this language (the poller's interval, under the field).
      await openNodeDialog(page, ids['ms365-poller']!);
      await page.fill('#ms365-poller-every', 'abc');
      await page.locator('#ms365-poller-every').dispatchEvent('change');
      const problem = page.locator('#ms365-poller-interval-problem');
      await problem.waitFor({ state: 'visible' });
      assert.equal(await problem.innerText(), strings(lang, 'ms365-poller').get('ms365-poller.validation.interval'));
      // The calendar and drive pickers in this language: label, default option, the drive's breadcrumb and "Open
      // folder"; a Load before the connector's sign-in says "sign in first" in this language.
      const poller = strings(lang, 'ms365-poller');
      for (const [watch, label] of [['calendar', 'calendar'], ['files', 'driveFolder']] as const) {
        await page.selectOption('#node-input-watch', watch);
        await until(`the ${watch} picker in ${lang}`, async () => (await page.locator('#ms365-poller-target-label').innerText()) === poller.get(`ms365-poller.picker.${label}`));
        // (The resources JSON and the next-poll preview are Graph's words, e.g. the key "events": not compared.)
        const text = await trayText(page, '.node-text-editor, #ms365-poller-preview');
        const english = englishOnly(lang, 'ms365-poller').filter((words) => hasWords(text, words));
        assert.deepEqual(english, [], `the ${watch} picker in ${lang} shows English: ${english.join(' | ')}`);
        assert.ok(text.includes(poller.get(`ms365-poller.picker.${watch === 'calendar' ? 'defaultCalendar' : 'wholeDrive'}`)!), `${watch}: default option in ${lang}`);
      }
      assert.equal((await page.locator('#ms365-poller-crumbs').innerText()).trim(), poller.get('ms365-poller.picker.driveRoot'));
      assert.equal((await page.locator('#ms365-poller-target-open').innerText()).trim(), poller.get('ms365-poller.picker.open'));
      await page.locator('#ms365-poller-target-load').click();
      const signIn = strings(lang, 'ms365-connector').get('ms365-connector.routeError.sign_in_needed');
      await until(`"sign in first" in ${lang}`, async () => (await page.locator('#ms365-poller-target-note').innerText()) === signIn, 20_000);
      await shot(`poller-drive-picker-${lang}`);
      await closeTrays(page);

      // The webhook-in's resource picker in this language: what to watch, the mail folders, the tips; "sign in first"
      // after "Load folders"; and a refusal other than sign-in (a connector without a client id) in this language too.
      const hook = strings(lang, 'ms365-webhook-in');
      const connectorTexts = strings(lang, 'ms365-connector');
      await importFlow(page, [{ ...connector(`i18nnoclient-${lang}`), name: 'No client id', grantType: 'client_credentials', userId: sim().state.defaultUser.id, credentials: {} }], { x: 700, y: 60 });
      await openNodeDialog(page, ids['ms365-webhook-in']!);
      const row = page.locator('#ms365-webhook-subscriptions-list .red-ui-editableList-item-content').first();
      await row.locator('.ms365-sub-pick').click();
      await row.locator('.ms365-sub-picker').waitFor({ state: 'visible' });
      for (const kind of ['drive', 'events', 'contacts', 'mail']) {
        await row.locator('.ms365-sub-kind').selectOption(kind);
        assert.equal(await row.locator('.ms365-sub-kind-tip').innerText(), hook.get(`ms365-webhook-in.picker.tip.${kind}`));
        const text = await trayText(page);
        const english = englishOnly(lang, 'ms365-webhook-in').filter((words) => hasWords(text, words));
        assert.deepEqual(english, [], `the webhook-in picker (${kind}) in ${lang} shows English: ${english.join(' | ')}`);
      }
      assert.ok((await trayText(page)).includes(hook.get('ms365-webhook-in.picker.allFolders')!), `folder options in ${lang}`);
      const note = row.locator('.ms365-sub-note');
      await row.locator('.ms365-sub-load').click();
      await until(`"sign in first" under the webhook-in picker in ${lang}`, async () => (await note.innerText()) === signIn, 20_000);
      await shot(`webhook-picker-${lang}`);
      await page.selectOption('#node-input-connector', `i18nnoclient-${lang}`);
      await row.locator('.ms365-sub-load').click();
      const noClientId = connectorTexts.get('ms365-connector.routeError.reason.client_id_missing');
      await until(`"enter the client id" in ${lang}`, async () => (await note.innerText()) === noClientId, 20_000);
      await closeTrays(page);
    });
  }

  it('webhook-in: two subscriptions added as rows (a drive one limited to "updated"), saved and deployed: the node holds their JSON', async () => {
    await switchLanguage('en-US');
    const ids = await importNodes();
    const id = ids['ms365-webhook-in']!;
    await openNodeDialog(page, id);
    const rows = page.locator('#ms365-webhook-subscriptions-list .red-ui-editableList-item-content');
    await rows.first().locator('.ms365-sub-resource').waitFor();
    assert.equal(await rows.count(), 1);
    assert.equal(await rows.first().locator('.ms365-sub-resource').inputValue(), 'me/messages');

    const add = page.locator('#ms365-webhook-subscriptions-list-row .red-ui-editableList-addButton, .red-ui-tray a.red-ui-editableList-addButton').first();
    await add.click();
    await until('a second row', async () => (await rows.count()) === 2);
    const second = rows.nth(1);
    await second.locator('.ms365-sub-resource').fill('me/events');
    await second.locator('.ms365-sub-type[value="deleted"]').uncheck();

    await add.click();
    await until('a third row', async () => (await rows.count()) === 3);
    const third = rows.nth(2);
    await third.locator('.ms365-sub-resource').fill('me/drive/root');
    // A drive takes "updated" only: the others are disabled and unticked, and the row says why.
    assert.equal(await third.locator('.ms365-sub-type[value="created"]').isDisabled(), true);
    assert.equal(await third.locator('.ms365-sub-type[value="deleted"]').isDisabled(), true);
    assert.equal(await third.locator('.ms365-sub-type[value="updated"]').isChecked(), true);
    assert.ok(await third.locator('.ms365-sub-drive-tip').isVisible());
    // The longest lifetime the node asks for (core maxMinutesFor, through the admin route) is the placeholder.
    await until('the drive maximum', async () => (await third.locator('.ms365-sub-expiration').getAttribute('placeholder')) === "Graph's maximum: 42300");
    assert.equal(await rows.first().locator('.ms365-sub-expiration').getAttribute('placeholder'), "Graph's maximum: 4230");
    await third.locator('.ms365-sub-expiration').fill('60');
    await third.locator('.ms365-sub-expiration').dispatchEvent('change');

    const expected = [
      { resource: 'me/messages', changeType: 'created,updated,deleted' },
      { resource: 'me/events', changeType: 'created,updated' },
      { resource: 'me/drive/root', changeType: 'updated', expirationMinutes: 60 },
    ];
    // Advanced shows the same setting as JSON.
    await page.locator('#ms365-webhook-subscriptions-advanced').check();
    assert.deepEqual(JSON.parse(await page.locator('#ms365-webhook-subscriptions-json').inputValue()), expected);
    await page.locator('#ms365-webhook-subscriptions-advanced').uncheck();
    assert.equal(await rows.count(), 3);
    await screenshot(page, `${version === 4 ? '' : 'nr5-'}dialog-ms365-webhook-in-subscriptions`, { selector: '.red-ui-tray' });
    await clickDone();

    const inEditor = await page.evaluate((nid) => (window as unknown as RedWindow).RED.nodes.node(nid)?.subscriptions, id);
    assert.deepEqual(JSON.parse(String(inEditor)), expected);
    await deploy();
    const flows = (await page.evaluate(async () => (await fetch('flows', { headers: { 'Node-RED-API-Version': 'v2' } })).json())) as { flows: Array<Record<string, unknown>> };
    const deployed = flows.flows.find((n) => n.id === id);
    assert.ok(deployed, 'the webhook-in node is in the deployed flows');
    assert.deepEqual(JSON.parse(String(deployed.subscriptions)), expected);
  });

  it('webhook-in: a flow saved with JSON the rows cannot show opens under Advanced, and is saved unchanged', async () => {
    const odd = '{"not":"a list"}';
    const ids = await importNodes({ 'ms365-webhook-in': { subscriptions: odd } });
    await openNodeDialog(page, ids['ms365-webhook-in']!);
    assert.equal(await page.locator('#ms365-webhook-subscriptions-advanced').isChecked(), true);
    assert.equal(await page.locator('#ms365-webhook-subscriptions-json').inputValue(), odd);
    assert.ok(await page.locator('#ms365-webhook-subscriptions-problem').isVisible(), 'the reason is shown');
    await clickDone();
    const saved = await page.evaluate((nid) => (window as unknown as RedWindow).RED.nodes.node(nid), ids['ms365-webhook-in']!);
    assert.equal(saved?.subscriptions, odd);
    assert.equal(saved?.valid, false, 'the node is marked invalid, as before');
  });

  it('webhook-in: the array form (CONTRACT) opens as rows; saved untouched, it says the same (no changeType added)', async () => {
    const ids = await importNodes({ 'ms365-webhook-in': { subscriptions: [{ resource: 'me/contacts' }, { resource: 'me/drive/root', expirationMinutes: 600 }] } });
    const id = ids['ms365-webhook-in']!;
    await openNodeDialog(page, id);
    const rows = page.locator('#ms365-webhook-subscriptions-list .red-ui-editableList-item-content');
    await rows.first().locator('.ms365-sub-resource').waitFor();
    assert.equal(await rows.count(), 2);
    assert.equal(await rows.nth(0).locator('.ms365-sub-type:checked').count(), 3);
    assert.equal(await rows.nth(1).locator('.ms365-sub-type:checked').count(), 1);
    assert.equal(await rows.nth(1).locator('.ms365-sub-expiration').inputValue(), '600');
    await clickDone();
    const saved = await page.evaluate((nid) => (window as unknown as RedWindow).RED.nodes.node(nid)?.subscriptions, id);
    assert.deepEqual(JSON.parse(String(saved)), [{ resource: 'me/contacts' }, { resource: 'me/drive/root', expirationMinutes: 600 }]);
  });

  it('poller: the interval in a unit (3 seconds shown for 0.05 minutes; 2 hours saved as 120 minutes); IANA time zones suggested, an unknown one refused with the reason', async () => {
    const ids = await importNodes({ 'ms365-poller': { interval: 0.05 } });
    const id = ids['ms365-poller']!;
    await openNodeDialog(page, id);
    assert.equal(await page.locator('#ms365-poller-every').inputValue(), '3');
    assert.equal(await page.locator('#ms365-poller-unit').inputValue(), 'seconds');
    await page.fill('#ms365-poller-every', '2');
    await page.selectOption('#ms365-poller-unit', 'hours');
    const zones = await page.$$eval('#ms365-poller-timezones option', (os) => os.map((o) => (o as HTMLOptionElement).value));
    assert.ok(zones.includes('Europe/Paris') && zones.includes('Asia/Tokyo') && zones.includes('UTC'), `suggested zones: ${zones.length}`);
    await page.fill('#node-input-timezone', 'Mars/Olympus_Mons');
    await page.locator('#node-input-timezone').dispatchEvent('change');
    const problem = page.locator('#ms365-poller-timezone-problem');
    await problem.waitFor({ state: 'visible' });
    assert.match(await problem.innerText(), /Unknown time zone "Mars\/Olympus_Mons"/);
    await page.fill('#node-input-timezone', 'Europe/Paris');
    await page.locator('#node-input-timezone').dispatchEvent('change');
    await problem.waitFor({ state: 'hidden' });
    await page.fill('#ms365-poller-every', '0.5');
    await page.selectOption('#ms365-poller-unit', 'seconds');
    await page.locator('#ms365-poller-interval-problem').waitFor({ state: 'visible' });
    assert.match(await page.locator('#ms365-poller-interval-problem').innerText(), /at least 1 second/);
    await page.fill('#ms365-poller-every', '2');
    await page.selectOption('#ms365-poller-unit', 'hours');
    await page.locator('#ms365-poller-interval-problem').waitFor({ state: 'hidden' });
    await clickDone();
    const saved = await page.evaluate((nid) => (window as unknown as RedWindow).RED.nodes.node(nid), id);
    assert.equal(Number(saved?.interval), 120);
    assert.equal(saved?.timezone, 'Europe/Paris');
    assert.notEqual(saved?.valid, false);
  });
});
