/**
 * The poller's "Watch" presets in a real editor (issue 16 item 1): headless Debian chromium (playwright-core) against
 * a real Node-RED process loading the packed package, with the simulated tenant in-process. From an empty flow: a
 * poller and a debug node from the palette, wired; "New mail in a folder" chosen, the folder picked with the picker
 * (no JSON typed), Done, Deploy; a mail created in that folder in the simulator shows up in the debug sidebar as
 * CREATED. The configuration the preset builds is shown read-only, and the dialog reopens on the preset. Then the
 * other presets (mail in the Inbox, a picked calendar, contacts, files in a picked drive folder) the same way; the
 * drive picker going into sub-folders and back up its breadcrumb; the calendar picker's "missing permission
 * Calendars.Read" and "sign in first".
 * Skips with a message when /usr/bin/chromium is absent (fails in CI).
 */
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { useSimulator } from '../support/simulator';
import type { NodeRedProcess } from '../support/nodered-process';
import { identityOf, SIM_CLIENT_ID, SIM_CLIENT_SECRET } from '../../src/simulator/identity';
import { clearNotifications, clickTrayDone, deployFlows, importFlow, nodeIdsOf, openNodeDialog, paletteDrop, screenshot, until, useEditor, wireNodes } from '../support/browser';

const VERSIONS = (process.env.MS365_BROWSER_NODE_RED || '4,5')
  .split(',')
  .map((v) => Number(v.trim()))
  .filter((v): v is 4 | 5 => v === 4 || v === 5);

interface RedWindow {
  RED: {
    nodes: { eachNode(cb: (n: { id: string; type: string; [k: string]: unknown }) => void): void; node(id: string): { editor?: { getValue(): string } } | null };
    actions: { invoke(action: string): void };
  };
}

