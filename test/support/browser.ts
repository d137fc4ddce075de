/**
 * Browser tests of the Node-RED editor (issue 8): Debian's headless chromium driven by playwright-core, against a
 * real Node-RED process that loads this package from its packed tarball.
 *
 * - `chromiumPath()` / `useChromium()`: the browser, or a clear skip when `/usr/bin/chromium` is absent (outside CI;
 *   with `CI=true` a missing browser fails the suite). Every launch gets a fresh user data directory.
 * - Node-RED itself comes from the shared end-to-end harness (`test/support/nodered-process.ts`, `startNodeRed`);
 *   `useEditor(version)` is the hooks every browser suite shares: chromium, a Node-RED process, one editor page, and
 *   after each test the Node-RED log on failure and every edit tray cancelled.
 * - Editor helpers: open the editor, import a flow through the Import dialog, open a node's edit dialog, read the
 *   fields the validators marked red, take screenshots into `.artifacts/screenshots/` (git-ignored; copied to
 *   `docs/screenshots/` when `UPDATE_SCREENSHOTS=1`).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startNodeRed, type NodeRedProcess, type NodeRedVersion } from './nodered-process';

export const ROOT = path.resolve(__dirname, '..', '..');
export const SCREENSHOT_DIR = path.join(ROOT, '.artifacts', 'screenshots');
export const DOCS_SCREENSHOT_DIR = path.join(ROOT, 'docs', 'screenshots');

/** The chromium binary: `CHROMIUM_PATH` or Debian's `/usr/bin/chromium`; undefined when absent. */
export function chromiumPath(): string | undefined {
  const candidate = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
  return fs.existsSync(candidate) ? candidate : undefined;
}

/** Deadline-bounded polling (no sleeps as assertions). */
export async function until<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Browser

export interface ChromiumSession {
  context: BrowserContext;
  /** Console errors and uncaught page errors seen so far (every page of the context). */
  pageErrors: string[];
  close(): Promise<void>;
}

