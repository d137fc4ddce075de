/**
 * End-to-end harness: a real `node-red` process that loads this package from its packed tarball (`npm pack`),
 * on Node-RED 4.1 (the `node-red` devDependency, on this Node 20) or Node-RED 5 on Node 22 (Node-RED 5 needs
 * Node >= 22.9), both installed by `scripts/install-node-red-5.js` from `scripts/node-red-5/package-lock.json`.
 *
 * The tarball is extracted into `<userDir>/node_modules/@ms365-events/node-red-ms365-events` with the user directory
 * inside the project (`.artifacts/`), so the package's own dependencies resolve from the project's node_modules
 * without a network install, exactly as a user directory with the package installed would resolve them.
 * Flows are deployed through the admin API (`POST /flows`, full deployment).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import axios, { type AxiosInstance } from 'axios';

export const ROOT = path.resolve(__dirname, '..', '..');
export const PACKAGE_NAME = '@ms365-events/node-red-ms365-events';

export type NodeRedVersion = 4 | 5;

export interface NodeRedOptions {
  version?: NodeRedVersion;
  /** Extra settings merged into settings.js (JSON-serialisable). */
  settings?: Record<string, unknown>;
  /** Reuse an existing user directory (restart scenarios). */
  userDir?: string;
  env?: Record<string, string>;
}

export interface NodeRedProcess {
  version: NodeRedVersion;
  /** Editor / admin root, ends with `/`. */
  url: string;
  /** HTTP node root (same server), ends with `/`. */
  httpNodeUrl: string;
  port: number;
  userDir: string;
  /** An axios instance on the admin API (no throw on non-2xx). */
  admin: AxiosInstance;
  log(): string;
  /** The running process id (resident memory in /proc/<pid>/status), undefined when stopped. */
  pid(): number | undefined;
  deploy(flows: unknown[]): Promise<void>;
  getFlows(): Promise<unknown[]>;
  /** Graceful stop (SIGTERM, then SIGKILL after 5 s). Keeps the user directory. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash would. Keeps the user directory. */
  kill(): Promise<void>;
  /** Start again on the same user directory and port (after stop or kill). */
  restart(): Promise<void>;
  /** Stop and delete the user directory. */
  dispose(): Promise<void>;
}

export async function freePort(): Promise<number> {
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

/** `npm pack` of the built project, once per test process (builds dist/ first if it is missing). */
export function packPackage(): string {
  if (packedTarball && fs.existsSync(packedTarball)) return packedTarball;
  if (!fs.existsSync(path.join(ROOT, 'dist', 'nodes', 'ms365-connector.js'))) {
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build.js')], { cwd: ROOT, stdio: 'inherit' });
  }
  const dest = fs.mkdtempSync(path.join(os.tmpdir(), 'ms365-pack-'));
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dest], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  packedTarball = path.join(dest, out.trim().split('\n').pop() as string);
  return packedTarball;
}

/** A fresh user directory under `.artifacts/` with the packed package installed. */
export function createUserDir(prefix = 'e2e-userdir-'): string {
  const tarball = packPackage();
  fs.mkdirSync(path.join(ROOT, '.artifacts'), { recursive: true });
  const userDir = fs.mkdtempSync(path.join(ROOT, '.artifacts', prefix));
  const pkgDir = path.join(userDir, 'node_modules', ...PACKAGE_NAME.split('/'));
  fs.mkdirSync(pkgDir, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', pkgDir, '--strip-components=1']);
  fs.writeFileSync(
    path.join(userDir, 'package.json'),
    JSON.stringify({ name: 'node-red-project', private: true, dependencies: { [PACKAGE_NAME]: `file:${tarball}` } }, null, 2),
  );
  return userDir;
}

function runtimeFor(version: NodeRedVersion): { node: string; red: string } {
  if (version === 5) {
    // Installed on first use by the project's own script (pinned by scripts/node-red-5/package-lock.json).
    const installer = require(path.join(ROOT, 'scripts', 'install-node-red-5.js')) as { install(): { node: string; red: string } };
    return installer.install();
  }
  return { node: process.execPath, red: require.resolve('node-red/red.js') };
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export async function startNodeRed(options: NodeRedOptions = {}): Promise<NodeRedProcess> {
  const version = options.version ?? 4;
  const userDir = options.userDir ?? createUserDir(`e2e-nr${version}-`);
  const port = await freePort();
  const settings = {
    uiHost: '127.0.0.1',
    uiPort: port,
    flowFile: 'flows.json',
    credentialSecret: 'e2e-credential-secret',
    contextStorage: { default: { module: 'localfilesystem' } },
    telemetry: { enabled: false, updateNotification: false },
    diagnostics: { enabled: false, ui: false },
    editorTheme: { tours: false, projects: { enabled: false } },
    logging: { console: { level: 'info', metrics: false, audit: false } },
    ...options.settings,
  };
  fs.writeFileSync(path.join(userDir, 'settings.js'), `module.exports = ${JSON.stringify(settings, null, 2)};\n`);
  const { node, red } = runtimeFor(version);
  const url = `http://127.0.0.1:${port}/`;
  const admin = axios.create({ baseURL: url, validateStatus: () => true, timeout: 15_000 });

  let output = '';
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const launch = async () => {
    const proc = spawn(node, [red, '-u', userDir, '-s', path.join(userDir, 'settings.js')], {
      cwd: userDir,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    running.add(proc);
    proc.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    exited = new Promise<void>((resolve) =>
      proc.once('exit', () => {
        running.delete(proc);
        resolve();
      }),
    );
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`node-red ${version} exited during start:\n${output}`);
      const res = await admin.get('settings').catch(() => undefined);
      // The flows file's path is logged in every language (`lang` set to de or ja translates the rest).
      if (res?.status === 200 && /Started flows|Starting flows|Flows file|flows\.json/.test(output)) break;
      if (Date.now() > deadline) throw new Error(`node-red ${version} did not start in 60 s:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const halt = async (signal: NodeJS.Signals) => {
    if (!child || child.exitCode !== null || child.signalCode) return;
    const proc = child;
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };

  await launch();
  return {
    version,
    url,
    httpNodeUrl: url,
    port,
    userDir,
    admin,
    log: () => output,
    pid: () => (child && child.exitCode === null && !child.signalCode ? child.pid : undefined),
    async deploy(flows) {
      const res = await admin.post('flows', flows, { headers: { 'Node-RED-Deployment-Type': 'full', 'Content-Type': 'application/json' } });
      if (res.status !== 204 && res.status !== 200) throw new Error(`deploy failed: ${res.status} ${JSON.stringify(res.data)}`);
    },
    async getFlows() {
      const res = await admin.get('flows', { headers: { 'Node-RED-API-Version': 'v1' } });
      return res.data as unknown[];
    },
    stop: () => halt('SIGTERM'),
    kill: () => halt('SIGKILL'),
    restart: async () => {
      await halt('SIGTERM');
      await launch();
    },
    async dispose() {
      await halt('SIGTERM');
      fs.rmSync(userDir, { recursive: true, force: true });
    },
  };
}

/** Poll for a condition with a deadline (no sleeps as assertions). */
export async function waitUntil<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
