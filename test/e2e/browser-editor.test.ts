/**
 * The editor in a real browser (issue 8; `reference/node-red.md` §4 "Editor"): headless Debian chromium driven by
 * playwright-core against a real Node-RED 4.1 process that loads the packed package, with the simulated Microsoft
 * tenant (src/simulator) in-process. Skips with a message when /usr/bin/chromium is absent (fails in CI).
 * Screenshots go to .artifacts/screenshots/ (git-ignored); `UPDATE_SCREENSHOTS=1` also copies them to docs/screenshots/.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { useSimulator } from '../support/simulator';
import { SIM_CLIENT_ID, SIM_CLIENT_SECRET } from '../../src/simulator/identity';
import {
  ROOT,
  importFlow,
  invalidFields,
  openEditor,
  openNodeDialog,
  screenshot,
  startEditorNodeRed,
  until,
  useChromium,
  type EditorNodeRed,
} from '../support/browser';

/** Palette types of the flow nodes, with the category they must appear under (CONTRACT.md, "Package"). */
const FLOW_NODE_TYPES = ['ms365-poller', 'ms365-webhook-in', 'ms365-callback-out'];
const CATEGORY = 'Microsoft 365';

interface RedWindow {
  RED: {
    nodes: {
      node(id: string): { valid?: boolean; dirty?: boolean; [k: string]: unknown } | null;
      getType(t: string): { defaults?: Record<string, { required?: boolean; validate?: unknown }> } | undefined;
      eachConfig(cb: (n: { id: string; type: string }) => void): void;
    };
    editor: { editConfig(name: string, type: string, id: string, prefix: string): void };
    actions: { invoke(action: string): void };
  };
}

