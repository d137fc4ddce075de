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
import type { NodeRedProcess } from '../support/nodered-process';
import { SIM_CLIENT_ID, SIM_CLIENT_SECRET } from '../../src/simulator/identity';
import {
  ROOT,
  clearNotifications,
  closeTrays,
  importFlow,
  invalidFields,
  openEditor,
  openNodeDialog,
  screenshot,
  until,
  useEditor,
} from '../support/browser';

/** Palette types of the flow nodes, with the category they must appear under (CONTRACT.md, "Package"). */
const FLOW_NODE_TYPES = ['ms365-poller', 'ms365-webhook-in', 'ms365-callback-out'];
const CATEGORY = 'Microsoft 365';

/** The bits of jQuery the validator check uses in the page. */
interface JQueryLike {
  length: number;
  val(v?: unknown): unknown;
  trigger(e: string): void;
  data(k: string): unknown;
  typedInput(m: string, v?: unknown): unknown;
  hasClass(c: string): boolean;
  is(selector: string): boolean;
  next(s: string): { hasClass(c: string): boolean };
}

interface RedWindow {
  RED: {
    nodes: {
      node(id: string): { valid?: boolean; dirty?: boolean; [k: string]: unknown } | null;
      getType(t: string): { defaults?: Record<string, { required?: boolean; validate?: unknown; type?: string }> } | undefined;
      eachConfig(cb: (n: { id: string; type: string }) => void): void;
    };
    editor: { editConfig(name: string, type: string, id: string, prefix: string): void };
    actions: { invoke(action: string): void };
  };
}

/**
 * Node-RED majors to test in the browser: `MS365_BROWSER_NODE_RED=4,5` (default both; the harness installs Node-RED 5
 * and its Node 22 on first use, `.ci/run` beforehand).
 */
const VERSIONS = (process.env.MS365_BROWSER_NODE_RED || '4,5')
  .split(',')
  .map((v) => Number(v.trim()))
  .filter((v): v is 4 | 5 => v === 4 || v === 5);

