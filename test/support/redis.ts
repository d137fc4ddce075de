/**
 * A real Debian `redis-server` for the cluster-state tests (issue 17): started on a free loopback port in a temp
 * directory, stopped (SIGTERM, Redis saves and exits), restarted on the same port and directory, or killed (SIGKILL).
 *
 * - `redisServerPath()`: `REDIS_SERVER_PATH` or `/usr/bin/redis-server`; undefined when absent.
 * - `useRedisServer()`: mocha hook that skips the suite with a clear message when redis-server is absent (outside CI;
 *   in CI, `CI=true`, that fails: `.ci/run` installs it), as `useChromium` does for the browser tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { openRedisState, type RedisSharedState } from '../../src/core/state';

export function redisServerPath(): string | undefined {
  const candidate = process.env.REDIS_SERVER_PATH || '/usr/bin/redis-server';
  return fs.existsSync(candidate) ? candidate : undefined;
}

export interface RedisServerOptions {
  /** `requirepass`. */
  password?: string;
  /** Append-only file with `appendfsync always` (the setting docs/cluster.md asks for); default true. */
  appendonly?: boolean;
  /** `maxmemory-policy`; default `noeviction`. */
  maxmemoryPolicy?: string;
  /** Rename CONFIG away (as managed Redis services do): the eviction policy cannot be read. */
  disableConfig?: boolean;
  /** A loopback port chosen by the test (e.g. one a client already tries); default: a free one. */
  port?: number;
}

export interface RedisServer {
  readonly port: number;
  /** `redis://127.0.0.1:<port>` (no password in it). */
  readonly url: string;
  readonly dir: string;
  /** SIGTERM and wait for the exit (Redis flushes its append-only file first). */
  stop(): Promise<void>;
  /** Starts again on the same port and directory (after stop or kill). */
  start(): Promise<void>;
  restart(): Promise<void>;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
  /** Stops and removes the directory. */
  dispose(): Promise<void>;
}

/** A free loopback port (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function waitForExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const executable = redisServerPath();
  if (!executable) throw new Error('redis-server not found');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ms365-redis-'));
  const port = options.port ?? (await freePort());
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    '--appendonly', options.appendonly === false ? 'no' : 'yes',
    '--appendfsync', 'always',
    '--maxmemory-policy', options.maxmemoryPolicy ?? 'noeviction',
    '--daemonize', 'no',
    '--logfile', '',
  ];
  if (options.password) args.push('--requirepass', options.password);
  if (options.disableConfig) args.push('--rename-command', 'CONFIG', '');
  let child: ChildProcess | undefined;
  let log = '';

  const start = async () => {
    log = '';
    const proc = spawn(executable, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start within 10 s:\n${log}`)), 10_000);
      const onData = (chunk: Buffer) => {
        log += chunk.toString();
        if (/Ready to accept connections/.test(log)) {
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout?.on('data', onData);
      proc.stderr?.on('data', onData);
      proc.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited (${code ?? signal}) before it was ready:\n${log}`));
      });
    });
  };
  const signal = async (sig: NodeJS.Signals) => {
    const proc = child;
    if (!proc) return;
    child = undefined;
    proc.kill(sig);
    await waitForExit(proc);
  };

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    stop: () => signal('SIGTERM'),
    start,
    restart: async () => {
      await signal('SIGTERM');
      await start();
    },
    kill: () => signal('SIGKILL'),
    dispose: async () => {
      await signal('SIGTERM');
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Mocha hooks: a redis-server for the suite (stopped and removed after it), or a clear skip when redis-server is
 * absent, except in CI (`CI=true`), where that fails.
 */
export function useRedisServer(options: RedisServerOptions = {}): () => RedisServer {
  let server: RedisServer | undefined;
  before(async function () {
    if (!redisServerPath()) {
      const message = `redis-server not found at ${process.env.REDIS_SERVER_PATH || '/usr/bin/redis-server'} (apt-get install redis-server, or set REDIS_SERVER_PATH)`;
      if (process.env.CI) throw new Error(`${message}: the cluster tests cannot run in CI without it`);
      console.warn(`      skipped: ${message}`);
      this.skip();
    }
    server = await startRedisServer(options);
  });
  after(async () => {
    await server?.dispose();
  });
  return () => {
    if (!server) throw new Error('redis-server not started');
    return server;
  };
}

/**
 * Mocha hooks for suites that open several instances' shared state on `redis()`: a fresh key prefix per test (so
 * tests never see each other's keys), `open(owner)` for one instance's `RedisSharedState`, every one closed after
 * the test.
 */
export function useRedisStates(redis: () => RedisServer, prefixLetter: string): { open(owner: string): Promise<RedisSharedState>; prefix(): string } {
  const opened: RedisSharedState[] = [];
  let prefix = '';
  beforeEach(() => {
    prefix = `${prefixLetter}${randomBytes(4).toString('hex')}`;
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });
  return {
    open: async (owner) => {
      const state = await openRedisState({ url: redis().url, prefix, owner });
      opened.push(state);
      return state;
    },
    prefix: () => prefix,
  };
}