describe('editor in headless chromium (Node-RED 4.1, packed package, simulated tenant)', function () {
  this.timeout(120_000);
  const browser = useChromium();
  const sim = useSimulator();
  let red: EditorNodeRed | undefined;
  let page: Page;
  let flowCount = 0;

  before(async function () {
    this.timeout(90_000);
    red = await startEditorNodeRed();
    page = await browser().context.newPage();
    await openEditor(page, red.url);
  });

  after(async function () {
    this.timeout(20_000);
    await page?.close().catch(() => undefined);
    await red?.stop();
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed' && red) console.log(`--- Node-RED log ---\n${red.log().slice(-4000)}`);
  });

  /** A connector config node pointed at the simulator (delegated: the sign-in button is shown). */
  function connectorNode(id: string) {
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
    };
  }

  /** Imports nodes into the current tab with fresh ids (suffix per import), returns the id map. */
  async function importNodes(nodes: Array<Record<string, unknown>>): Promise<(id: string) => string> {
    const suffix = `x${++flowCount}`;
    const rename = (id: string) => `${id}${suffix}`;
    const renamed = nodes.map((n) => {
      const copy: Record<string, unknown> = { ...n, id: rename(n.id as string) };
      if (typeof copy.connector === 'string') copy.connector = rename(copy.connector);
      if (copy.type !== 'ms365-connector' && copy.x === undefined) Object.assign(copy, { x: 200, y: 80 * flowCount });
      return copy;
    });
    await importFlow(page, renamed);
    await page.waitForFunction((ids) => ids.every((i) => (window as unknown as RedWindow).RED.nodes.node(i)), renamed.map((n) => n.id as string));
    return rename;
  }

  async function clickDone(): Promise<void> {
    const trays = await page.locator('.red-ui-tray').count();
    await page.locator('#node-dialog-ok, #node-config-dialog-ok').last().click();
    await until('the edit tray to close', async () => (await page.locator('.red-ui-tray').count()) < trays);
  }

  /** Deploys with the Deploy button; resolves when Node-RED reports success. Fails on the "not properly configured" prompt. */
  async function deploy(): Promise<void> {
    await page.locator('#red-ui-header-button-deploy').click();
    const result = await until('the deploy to finish', async () => {
      if (await page.locator('.red-ui-notification', { hasText: /Successfully deployed/ }).count()) return 'ok';
      const confirm = page.locator('.red-ui-notification', { hasText: /not properly configured|unknown type|invalid/i });
      if (await confirm.count()) return `prompt: ${(await confirm.first().innerText()).replace(/\s+/g, ' ')}`;
      return false;
    }, 20_000);
    assert.equal(result, 'ok', `deploy did not succeed cleanly: ${result}`);
    await page.locator('.red-ui-notification', { hasText: /Successfully deployed/ }).first().waitFor({ state: 'detached', timeout: 10_000 }).catch(() => undefined);
  }

  it('palette shows ms365 poll, webhook-in and callback-out under "Microsoft 365"', async () => {
    const header = page.locator('#red-ui-palette-header-Microsoft_365');
    await header.waitFor({ state: 'visible' });
    assert.match(await header.innerText(), new RegExp(CATEGORY));
    const types = await page.$$eval('#red-ui-palette-base-category-Microsoft_365 .red-ui-palette-node', (els) =>
      els.map((e) => e.getAttribute('data-palette-type')),
    );
    assert.deepEqual([...types].sort(), [...FLOW_NODE_TYPES].sort());
    await screenshot(page, 'palette', { selector: '#red-ui-palette-container-Microsoft_365' });
    await screenshot(page, 'editor');
  });

  it('connector dialog: app-only without a user id is marked red; "Sign in with Microsoft" signs in against the simulator; Done and deploy', async () => {
    const rename = await importNodes([connectorNode('conn')]);
    const id = rename('conn');
    await page.evaluate((cid) => (window as unknown as RedWindow).RED.editor.editConfig('', 'ms365-connector', cid, 'node-input'), id);
    await page.locator('#node-config-input-clientId').waitFor({ state: 'visible' });

    // Validator: client_credentials needs a user id (CONTRACT.md, ms365-connector `userId`).
    await page.selectOption('#node-config-input-grantType', 'client_credentials');
    await page.fill('#node-config-input-userId', '');
    await page.locator('#node-config-input-userId').dispatchEvent('change');
    assert.ok((await invalidFields(page)).includes('node-config-input-userId'), 'empty user id with app-only is not marked red');
    await page.fill('#node-config-input-userId', sim().state.defaultUser.id);
    await page.locator('#node-config-input-userId').dispatchEvent('change');
    assert.ok(!(await invalidFields(page)).includes('node-config-input-userId'), 'a user id is still marked red');
    await page.selectOption('#node-config-input-grantType', 'authorization_code');

    // The redirect URI to register is shown.
    const redirect = await page.locator('#node-config-ms365-redirect').innerText();
    assert.equal(redirect, `${red!.url}ms365-connector/auth/callback`);

    await page.fill('#node-config-input-clientId', SIM_CLIENT_ID);
    await page.fill('#node-config-input-clientSecret', SIM_CLIENT_SECRET);
    await screenshot(page, 'connector-dialog', { selector: '.red-ui-tray' });

    const popupPromise = page.context().waitForEvent('page', { timeout: 15_000 });
    await page.locator('#node-config-ms365-signin').click();
    const popup = await popupPromise;
    await popup.waitForURL(/ms365-connector\/auth\/callback/, { timeout: 15_000 });
    await popup.locator('h1').waitFor();
    assert.equal(await popup.locator('h1').innerText(), 'Signed in to Microsoft 365');
    const status = page.locator('#node-config-ms365-status');
    await until('the dialog to show signed in', async () => /signed in as/i.test(await status.innerText()), 15_000);
    assert.match(await status.innerText(), new RegExp(`signed in as ${sim().state.defaultUser.userPrincipalName}`, 'i'));
    await screenshot(page, 'connector-signed-in', { selector: '.red-ui-tray' });
    await popup.close().catch(() => undefined);

    await clickDone();
    await deploy();
    // The deployed connector uses the sign-in: the status route (admin API) says so.
    const res = await page.evaluate(async (cid) => (await fetch(`ms365-connector/${cid}/auth/status`)).json(), id);
    assert.equal(res.authorized, true);
    assert.equal(res.account, sim().state.defaultUser.userPrincipalName);
  });
});
