/**
 * Browser tests of the Node-RED editor (issue 8): Debian's headless chromium driven by playwright-core, against a
 * real Node-RED process that loads this package from its packed tarball.
 *
 * - `chromiumPath()` / `useChromium()`: the browser, or a clear skip when `/usr/bin/chromium` is absent (outside CI;
 *   with `CI=true` a missing browser fails the suite). Every launch gets a fresh user data directory.
 * - `startEditorNodeRed()`: a minimal Node-RED starter (packed package, temporary user directory inside
 *   `.artifacts/`, free loopback port) until the shared end-to-end harness `test/support/nodered-process.ts` lands.
 * - Editor helpers: open the editor, import a flow through the Import dialog, open a node's edit dialog, read the
 *   fields the validators marked red, take screenshots into `.artifacts/screenshots/` (git-ignored; copied to
 *   `docs/screenshots/` when `UPDATE_SCREENSHOTS=1`).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const ROOT = path.resolve(__dirname, '..', '..');
export const PACKAGE_NAME = '@ms365-events/node-red-ms365-events';
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
      const message = 'chromium not found at /usr/bin/chromium (apt-get install chromium, or set CHROMIUM_PATH)';
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

// ---------------------------------------------------------------------------------------------------------------
// Node-RED (minimal starter; to be replaced by test/support/nodered-process.ts when it lands)

export interface EditorNodeRed {
  /** Editor URL, ends with `/`. */
  url: string;
  userDir: string;
  log(): string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

let packedTarball: string | undefined;

/** `npm pack` of the built project (dist/ must exist: `npm test` builds first), once per process. */
export function packPackage(): string {
  if (packedTarball && fs.existsSync(packedTarball)) return packedTarball;
  if (!fs.existsSync(path.join(ROOT, 'dist', 'nodes', 'ms365-connector.js'))) {
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build.js')], { cwd: ROOT, stdio: 'inherit' });
  }
  const dest = fs.mkdtempSync(path.join(os.tmpdir(), 'ms365-pack-'));
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dest], { cwd: ROOT, encoding: 'utf8' });
  const file = out.trim().split('\n').pop() as string;
  packedTarball = path.join(dest, file);
  return packedTarball;
}

/**
 * Starts Node-RED 4.1 (the devDependency, on this Node) with the packed package installed in a fresh user
 * directory under `.artifacts/` (inside the project, so the package's dependencies resolve from its node_modules
 * without a network install). Resolves once the admin API answers.
 */
export async function startEditorNodeRed(): Promise<EditorNodeRed> {
  const tarball = packPackage();
  fs.mkdirSync(path.join(ROOT, '.artifacts'), { recursive: true });
  const userDir = fs.mkdtempSync(path.join(ROOT, '.artifacts', 'browser-userdir-'));
  const pkgDir = path.join(userDir, 'node_modules', ...PACKAGE_NAME.split('/'));
  fs.mkdirSync(pkgDir, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', pkgDir, '--strip-components=1']);
  fs.writeFileSync(
    path.join(userDir, 'package.json'),
    JSON.stringify({ name: 'node-red-project', private: true, dependencies: { [PACKAGE_NAME]: 'file:' + tarball } }, null, 2),
  );
  const port = await freePort();
  const settings = {
    uiHost: '127.0.0.1',
    uiPort: port,
    flowFile: 'flows.json',
    credentialSecret: 'browser-test-secret',
    telemetry: { enabled: false, updateNotification: false },
    diagnostics: { enabled: false, ui: false },
    editorTheme: { tours: false, projects: { enabled: false } },
    logging: { console: { level: 'info', metrics: false, audit: false } },
  };
  fs.writeFileSync(path.join(userDir, 'settings.js'), `module.exports = ${JSON.stringify(settings, null, 2)};\n`);

  let output = '';
  const child: ChildProcess = spawn(process.execPath, [require.resolve('node-red/red.js'), '-u', userDir, '-s', path.join(userDir, 'settings.js')], {
    cwd: userDir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  let exited = false;
  child.once('exit', () => (exited = true));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const url = `http://127.0.0.1:${port}/`;
  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (!exited) {
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(timer);
    }
    fs.rmSync(userDir, { recursive: true, force: true });
  };
  try {
    await until(
      'Node-RED to start',
      async () => {
        if (exited) throw new Error(`Node-RED exited during start:\n${output}`);
        if (!/Started flows/.test(output)) return false;
        const res = await fetch(`${url}settings`).catch(() => undefined);
        return res?.ok;
      },
      30_000,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, userDir, log: () => output, stop };
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

/** Imports a flow through the Import dialog (clipboard text), places it, and returns once its nodes exist. */
export async function importFlow(page: Page, flow: unknown[]): Promise<void> {
  await page.evaluate(() => (window as unknown as { RED: { actions: { invoke(a: string): void } } }).RED.actions.invoke('core:show-import-dialog'));
  const text = page.locator('#red-ui-clipboard-dialog-import-text');
  await text.waitFor({ state: 'visible' });
  await text.fill(JSON.stringify(flow));
  await text.press('End'); // the dialog validates the text on keyup
  await page.locator('#red-ui-clipboard-dialog-ok').click();
  // Nodes whose ids already exist (a connector shared by two examples): the conflict dialog opens in the same click
  // handler; import them as copies, as a user would.
  const copy = page.getByRole('button', { name: 'Import copy' });
  if (await copy.isVisible()) await copy.click();
  // Imported nodes follow the mouse until a click drops them on the workspace.
  const ws = page.locator('#red-ui-workspace-chart');
  const box = await ws.boundingBox();
  if (box) {
    await page.mouse.move(box.x + 150, box.y + 100);
    await page.mouse.click(box.x + 150, box.y + 100);
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
    const before = await page.locator('.red-ui-tray').count();
    await page.locator('#node-dialog-cancel, #node-config-dialog-cancel').last().click({ timeout: 5000 }).catch(() => undefined);
    await until('a tray to close', async () => (await page.locator('.red-ui-tray').count()) < before, 5000).catch(() => undefined);
  }
}

/** Ids of the inputs the validators currently mark red in the open tray(s). */
export async function invalidFields(page: Page): Promise<string[]> {
  return page.$$eval('.red-ui-tray input.input-error, .red-ui-tray select.input-error, .red-ui-tray textarea.input-error', (els) =>
    els.map((e) => e.id).filter(Boolean),
  );
}

/** Screenshot into `.artifacts/screenshots/<name>.png` (and `docs/screenshots/` with `UPDATE_SCREENSHOTS=1`). */
export async function screenshot(page: Page, name: string, clip?: { selector: string }): Promise<string> {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  if (clip) await page.locator(clip.selector).first().screenshot({ path: file });
  else await page.screenshot({ path: file });
  if (process.env.UPDATE_SCREENSHOTS === '1') {
    fs.mkdirSync(DOCS_SCREENSHOT_DIR, { recursive: true });
    fs.copyFileSync(file, path.join(DOCS_SCREENSHOT_DIR, `${name}.png`));
  }
  return file;
}