/** Launches headless chromium with a fresh user data directory (removed on close). */
export async function launchChromium(executablePath: string): Promise<ChromiumSession> {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ms365-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  // tsx (esbuild keepNames) wraps functions that tests pass to page.evaluate in `__name(...)`: define it in pages.
  await context.addInitScript('window.__name = function (f) { return f; };');
  const pageErrors: string[] = [];
  const watch = (page: Page) => {
    page.on('pageerror', (err) => pageErrors.push(`${page.url()}: ${err.message}`));
  };
  context.pages().forEach(watch);
  context.on('page', watch);
  return {
    context,
    pageErrors,
    close: async () => {
      await context.close().catch(() => undefined);
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Mocha hooks for a suite that needs chromium: skips the suite with a clear message when the browser is absent,
 * except in CI (`CI=true`), where that fails.
 */
export function useChromium(): () => ChromiumSession {
  let session: ChromiumSession | undefined;
  before(async function () {
    const executable = chromiumPath();
    if (!executable) {
      const message = `chromium not found at ${process.env.CHROMIUM_PATH || '/usr/bin/chromium'} (apt-get install chromium, or set CHROMIUM_PATH)`;
      if (process.env.CI === 'true') throw new Error(`${message}: the browser tests cannot run in CI without it`);
      console.warn(`      skipped: ${message}`);
      this.skip();
    }
    session = await launchChromium(executable as string);
  });
  after(async () => {
    await session?.close();
  });
  return () => {
    if (!session) throw new Error('chromium not started');
    return session;
  };
}

export interface EditorOptions {
  /** Characters of the Node-RED log's end printed when a test fails (default 3000; 0: none). */
  logTail?: number;
  /** What to do on the page when a test fails, after the log is printed (a screenshot). */
  onFailure?: (page: Page, title: string) => Promise<unknown>;
  /** Cancel every open edit tray after each test (default true). */
  closeTrays?: boolean;
  /** Runs on the page before it closes (e.g. forget the editor language a suite set). */
  beforeClose?: (page: Page) => Promise<unknown>;
}

export interface EditorSession {
  red: NodeRedProcess;
  page: Page;
  browser: ChromiumSession;
}

/**
 * The hooks every browser suite shares: chromium (`useChromium`: a skip, or a failure in CI, when it is absent), a
 * real Node-RED `version` loading the packed package, one page with the editor open; after each test, on failure the
 * end of the Node-RED log and `onFailure`, then every edit tray cancelled; at the end the page closed and Node-RED
 * stopped with its user directory removed.
 */
export function useEditor(version: NodeRedVersion, options: EditorOptions = {}): () => EditorSession {
  const browser = useChromium();
  let red: NodeRedProcess | undefined;
  let page: Page | undefined;
  before(async function () {
    this.timeout(version === 5 ? 300_000 : 90_000); // Node-RED 5 may be installed on first use (npm ci, pinned)
    red = await startNodeRed({ version });
    page = await browser().context.newPage();
    await openEditor(page, red.url);
  });
  after(async function () {
    this.timeout(20_000);
    if (page && options.beforeClose) await options.beforeClose(page).catch(() => undefined);
    await page?.close().catch(() => undefined);
    await red?.dispose();
  });
  afterEach(async function () {
    if (this.currentTest?.state === 'failed') {
      const tail = options.logTail ?? 3000;
      if (red && tail > 0) console.log(`--- Node-RED log ---\n${red.log().slice(-tail)}`);
      if (page && options.onFailure) await options.onFailure(page, this.currentTest.title).catch(() => undefined);
    }
    if (page && options.closeTrays !== false) await closeTrays(page);
  });
  return () => {
    if (!red || !page) throw new Error('the editor is not open (Node-RED or chromium did not start)');
    return { red, page, browser: browser() };
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Editor helpers

/** Opens the editor and waits until the palette is built and no modal is in the way. */
export async function openEditor(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.waitForFunction(() => {
    const w = window as unknown as { RED?: { nodes?: { getType?(t: string): unknown } } };
    return Boolean(w.RED?.nodes?.getType?.('ms365-connector')) && document.querySelectorAll('.red-ui-palette-node').length > 10;
  }, undefined, { timeout: 30_000 });
}

/**
 * Imports a flow through the Import dialog (clipboard text) and drops it on the workspace at `at` (pixels from the
 * workspace's top left corner).
 */
export async function importFlow(
  page: Page,
  flow: unknown[],
  at: { x: number; y: number } = { x: 150, y: 100 },
  options: { newFlow?: boolean } = {},
): Promise<void> {
  await page.evaluate(() => (window as unknown as { RED: { actions: { invoke(a: string): void } } }).RED.actions.invoke('core:show-import-dialog'));
  const text = page.locator('#red-ui-clipboard-dialog-import-text');
  await text.waitFor({ state: 'visible' });
  await text.fill(JSON.stringify(flow));
  await text.press('End'); // the dialog validates the text on keyup
  // "Import to: new flow" (disabled, and not needed, when the flow brings its own tab).
  const newFlow = page.locator('#red-ui-clipboard-dialog-import-opt-new:not(.disabled)');
  if (options.newFlow && (await newFlow.count())) await newFlow.click();
  await page.locator('#red-ui-clipboard-dialog-ok').click();
  // Nodes whose ids already exist (a connector shared by two examples): the conflict dialog opens in the same click
  // handler; import them as copies, as a user would.
  const copy = page.getByRole('button', { name: 'Import copy' });
  if (await copy.isVisible()) await copy.click();
  // Imported nodes follow the mouse until a click drops them on the workspace.
  const ws = page.locator('#red-ui-workspace-chart');
  const box = await ws.boundingBox();
  if (box) {
    await page.mouse.move(box.x + at.x, box.y + at.y);
    await page.mouse.click(box.x + at.x, box.y + at.y);
  }
}

/** Opens the edit dialog of a node on the workspace by double-clicking it; waits for the tray. */
export async function openNodeDialog(page: Page, nodeId: string): Promise<void> {
  const node = page.locator(`g.red-ui-flow-node-group[id="${nodeId}"] rect.red-ui-flow-node`);
  await node.dblclick();
  await page.locator('.red-ui-tray').first().waitFor({ state: 'visible' });
  await page.waitForFunction(() => document.querySelectorAll('.red-ui-tray .red-ui-tray-body .form-row').length > 0);
}

/** Cancels every open edit tray (cleanup after a failed test, so the next one starts from the workspace). */
export async function closeTrays(page: Page): Promise<void> {
  for (let i = 0; i < 5 && (await page.locator('.red-ui-tray').count()) > 0; i++) {
    await clearNotifications(page); // a notification over the tray's buttons would take the click
    const before = await page.locator('.red-ui-tray').count();
    await page.locator('.red-ui-tray').last().locator('#node-dialog-cancel, #node-config-dialog-cancel').click({ timeout: 5000 }).catch(() => undefined);
    await until('a tray to close', async () => (await page.locator('.red-ui-tray').count()) < before, 5000).catch(() => undefined);
  }
}

/**
 * Hides the editor's notifications (before a screenshot, or a click they would cover). Hidden, not removed: the
 * editor removes each one itself when it times out.
 */
export async function clearNotifications(page: Page): Promise<void> {
  await page.evaluate(() => document.querySelectorAll<HTMLElement>('.red-ui-notification').forEach((n) => (n.style.display = 'none')));
}

/** Ids of the inputs the validators currently mark red in the open tray(s). */
export async function invalidFields(page: Page): Promise<string[]> {
  return page.$$eval('.red-ui-tray input.input-error, .red-ui-tray select.input-error, .red-ui-tray textarea.input-error', (els) =>
    els.map((e) => e.id).filter(Boolean),
  );
}

/**
 * Screenshot into `.artifacts/screenshots/<name>.png`; with `docs: true` and `UPDATE_SCREENSHOTS=1` also into
 * `docs/screenshots/` (the README's pictures).
 */
export async function screenshot(page: Page, name: string, clip?: { selector: string }, options: { docs?: boolean } = {}): Promise<string> {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  if (clip) await page.locator(clip.selector).first().screenshot({ path: file });
  else await page.screenshot({ path: file });
  if (options.docs && process.env.UPDATE_SCREENSHOTS === '1') {
    fs.mkdirSync(DOCS_SCREENSHOT_DIR, { recursive: true });
    fs.copyFileSync(file, path.join(DOCS_SCREENSHOT_DIR, `${name}.png`));
  }
  return file;
}

// ---------------------------------------------------------------------------------------------------------------
// Building a flow as a user does: palette, wires, Done, Deploy

interface EachNodeWindow {
  RED: { nodes: { eachNode(cb: (n: { id: string; type: string }) => void): void; eachConfig(cb: (n: { id: string; type: string }) => void): void } };
}

/** Ids of the nodes of `type` in the workspace (config nodes too). */
export function nodeIdsOf(page: Page, type: string): Promise<string[]> {
  return page.evaluate((t) => {
    const ids: string[] = [];
    const nodes = (window as unknown as EachNodeWindow).RED.nodes;
    const add = (n: { id: string; type: string }) => {
      if (n.type === t) ids.push(n.id);
    };
    nodes.eachNode(add);
    nodes.eachConfig(add);
    return ids;
  }, type);
}

/** Drags a palette node onto the workspace at (x, y) (pixels from the workspace's top left); returns the new node's id. */
export async function paletteDrop(page: Page, type: string, x: number, y: number): Promise<string> {
  const before = await nodeIdsOf(page, type);
  await page.locator(`.red-ui-palette-node[data-palette-type="${type}"]`).first().dragTo(page.locator('#red-ui-workspace-chart'), { targetPosition: { x, y } });
  return until(`a ${type} node on the workspace`, async () => (await nodeIdsOf(page, type)).find((id) => !before.includes(id)));
}

/** Wires `from`'s output to `to`'s input by dragging between the ports. */
export async function wireNodes(page: Page, from: string, to: string): Promise<void> {
  const out = await page.locator(`g.red-ui-flow-node-group[id="${from}"] .red-ui-flow-port-output .red-ui-flow-port`).first().boundingBox();
  const input = await page.locator(`g.red-ui-flow-node-group[id="${to}"] .red-ui-flow-port-input .red-ui-flow-port`).first().boundingBox();
  if (!out || !input) throw new Error(`ports of ${from} → ${to} not found`);
  await page.mouse.move(out.x + out.width / 2, out.y + out.height / 2);
  await page.mouse.down();
  await page.mouse.move(input.x + input.width / 2, input.y + input.height / 2, { steps: 10 });
  await page.mouse.up();
}

/** Clicks Deploy and waits for the editor's `POST /flows` to be answered 200. */
export async function deployFlows(page: Page): Promise<void> {
  const posted = page.waitForResponse((r) => /\/flows$/.test(new URL(r.url()).pathname) && r.request().method() === 'POST', { timeout: 20_000 });
  await page.locator('#red-ui-header-shade').waitFor({ state: 'hidden', timeout: 10_000 }).catch(() => undefined);
  await page.locator('#red-ui-header-button-deploy').click({ timeout: 10_000 }).catch(() => page.evaluate('RED.actions.invoke("core:deploy-flows")'));
  const res = await posted;
  if (res.status() !== 200) throw new Error(`deploy answered ${res.status()}`);
}

/** Clicks Done (or Add/Update) of the top edit tray and waits for it to close. */
export async function clickTrayDone(page: Page): Promise<void> {
  await clearNotifications(page);
  const tray = await page.locator('.red-ui-tray').last().elementHandle();
  if (!tray) throw new Error('no edit tray is open');
  await page.locator('.red-ui-tray').last().locator('#node-dialog-ok, #node-config-dialog-ok').click();
  await tray.waitForElementState('hidden', { timeout: 10_000 });
}
