/**
 * The webhook-in's resource picker in a real editor (issue 16, item 3): headless Debian chromium (playwright-core)
 * against a real Node-RED process loading the packed package, the simulated tenant in-process. From the palette: a
 * webhook-in whose subscription rows are filled with the picker (no resource typed): mail of a folder listed from
 * the connector's account ("Load folders"), the drive root (change types limited to "updated"); Done, Deploy: the
 * simulated Graph records both subscriptions (for the app-only connector, `me/` as `users/{id}/`). A resource typed
 * by hand is kept. A picker error other than sign-in / permission (no client id) is said in the editor's words.
 * Skips with a message when /usr/bin/chromium is absent (fails in CI).
 */
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { useSimulator } from '../support/simulator';
import type { NodeRedProcess } from '../support/nodered-process';
import { SIM_CLIENT_ID, SIM_CLIENT_SECRET } from '../../src/simulator/identity';
import { subscriptionsOf } from '../../src/simulator/subscriptions';
import { clearNotifications, clickTrayDone, deployFlows, importFlow, openNodeDialog, paletteDrop, screenshot, until, useEditor } from '../support/browser';

const VERSIONS = (process.env.MS365_BROWSER_NODE_RED || '4,5')
  .split(',')
  .map((v) => Number(v.trim()))
  .filter((v): v is 4 | 5 => v === 4 || v === 5);

interface RedWindow {
  RED: { nodes: { node(id: string): Record<string, unknown> | null } };
}