for (const version of VERSIONS) describe(`poller Watch presets in headless chromium (Node-RED ${version === 4 ? '4.1' : '5'})`, function () {
  this.timeout(180_000);
  const editor = useEditor(version, { onFailure: (p) => screenshot(p, `failed-poller-presets-nr${version}`) });
  const sim = useSimulator();
  let red: NodeRedProcess;
  let page: Page;
  before(() => ({ red, page } = editor()));

  const dropFromPalette = (type: string, x: number, y: number) => paletteDrop(page, type, x, y);
  const nodeIds = (type: string) => nodeIdsOf(page, type);
  const wire = (from: string, to: string) => wireNodes(page, from, to);
  const deploy = () => deployFlows(page);
  const clickDone = () => clickTrayDone(page);

  const editorValue = (id: string) => page.evaluate((i) => (window as unknown as RedWindow).RED.nodes.node(i)?.editor?.getValue() ?? '', id);

  it('"New mail in a folder" from an empty flow with the picker, deployed: a new mail in the folder is a CREATED message in the debug sidebar', async () => {
    // The account: an app-only connector on the simulated tenant (a config node, as a user adds it once).
    const conn = 'presetconn1';
    await importFlow(page, [
      {
        id: conn, type: 'ms365-connector', name: 'Simulated tenant', elementKey: 'outlookemail', tenant: sim().state.tenantId, grantType: 'client_credentials',
        scope: '', callbackUrl: '', authorityHost: sim().authorityHost, graphBaseUrl: sim().graphBaseUrl, userId: sim().state.defaultUser.id, tags: '',
        credentials: { clientId: SIM_CLIENT_ID, clientSecret: SIM_CLIENT_SECRET },
      },
    ]);
    const poller = await dropFromPalette('ms365-poller', 200, 120);
    const debug = await dropFromPalette('debug', 450, 120);
    await wire(poller, debug);
    await until('the wire', () => page.evaluate(() => document.querySelectorAll('#red-ui-workspace-chart .red-ui-flow-link-path').length > 0));

    await openNodeDialog(page, poller);
    await page.selectOption('#node-input-connector', conn);
    assert.equal(await page.locator('#node-input-watch').inputValue(), 'newMail', 'a new poller opens on "New mail in a folder"');
    await page.locator('#ms365-poller-target-load').waitFor({ state: 'visible' });
    await page.locator('#ms365-poller-target-load').click();
    await until('the folders', async () => (await page.locator('#ms365-poller-target option').count()) > 1, 20_000);
    const options = await page.locator('#ms365-poller-target option').evaluateAll((els) => els.map((e) => [(e as HTMLOptionElement).value, e.textContent ?? '']));
    const sent = options.find(([, name]) => name === 'Sent Items');
    assert.ok(sent && sent[0], `no Sent Items among ${JSON.stringify(options)}`);
    await page.selectOption('#ms365-poller-target', sent[0]!);
    const config = await until('the configuration of the preset', async () => {
      const value = await editorValue(poller);
      return value.includes(sent[0]!) ? value : false;
    });
    assert.match(config, /"filterByUpdatedDate": false/);
    assert.match(config, /\/messages\?\$filter=receivedDateTime ge/);
    // Every 1 second (the unit select), so the event comes without waiting a quarter of an hour.
    await page.fill('#ms365-poller-every', '1');
    await page.selectOption('#ms365-poller-unit', 'seconds');
    await until('the next-poll preview of the folder', async () => (await page.locator('#ms365-poller-preview').innerText()).includes(sent[0]!.slice(0, 24)));
    await clearNotifications(page);
    await screenshot(page, `poller-watch-preset-nr${version}`, { selector: '.red-ui-tray' }, { docs: version === 4 });
    await clickDone();
    await deploy();

    // The poller's starting point is recorded at deploy; a mail a few (simulated) seconds later is new.
    await until('the poller to poll', async () => /\d event/.test(await page.locator(`g.red-ui-flow-node-group[id="${poller}"] .red-ui-flow-node-status-label`).textContent().catch(() => '') ?? ''), 30_000);
    sim().state.clock.advance(5_000);
    const mail = sim().state.graph.store.createMessage(sim().state.defaultUser.id, { subject: 'Preset test', folder: sent[0]! });
    await page.evaluate(() => (window as unknown as RedWindow).RED.actions.invoke('core:show-debug-tab'));
    const shown = await until('the CREATED message in the debug sidebar', async () => {
      const texts = await page.locator('.red-ui-debug-msg').allInnerTexts();
      return texts.find((t) => t.includes('CREATED') && t.includes(mail.id!.slice(0, 20)));
    }, 60_000);
    assert.match(shown, /messages/);

    // Reopened, the dialog is on the preset and the folder; the configuration is read-only.
    await openNodeDialog(page, poller);
    assert.equal(await page.locator('#node-input-watch').inputValue(), 'newMail');
    const stored = await page.evaluate((i) => { const n = (window as unknown as RedWindow).RED.nodes.node(i) as unknown as { watch: string; watchTarget: string }; return [n.watch, n.watchTarget]; }, poller);
    assert.deepEqual(stored, ['newMail', sent[0]], 'watch and watchTarget stored');
    await until('the folder kept', async () => (await page.locator('#ms365-poller-target').inputValue()) === sent[0]);
    assert.equal(await editorValue(poller), config);
  });

  /** The other presets, each from the palette to a CREATED message in the debug sidebar (uses the connector above). */
  const OTHERS: Array<{ watch: string; pick?: string; create: () => string }> = [
    { watch: 'mail', pick: 'Inbox', create: () => sim().state.graph.store.createMessage(sim().state.defaultUser.id, { subject: 'Mail preset' }).id! },
    {
      watch: 'calendar',
      pick: 'Calendar',
      create: () => sim().state.graph.store.createEvent(sim().state.defaultUser.id, { subject: 'Calendar preset', start: new Date(sim().state.clock.now() + 86_400_000).toISOString() }).id!,
    },
    { watch: 'contacts', create: () => sim().state.graph.store.createContact(sim().state.defaultUser.id, { displayName: 'Contact preset' }).id! },
    {
      watch: 'files',
      pick: 'Preset folder',
      create: () => {
        const store = sim().state.graph.store;
        const user = sim().state.defaultUser.id;
        const folder = [...store.user(user).driveItems.live()].find((e) => e.obj.name === 'Preset folder')!;
        return store.createDriveItem(user, { name: 'preset.txt', parentId: folder.id }).id!;
      },
    },
  ];
  OTHERS.forEach(({ watch, pick, create }, n) => {
    it(`"${watch}" from the palette, picked without JSON, deployed: a new object is a CREATED message in the debug sidebar`, async () => {
      if (watch === 'files') sim().state.graph.store.createDriveItem(sim().state.defaultUser.id, { name: 'Preset folder', folder: true });
      const poller = await dropFromPalette('ms365-poller', 200, 200 + 70 * n);
      const debug = await dropFromPalette('debug', 450, 200 + 70 * n);
      const links = await page.evaluate(() => document.querySelectorAll('#red-ui-workspace-chart .red-ui-flow-link-path').length);
      await wire(poller, debug);
      await until('the wire', () => page.evaluate((k) => document.querySelectorAll('#red-ui-workspace-chart .red-ui-flow-link-path').length > k, links));
      await openNodeDialog(page, poller);
      await page.selectOption('#node-input-connector', 'presetconn1');
      await page.selectOption('#node-input-watch', watch);
      if (pick) {
        await page.locator('#ms365-poller-target-load').waitFor({ state: 'visible' });
        await page.locator('#ms365-poller-target-load').click();
        await until('the picker', async () => (await page.locator('#ms365-poller-target option').count()) > 1, 20_000);
        const options = await page.locator('#ms365-poller-target option').evaluateAll((els) => els.map((e) => [(e as HTMLOptionElement).value, e.textContent ?? '']));
        const chosen = options.find(([, name]) => name === pick);
        assert.ok(chosen && chosen[0], `no ${pick} among ${JSON.stringify(options)}`);
        await page.selectOption('#ms365-poller-target', chosen[0]!);
        await until('the configuration to name the pick', async () => (await editorValue(poller)).includes(chosen[0]!));
        assert.equal(await page.locator('#ms365-poller-target-label').innerText(), { mail: 'Mail folder', calendar: 'Calendar', files: 'Drive folder' }[watch]);
        if (watch === 'calendar') assert.match(await editorValue(poller), new RegExp(`"/me/calendars/${chosen[0]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/calendarView/delta"`));
      } else {
        await until('the configuration of the preset', async () => (await editorValue(poller)).includes('/me/contacts?'));
        assert.equal(await page.locator('#ms365-poller-target-row').isVisible(), false, `${watch} takes no pick`);
      }
      await page.fill('#ms365-poller-every', '1');
      await page.selectOption('#ms365-poller-unit', 'seconds');
      await clickDone();
      await deploy();
      const status = `g.red-ui-flow-node-group[id="${poller}"] .red-ui-flow-node-status-label`;
      await until('the poller to poll', async () => /\d event/.test((await page.locator(status).textContent().catch(() => '')) ?? ''), 30_000);
      sim().state.clock.advance(5_000);
      const id = create();
      await page.evaluate(() => (window as unknown as RedWindow).RED.actions.invoke('core:show-debug-tab'));
      await until(`the CREATED ${watch} message in the debug sidebar`, async () => {
        const texts = await page.locator('.red-ui-debug-msg').allInnerTexts();
        return texts.find((t) => t.includes('CREATED') && t.includes(id.slice(0, 20)));
      }, 60_000);
    });
  });

  /** The picker's options as [value, text]. */
  const targetOptions = () => page.locator('#ms365-poller-target option').evaluateAll((els) => els.map((e) => [(e as HTMLOptionElement).value, e.textContent ?? '']));
  const listed = async (name: string) => (await targetOptions()).some(([, text]) => text === name);

  it('"files": Open goes into a folder and then its sub-folders, the breadcrumb goes back up; the picked sub-folder is what runs (a new file in it: CREATED)', async () => {
    const store = sim().state.graph.store;
    const user = sim().state.defaultUser.id;
    const projects = store.createDriveItem(user, { name: 'Projects', folder: true });
    const year = store.createDriveItem(user, { name: '2026', folder: true, parentId: projects.id });
    const reports = store.createDriveItem(user, { name: 'Reports', folder: true, parentId: year.id });
    store.createDriveItem(user, { name: 'plan.txt', parentId: projects.id });
    const poller = await dropFromPalette('ms365-poller', 200, 480);
    const debug = await dropFromPalette('debug', 450, 480);
    const links = await page.evaluate(() => document.querySelectorAll('#red-ui-workspace-chart .red-ui-flow-link-path').length);
    await wire(poller, debug);
    await until('the wire', () => page.evaluate((k) => document.querySelectorAll('#red-ui-workspace-chart .red-ui-flow-link-path').length > k, links));
    await openNodeDialog(page, poller);
    await page.selectOption('#node-input-connector', 'presetconn1');
    await page.selectOption('#node-input-watch', 'files');
    await page.locator('#ms365-poller-target-load').waitFor({ state: 'visible' });
    await until('the drive picker', async () => (await page.locator('#ms365-poller-target-label').innerText()) === 'Drive folder');
    await page.locator('#ms365-poller-target-load').click();
    await until('the top folders', () => listed('Projects'), 20_000);
    const crumbs = () => page.locator('#ms365-poller-crumbs').innerText();
    /** From Projects: Open 2026, pick Reports (`again` ends the names of the waits the second time). */
    const intoYearPickReports = async (again = '') => {
      await page.selectOption('#ms365-poller-target', year.id!);
      await page.locator('#ms365-poller-target-open').click();
      await until(`the folders of 2026${again}`, () => listed('Reports'), 20_000);
      await page.selectOption('#ms365-poller-target', reports.id!);
      await until(`Reports as the resource${again}`, async () => (await editorValue(poller)).includes(`/me/drive/items/${reports.id}/delta`));
    };
    assert.equal((await crumbs()).trim(), 'Drive');
    assert.equal(await page.locator('#ms365-poller-target-open').isDisabled(), true, 'Open is for a sub-folder');

    // Into Projects, then 2026; pick Reports.
    await page.selectOption('#ms365-poller-target', projects.id!);
    await until('Projects as the resource', async () => (await editorValue(poller)).includes(`/me/drive/items/${projects.id}/delta`));
    await page.locator('#ms365-poller-target-open').click();
    await until('the folders of Projects', () => listed('2026'), 20_000);
    assert.equal(await page.locator('#ms365-poller-target').inputValue(), projects.id, 'the opened folder stays the pick');
    assert.deepEqual((await targetOptions())[0], [projects.id, '(this folder: Projects)']);
    assert.equal(await listed('plan.txt'), false, 'a file is not offered: drive delta needs a folder');
    assert.equal((await crumbs()).trim(), 'Drive › Projects');
    await intoYearPickReports();
    assert.equal((await crumbs()).trim(), 'Drive › Projects › 2026');
    await clearNotifications(page);
    await screenshot(page, `poller-drive-folders-nr${version}`, { selector: '.red-ui-tray' });

    // Back up to Projects with the breadcrumb: Projects is the pick again; down again to Reports.
    await page.locator('#ms365-poller-crumbs a.ms365-crumb[data-depth="1"]').click();
    await until('the folders of Projects again', async () => (await listed('2026')) && !(await listed('Reports')), 20_000);
    await until('Projects as the resource again', async () => (await editorValue(poller)).includes(`/me/drive/items/${projects.id}/delta`));
    assert.equal((await crumbs()).trim(), 'Drive › Projects');
    await intoYearPickReports(' again');

    await page.fill('#ms365-poller-every', '1');
    await page.selectOption('#ms365-poller-unit', 'seconds');
    await clickDone();
    const stored = await page.evaluate((i) => { const n = (window as unknown as RedWindow).RED.nodes.node(i) as unknown as { watch: string; watchTarget: string; watchTargetName: string }; return [n.watch, n.watchTarget, n.watchTargetName]; }, poller);
    assert.deepEqual(stored, ['files', reports.id, 'Projects / 2026 / Reports']);
    await deploy();
    const status = `g.red-ui-flow-node-group[id="${poller}"] .red-ui-flow-node-status-label`;
    await until('the poller to poll', async () => /\d event/.test((await page.locator(status).textContent().catch(() => '')) ?? ''), 30_000);
    sim().state.clock.advance(5_000);
    const file = store.createDriveItem(user, { name: 'q4.xlsx', parentId: reports.id });
    await page.evaluate(() => (window as unknown as RedWindow).RED.actions.invoke('core:show-debug-tab'));
    await until('the CREATED file in the debug sidebar', async () => {
      const texts = await page.locator('.red-ui-debug-msg').allInnerTexts();
      return texts.find((t) => t.includes('CREATED') && t.includes(file.id!.slice(0, 20)));
    }, 60_000);

    // Reopened: the pick is shown by its path before any Load.
    await openNodeDialog(page, poller);
    await until('the saved pick', async () => (await page.locator('#ms365-poller-target').inputValue()) === reports.id);
    assert.equal(await page.locator('#ms365-poller-target option:checked').innerText(), 'Projects / 2026 / Reports');
  });

  it('"Events of a calendar": the calendar picker says "Missing permission Calendars.Read" for an app without it and "Sign in first" for a delegated connector before its sign-in', async () => {
    const app = identityOf(sim().state).registerApp({ appRoles: ['Mail.Read', 'Contacts.Read', 'Files.Read.All'] });
    const common = { type: 'ms365-connector', elementKey: 'office365', scope: '', callbackUrl: '', authorityHost: sim().authorityHost, graphBaseUrl: sim().graphBaseUrl, tags: '' };
    await importFlow(page, [
      { ...common, id: 'nocalconn', name: 'No calendar role', tenant: sim().state.tenantId, grantType: 'client_credentials', userId: sim().state.defaultUser.id, credentials: { clientId: app.clientId, clientSecret: app.clientSecret } },
      { ...common, id: 'signinconn', name: 'Not signed in', tenant: 'common', grantType: 'authorization_code', userId: '', credentials: { clientId: SIM_CLIENT_ID, clientSecret: SIM_CLIENT_SECRET } },
    ]);
    const poller = await dropFromPalette('ms365-poller', 650, 120);
    await openNodeDialog(page, poller);
    await page.selectOption('#node-input-connector', 'nocalconn');
    await page.selectOption('#node-input-watch', 'calendar');
    await page.locator('#ms365-poller-target-load').waitFor({ state: 'visible' });
    await until('the calendar picker', async () => (await page.locator('#ms365-poller-target-label').innerText()) === 'Calendar');
    assert.deepEqual(await targetOptions(), [['', '(the default calendar)']]);
    const note = page.locator('#ms365-poller-target-note');
    await page.locator('#ms365-poller-target-load').click();
    await until('the missing permission', async () => /^Missing permission Calendars\.Read\b/.test(await note.innerText()), 20_000);
    await clearNotifications(page);
    await screenshot(page, `poller-calendar-missing-permission-nr${version}`, { selector: '.red-ui-tray' });
    await page.selectOption('#node-input-connector', 'signinconn');
    await page.locator('#ms365-poller-target-load').click();
    await until('"sign in first"', async () => /^Sign in first\b/.test(await note.innerText()), 20_000);
    assert.deepEqual(await targetOptions(), [['', '(the default calendar)']], 'nothing listed');
    // Leave no half-configured poller behind (later deploys would ask about it).
    await page.locator('.red-ui-tray').last().locator('#node-dialog-delete').click();
    await until('the poller removed', async () => !(await nodeIds('ms365-poller')).includes(poller));
  });
});