for (const version of VERSIONS) describe(`editor in headless chromium (Node-RED ${version === 4 ? '4.1' : '5'}, packed package, simulated tenant)`, function () {
  this.timeout(120_000);
  const editor = useEditor(version, {
    logTail: 4000,
    onFailure: (_page, title) => shot(`failed-${title.replace(/[^A-Za-z0-9-]+/g, '_').slice(0, 60)}`),
  });
  const browser = () => editor().browser;
  const sim = useSimulator();
  let red: NodeRedProcess;
  let page: Page;
  let flowCount = 0;
  /** Screenshot of this version (Node-RED 5 ones prefixed `nr5-`); the 4.1 pictures of the palette and dialogs go to the README. */
  const shot = async (name: string, clip?: { selector: string }, docs = false) => {
    if (!name.startsWith('failed-')) await clearNotifications(page); // they cover the tray's top
    return screenshot(page, version === 4 ? name : `nr5-${name}`, clip, { docs: docs && version === 4 });
  };

  before(() => ({ red, page } = editor()));

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
      return copy;
    });
    await importFlow(page, renamed, { x: 150, y: 40 + 60 * flowCount });
    await page.waitForFunction((ids) => ids.every((i) => (window as unknown as RedWindow).RED.nodes.node(i)), renamed.map((n) => n.id as string));
    return rename;
  }

  async function clickDone(): Promise<void> {
    const trays = await page.locator('.red-ui-tray').count();
    await clearNotifications(page); // a notification over the tray's buttons would take the click
    await page.locator('.red-ui-tray').last().locator('#node-dialog-ok, #node-config-dialog-ok').click();
    await until('the edit tray to close', async () => (await page.locator('.red-ui-tray').count()) < trays);
  }

  /**
   * In the open dialog, sets each checked field to an invalid value and back: reports fields the validators did not
   * mark red, and valid values still marked red. Checked: the fields of `invalid` and every `required` property that
   * have an input (`#<prefix>-<field>`) and a validator (`required` or `validate` in the type's defaults).
   */
  async function checkValidators(type: string, prefix: string, invalid: Record<string, string>) {
    return page.evaluate(
      ({ type, prefix, invalid }) => {
        const w = window as unknown as RedWindow & { $: (sel: string) => JQueryLike };
        const $ = w.$;
        const defaults = w.RED.nodes.getType(type)?.defaults ?? {};
        const setValue = (field: string, v: unknown) => {
          const el = $(`#${prefix}-${field}`);
          if (el.data('noderedTypedInput')) el.typedInput('value', v);
          else el.val(v);
          el.trigger('change');
        };
        const isRed = (field: string) => {
          const el = $(`#${prefix}-${field}`);
          return el.hasClass('input-error') || el.next('.red-ui-typedInput-container').hasClass('input-error');
        };
        const checked: string[] = [];
        const notRed: string[] = [];
        const stillRed: string[] = [];
        const noValidator: string[] = [];
        const noInput: string[] = [];
        const fields = new Set([...Object.keys(invalid), ...Object.keys(defaults).filter((k) => defaults[k].required)]);
        for (const field of fields) {
          if (!$(`#${prefix}-${field}`).length) {
            noInput.push(field);
            continue;
          }
          const def = defaults[field];
          // A property holding a config node (`type`) is validated by Node-RED itself: none or "Add new..." is invalid.
          if (!def || !(def.required || def.validate || def.type)) {
            noValidator.push(field);
            continue;
          }
          const el = $(`#${prefix}-${field}`);
          // Hidden inputs (kept in step with an editor widget by the dialog's own code) are not what a user edits.
          if (!el.data('noderedTypedInput') && !el.is(':visible')) {
            noInput.push(`${field} (hidden)`);
            continue;
          }
          // A user cannot empty a plain <select>: required selects are checked only when `invalid` names them.
          if (!(field in invalid) && el.is('select')) continue;
          const bad = field in invalid ? invalid[field] : '';
          const good = el.data('noderedTypedInput') ? el.typedInput('value') : el.val();
          setValue(field, bad);
          checked.push(field);
          if (!isRed(field)) notRed.push(`${field}=${JSON.stringify(bad)}`);
          setValue(field, good);
          if (isRed(field)) stillRed.push(`${field}=${JSON.stringify(good)}`);
        }
        return { checked, notRed, stillRed, noValidator, noInput };
      },
      { type, prefix, invalid },
    );
  }

  /** Deploys with the Deploy button: the admin API must accept the flows (200), with no "not properly configured" prompt. */
  async function deploy(): Promise<void> {
    const posted = page.waitForResponse((r) => /\/flows$/.test(new URL(r.url()).pathname) && r.request().method() === 'POST', { timeout: 20_000 });
    // Under load the header shade of the previous action can still be fading out and catch the click: wait for it,
    // and if the click is still intercepted, invoke the same editor action the button runs.
    await page.locator('#red-ui-header-shade').waitFor({ state: 'hidden', timeout: 10_000 }).catch(() => undefined);
    await page
      .locator('#red-ui-header-button-deploy')
      .click({ timeout: 10_000 })
      .catch(() => page.evaluate('RED.actions.invoke("core:deploy-flows")'));
    const result = await until('the deploy to finish', async () => {
      const prompt = page.locator('.red-ui-notification', { hasText: /not properly configured|unknown type|invalid/i });
      if (await prompt.count()) {
        const text = (await prompt.first().innerText()).replace(/\s+/g, ' ');
        await prompt.first().getByRole('button', { name: 'Cancel' }).click().catch(() => undefined);
        return `prompt: ${text}`;
      }
      const res = await Promise.race([posted, new Promise<undefined>((resolve) => setTimeout(resolve, 100))]);
      return res ? `HTTP ${res.status()}` : false;
    }, 20_000);
    assert.equal(result, 'HTTP 200', `deploy did not succeed cleanly: ${result}`);
    await page.locator('#red-ui-header-shade').waitFor({ state: 'hidden', timeout: 10_000 });
  }

  it('palette shows ms365 poll, webhook-in and callback-out under "Microsoft 365"', async () => {
    const header = page.locator('#red-ui-palette-header-Microsoft_365');
    await header.waitFor({ state: 'visible' });
    assert.match(await header.innerText(), new RegExp(CATEGORY));
    const types = await page.$$eval('#red-ui-palette-base-category-Microsoft_365 .red-ui-palette-node', (els) =>
      els.map((e) => e.getAttribute('data-palette-type')),
    );
    assert.deepEqual([...types].sort(), [...FLOW_NODE_TYPES].sort());
    await shot('palette', { selector: '#red-ui-palette-container-Microsoft_365' }, true);
    await shot('editor');
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
    // Every required setting of the connector, emptied, is marked red; back to its value, it is not.
    const report = await checkValidators('ms365-connector', 'node-config-input', {});
    console.log(`      ms365-connector: validators checked [${report.checked.join(', ')}]`);
    assert.deepEqual(report.notRed, [], 'invalid values not marked red in the connector dialog');
    assert.deepEqual(report.stillRed, [], 'valid values still marked red in the connector dialog');
    assert.ok(report.checked.length >= 3, `too few connector fields checked: ${report.checked.join(', ')}`);

    // The redirect URI to register is shown.
    const redirect = await page.locator('#node-config-ms365-redirect').innerText();
    assert.equal(redirect, `${red!.url}ms365-connector/auth/callback`);

    await page.fill('#node-config-input-clientId', SIM_CLIENT_ID);
    await page.fill('#node-config-input-clientSecret', SIM_CLIENT_SECRET);
    await shot('connector-dialog', { selector: '.red-ui-tray' });

    const popupPromise = page.context().waitForEvent('page', { timeout: 15_000 });
    await page.locator('#node-config-ms365-signin').click();
    const popup = await popupPromise;
    await popup.waitForURL(/ms365-connector\/auth\/callback/, { timeout: 15_000 });
    await popup.locator('h1').waitFor();
    assert.equal(await popup.locator('h1').innerText(), 'Signed in to Microsoft 365');
    const status = page.locator('#node-config-ms365-status');
    await until('the dialog to show signed in', async () => /signed in as/i.test(await status.innerText()), 15_000);
    assert.match(await status.innerText(), new RegExp(`signed in as ${sim().state.defaultUser.userPrincipalName}`, 'i'));
    await shot('connector-signed-in', { selector: '.red-ui-tray' }, true);
    await popup.close().catch(() => undefined);

    await clickDone();
    await deploy();
    // The deployed connector uses the sign-in: the status route (admin API) says so.
    const res = await until(
      'the deployed connector to report authorized',
      async () => {
        const s = await page.evaluate(async (cid) => (await fetch(`ms365-connector/${cid}/auth/status`)).json(), id);
        return s.authorized ? s : false;
      },
      10_000,
    );
    assert.equal(res.account, sim().state.defaultUser.userPrincipalName);
    // Secrets stay out of what the editor can export (CONTRACT.md, credentials; TARGETS.md, secrets).
    const exported = await page.evaluate(async () => {
      const w = window as unknown as { RED: { nodes: { createCompleteNodeSet(opts?: unknown): unknown } } };
      return JSON.stringify(w.RED.nodes.createCompleteNodeSet({ credentials: false })) + JSON.stringify(await (await fetch('flows')).json());
    });
    assert.ok(!exported.includes(SIM_CLIENT_SECRET), 'the client secret appears in the exported flow or GET /flows');
    assert.ok(!/refresh_?token|access_?token/i.test(exported), 'a token appears in the exported flow or GET /flows');
  });
  it('connector dialog: a sign-in Microsoft refuses (access_denied) shows "Sign-in failed" in the dialog', async () => {
    const rename = await importNodes([connectorNode('denied')]);
    const id = rename('denied');
    await page.evaluate((cid) => (window as unknown as RedWindow).RED.editor.editConfig('', 'ms365-connector', cid, 'node-input'), id);
    await page.locator('#node-config-input-clientId').waitFor({ state: 'visible' });
    await page.fill('#node-config-input-clientId', SIM_CLIENT_ID);
    await page.fill('#node-config-input-clientSecret', SIM_CLIENT_SECRET);
    const fault = await fetch(`${sim().controlUrl}/identity/faults`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ kind: 'authorizeError', error: 'access_denied' }),
    });
    assert.ok(fault.ok, `simulator fault: HTTP ${fault.status}`);
    const popupPromise = page.context().waitForEvent('page', { timeout: 15_000 });
    await page.locator('#node-config-ms365-signin').click();
    const popup = await popupPromise;
    await popup.waitForURL(/ms365-connector\/auth\/callback/, { timeout: 15_000 });
    await popup.locator('h1').waitFor();
    assert.equal(await popup.locator('h1').innerText(), 'Microsoft sign-in failed');
    await popup.close().catch(() => undefined);
    const status = page.locator('#node-config-ms365-status');
    await until('the dialog to show the failure', async () => /sign-in failed/i.test(await status.innerText()), 15_000);
    assert.match(await status.innerText(), /access_denied/);
    await shot('connector-sign-in-failed', { selector: '.red-ui-tray' });
    await closeTrays(page);
  });

  /**
   * The flow nodes: valid settings from CONTRACT.md, and values their validators must reject. A field is checked
   * when the dialog has an input for it and the type declares a validator (`required` or `validate`) for it; fields
   * without one are listed in the test output (a gap to report to the dialog's owner).
   */
  const FLOW_NODES: Array<{ type: string; node: Record<string, unknown>; invalid: Record<string, string> }> = [
    {
      type: 'ms365-poller',
      node: {
        id: 'poll',
        type: 'ms365-poller',
        name: 'New mail',
        connector: 'conn',
        interval: 15,
        timezone: 'UTC',
        configuration: JSON.stringify({ messages: { url: '/me/mailFolders/inbox/messages/delta', idField: 'id' } }, null, 2),
        pollOnStart: false,
        wires: [[]],
      },
      invalid: { connector: '_ADD_', interval: 'abc', timezone: 'Mars/Olympus_Mons', configuration: '{"messages": {' },
    },
    {
      type: 'ms365-webhook-in',
      // `subscriptions` as the dialog stores it (a JSON string); its validator marks CONTRACT.md's array form invalid.
      node: {
        id: 'hook',
        type: 'ms365-webhook-in',
        name: 'Mail webhook',
        connector: 'conn',
        path: '/ms365/notifications',
        notificationUrl: 'https://nodered.example.com',
        subscriptions: '[{"resource":"me/messages","changeType":"created,updated,deleted"}]',
        fetchResource: true,
        wires: [[], []],
      },
      invalid: { connector: '_ADD_', path: '', notificationUrl: 'not a url', subscriptions: '[{"changeType":"created"}]' },
    },
    {
      type: 'ms365-callback-out',
      node: { id: 'cb', type: 'ms365-callback-out', name: 'Callback', url: 'http://127.0.0.1:9/callback', batchSize: 10, retries: 5, wires: [[], []] },
      invalid: { url: 'not a url', batchSize: '0', retries: 'five' },
    },
  ];

  for (const spec of FLOW_NODES) {
    it(`${spec.type} dialog: opens, validators mark invalid values red, Done saves a valid node`, async () => {
      const nodes: Array<Record<string, unknown>> = [spec.node];
      if (spec.node.connector) nodes.push(connectorNode('conn'));
      const rename = await importNodes(nodes);
      const id = rename(spec.node.id as string);
      await openNodeDialog(page, id);
      await shot(`dialog-${spec.type}`, { selector: '.red-ui-tray' }, true);

      const report = await checkValidators(spec.type, 'node-input', spec.invalid);
      console.log(`      ${spec.type}: validators checked [${report.checked.join(', ')}]; no validator [${report.noValidator.join(', ')}]; no input [${report.noInput.join(', ')}]`);
      assert.deepEqual(report.notRed, [], `invalid values not marked red in the ${spec.type} dialog`);
      assert.deepEqual(report.stillRed, [], `valid values still marked red in the ${spec.type} dialog`);

      const errorsBefore = browser().pageErrors.length;
      await clickDone();
      const errors = browser().pageErrors.slice(errorsBefore);
      assert.deepEqual(errors, [], `the editor raised errors while saving: ${errors.join('; ')}`);
      const saved = await page.evaluate((nid) => (window as unknown as RedWindow).RED.nodes.node(nid)?.valid, id);
      assert.notEqual(saved, false, `the saved ${spec.type} node is marked invalid`);
    });
  }

  it('deploys the dialogs saved above without a "not properly configured" prompt', async () => {
    await deploy();
    await clearNotifications(page);
    await shot('editor-flow', undefined, true);
  });

  /** `examples/` of the project (`MS365_EXAMPLES_DIR` points elsewhere, to try the test on other flows). */
  const examplesDir = process.env.MS365_EXAMPLES_DIR || path.join(ROOT, 'examples');
  const exampleFiles = fs.existsSync(examplesDir) ? fs.readdirSync(examplesDir).filter((f) => f.endsWith('.json')).sort() : [];
  if (!exampleFiles.length) {
    it('imports and deploys each example in examples/ (none yet)', function () {
      console.log('      skipped: examples/ has no flow yet');
      this.skip();
    });
  }
  for (const file of exampleFiles) {
    it(`example ${file}: imports through the Import dialog and deploys without a prompt or error`, async () => {
      const flow = JSON.parse(fs.readFileSync(path.join(examplesDir, file), 'utf8')) as Array<Record<string, unknown>>;
      assert.ok(Array.isArray(flow) && flow.length > 0, `${file} is not a flow array`);
      const first = flow.find((n) => n.type !== 'tab');
      assert.equal(first?.type, 'comment', `${file}: the first node (after its tab) should be a comment node`);
      const errorsBefore = browser().pageErrors.length;
      await importFlow(page, flow, { x: 300, y: 150 }, { newFlow: true });
      const unknown = await page.evaluate(() => document.querySelectorAll('.red-ui-flow-node-unknown').length);
      assert.equal(unknown, 0, `${file} has nodes of unknown type`);
      // The import's drop click can land on a node of an example already on the canvas (a comment of the previous
      // example tab on Node-RED 5) and open its edit tray, which blocks Deploy: close stray trays first.
      await closeTrays(page);
      await deploy();
      const errors = browser().pageErrors.slice(errorsBefore);
      assert.deepEqual(errors, [], `the editor raised errors: ${errors.join('; ')}`);
      await shot(`example-${path.basename(file, '.json')}`);
    });
  }
});