for (const version of VERSIONS) describe(`webhook-in resource picker in headless chromium (Node-RED ${version === 4 ? '4.1' : '5'})`, function () {
  this.timeout(180_000);
  const editor = useEditor(version, { onFailure: (p) => screenshot(p, `failed-webhook-picker-nr${version}`) });
  const sim = useSimulator();
  let red: NodeRedProcess;
  let page: Page;
  before(() => ({ red, page } = editor()));

  const rows = () => page.locator('#ms365-webhook-subscriptions-list .red-ui-editableList-item-content');
  const options = (row: ReturnType<typeof rows>, select: string) =>
    row.locator(select).locator('option').evaluateAll((els) => els.map((e) => [(e as HTMLOptionElement).value, e.textContent ?? '']));

  it('rows filled with the picker (a mail folder loaded from the account, the drive root), deployed: the simulator records both subscriptions', async () => {
    const user = sim().state.defaultUser.id;
    await importFlow(page, [
      {
        id: 'hookconn', type: 'ms365-connector', name: 'Simulated tenant', elementKey: 'office365', tenant: sim().state.tenantId, grantType: 'client_credentials',
        scope: '', callbackUrl: '', authorityHost: sim().authorityHost, graphBaseUrl: sim().graphBaseUrl, userId: user, tags: '',
        credentials: { clientId: SIM_CLIENT_ID, clientSecret: SIM_CLIENT_SECRET },
      },
    ]);
    const hook = await paletteDrop(page, 'ms365-webhook-in', 200, 120);
    await openNodeDialog(page, hook);
    await page.selectOption('#node-input-connector', 'hookconn');
    await page.fill('#node-input-notificationUrl', red.url.replace(/\/$/, ''));
    await page.fill('#node-input-path', '/ms365/picker');
    // Typed as a user does (the URLs under the field follow on keyup; a later blur would move the rows under the mouse).
    await page.locator('#node-input-path').press('End');
    await page.locator('#node-input-notificationUrl').press('End');
    await rows().first().locator('.ms365-sub-resource').waitFor();
    assert.equal(await rows().count(), 1, 'a new node has its default row');

    // Row 1 (me/messages by default): Pick shows it as "Mail in a folder", every folder.
    const first = rows().nth(0);
    await first.locator('.ms365-sub-pick').click();
    assert.equal(await first.locator('.ms365-sub-kind').inputValue(), 'mail');
    assert.equal(await first.locator('.ms365-sub-folder').inputValue(), '*');
    // A folder of the account, listed through the connector (not deployed yet: its dialog values).
    await first.locator('.ms365-sub-load').click();
    await until('the mail folders', async () => (await options(first, '.ms365-sub-folder')).some(([, name]) => name === 'Sent Items'), 20_000);
    const sent = (await options(first, '.ms365-sub-folder')).find(([, name]) => name === 'Sent Items')![0]!;
    await first.locator('.ms365-sub-folder').selectOption(sent);
    assert.equal(await first.locator('.ms365-sub-resource').inputValue(), `me/mailFolders('${sent}')/messages`);

    // Row 2, added: the picker is open; the drive root limits the change types to "updated".
    await page.locator('.red-ui-tray .red-ui-editableList-addButton').first().click();
    await until('a second row', async () => (await rows().count()) === 2);
    const second = rows().nth(1);
    assert.ok(await second.locator('.ms365-sub-picker').isVisible(), 'a new row opens with its picker');
    await second.locator('.ms365-sub-kind').selectOption('drive');
    assert.equal(await second.locator('.ms365-sub-resource').inputValue(), 'me/drive/root');
    assert.equal(await second.locator('.ms365-sub-folder').isVisible(), false, 'no folder for the drive root');
    const types = await second.locator('.ms365-sub-type').evaluateAll((els) => els.map((e) => [(e as HTMLInputElement).value, (e as HTMLInputElement).checked, (e as HTMLInputElement).disabled]));
    assert.deepEqual(types, [['created', false, true], ['updated', true, false], ['deleted', false, true]]);
    // To contacts and back: every change type again, then "updated" only again.
    const typesOf = () => second.locator('.ms365-sub-type').evaluateAll((els) => els.map((e) => [(e as HTMLInputElement).value, (e as HTMLInputElement).checked, (e as HTMLInputElement).disabled]));
    await second.locator('.ms365-sub-kind').selectOption('contacts');
    assert.equal(await second.locator('.ms365-sub-resource').inputValue(), 'me/contacts');
    assert.deepEqual(await typesOf(), [['created', true, false], ['updated', true, false], ['deleted', true, false]]);
    await second.locator('.ms365-sub-kind').selectOption('drive');
    assert.deepEqual(await typesOf(), types);

    // Row 3: typed by hand (the picker says so, and leaves it as typed); then removed again.
    await page.locator('.red-ui-tray .red-ui-editableList-addButton').first().click();
    await until('a third row', async () => (await rows().count()) === 3);
    const third = rows().nth(2);
    await third.locator('.ms365-sub-resource').fill('me/mailFolders/inbox/messages?$filter=isRead eq false');
    assert.equal(await third.locator('.ms365-sub-kind').inputValue(), '', 'a query makes it a typed resource');
    assert.equal(await third.locator('.ms365-sub-resource').inputValue(), 'me/mailFolders/inbox/messages?$filter=isRead eq false');
    await third.locator('.ms365-sub-kind').selectOption('events');
    assert.equal(await third.locator('.ms365-sub-resource').inputValue(), 'me/events');
    await page.locator('#ms365-webhook-subscriptions-list .red-ui-editableList-item-remove').nth(2).click();
    await until('two rows again', async () => (await rows().count()) === 2);

    await clearNotifications(page);
    await screenshot(page, `webhook-picker-nr${version}`, { selector: '.red-ui-tray' }, { docs: version === 4 });
    await clickTrayDone(page);
    const saved = await page.evaluate((id) => (window as unknown as RedWindow).RED.nodes.node(id)?.subscriptions, hook);
    assert.deepEqual(JSON.parse(String(saved)), [
      { resource: `me/mailFolders('${sent}')/messages`, changeType: 'created,updated,deleted' },
      { resource: 'me/drive/root', changeType: 'updated' },
    ]);
    await deployFlows(page);

    const want = [`users/${user}/mailFolders('${sent}')/messages`, `users/${user}/drive/root`];
    const subs = await until('both subscriptions in the simulator', () => {
      const all = [...subscriptionsOf(sim().state).all.values()];
      return want.every((r) => all.some((s) => s.resource.replace(/^\/+/, '') === r)) ? all : false;
    }, 30_000);
    const mail = subs.find((s) => s.resource.includes('mailFolders'))!;
    assert.equal(mail.folderId, sent, 'the picked folder');
    assert.equal(mail.changeType, 'created,updated,deleted');
    assert.equal(subs.find((s) => s.resource.endsWith('drive/root'))!.changeType, 'updated');
    assert.ok(mail.notificationUrl.startsWith(`${red.url.replace(/\/$/, '')}/ms365/picker`), mail.notificationUrl);

    // Reopened: the rows show their picks.
    await openNodeDialog(page, hook);
    await rows().first().locator('.ms365-sub-pick').click();
    assert.equal(await rows().first().locator('.ms365-sub-kind').inputValue(), 'mail');
    assert.equal(await rows().first().locator('.ms365-sub-folder').inputValue(), sent);
    await rows().nth(1).locator('.ms365-sub-pick').click();
    assert.equal(await rows().nth(1).locator('.ms365-sub-kind').inputValue(), 'drive');
  });

  it('"Load folders" of a connector without a client id says so in the editor\'s words (not the runtime\'s English setting name)', async () => {
    await importFlow(page, [
      {
        id: 'noclientconn', type: 'ms365-connector', name: 'No client id', elementKey: 'outlookemail', tenant: sim().state.tenantId, grantType: 'client_credentials',
        scope: '', callbackUrl: '', authorityHost: sim().authorityHost, graphBaseUrl: sim().graphBaseUrl, userId: sim().state.defaultUser.id, tags: '',
      },
    ], { x: 150, y: 300 });
    const hook = await paletteDrop(page, 'ms365-webhook-in', 450, 300);
    await openNodeDialog(page, hook);
    await page.selectOption('#node-input-connector', 'noclientconn');
    const row = rows().first();
    await row.locator('.ms365-sub-pick').click();
    await row.locator('.ms365-sub-load').click();
    const note = row.locator('.ms365-sub-note');
    await until('the refusal', async () => (await note.innerText()) === "Enter the connector's application (client) ID first.", 20_000);
    await page.locator('.red-ui-tray').last().locator('#node-dialog-delete').click();
  });
});
