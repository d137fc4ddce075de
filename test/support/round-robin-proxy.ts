/**
 * A small round-robin HTTP proxy (node:http) standing for the load balancer in front of several Node-RED instances
 * (cluster mode, issue 17): used by test/e2e/cluster-webhook-subscriptions.test.ts, test/reliability/cluster.test.ts
 * and bench/cluster.ts (which runs it in a child process of its own).
 *
 * Each request goes to the next target of its pool (`route`), one after the other. A target that is `undefined` (an
 * instance that is down, as a load balancer's health check would see it) is skipped; a connection error tries the
 * next one; with `retryBadAnswers` a 404 (an instance whose flows are not running yet) or a 5xx tries the next one
 * too (the answer is then buffered, else streamed). Request bodies are buffered (a retry sends them again);
 * hop-by-hop headers are not forwarded. A stopped instance (SIGSTOP) accepts the connection and never answers: the
 * client times out, as Graph does, and its retry goes to the next instance.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ProxyRoute {
  /** The pool's name (one round-robin counter per pool). */
  pool: string;
  /** Base URLs (`http://127.0.0.1:1880/`), `undefined` for a target that is down. */
  targets: ReadonlyArray<string | undefined>;
  /** Path and query to request at the target. */
  path: string;
}

export interface RoundRobinProxyOptions {
  /** Where a request goes; undefined answers 404. Default: one pool `targets()` with the request's path. */
  route(req: http.IncomingMessage): ProxyRoute | undefined;
  /** Tries per request before answering 502; default the pool's size. */
  attempts?(targets: number): number;
  /** A 404 or 5xx answer tries the next target (answers are buffered). */
  retryBadAnswers?: boolean;
  /** Before each try: target `index` of `pool` gets `req`. */
  onForward?(pool: string, index: number, req: http.IncomingMessage): void;
  /** The answer given to the client came from target `index` of `pool`, with `status`. */
  onAnswer?(pool: string, index: number, status: number, req: http.IncomingMessage): void;
  /** Agent for the upstream requests (e.g. keep-alive for a bench). */
  agent?: http.Agent;
}

export interface RoundRobinProxy {
  readonly server: http.Server;
  /** `http://127.0.0.1:<port>` (no trailing slash). */
  readonly url: string;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'host']);

function endToEnd(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name.toLowerCase())));
}

/** One pool over `targets()` (evaluated per request), the request's path as is. */
export function singlePool(targets: () => ReadonlyArray<string | undefined>): (req: http.IncomingMessage) => ProxyRoute {
  return (req) => ({ pool: '', targets: targets(), path: req.url ?? '/' });
}

/** Starts the proxy on a free loopback port (or `port`). */
export async function startRoundRobinProxy(options: RoundRobinProxyOptions, port = 0): Promise<RoundRobinProxy> {
  const next = new Map<string, number>();
  const server = http.createServer((req, res) => {
    res.on('error', () => undefined);
    req.on('error', () => undefined);
    const route = options.route(req);
    if (!route) {
      res.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const { pool, targets } = route;
      const budget = options.attempts?.(targets.length) ?? targets.length;
      const attempt = (tries: number): void => {
        if (tries >= budget || !targets.length) return void res.writeHead(502).end();
        const counter = next.get(pool) ?? 0;
        next.set(pool, counter + 1);
        const index = counter % targets.length;
        const base = targets[index];
        if (base === undefined) return attempt(tries + 1);
        const target = new URL(`${base.replace(/\/?$/, '/')}${route.path.replace(/^\//, '')}`);
        options.onForward?.(pool, index, req);
        const forward = http.request(target, { method: req.method, headers: { ...endToEnd(req.headers), host: target.host }, agent: options.agent }, (answer) => {
          const status = answer.statusCode ?? 502;
          answer.on('error', () => attempt(tries + 1));
          if (!options.retryBadAnswers) {
            options.onAnswer?.(pool, index, status, req);
            res.writeHead(status, endToEnd(answer.headers));
            answer.pipe(res);
            return;
          }
          const parts: Buffer[] = [];
          answer.on('data', (c: Buffer) => parts.push(c));
          answer.on('end', () => {
            if (status === 404 || status >= 500) return attempt(tries + 1);
            options.onAnswer?.(pool, index, status, req);
            res.writeHead(status, endToEnd(answer.headers)).end(Buffer.concat(parts));
          });
        });
        forward.on('error', () => attempt(tries + 1));
        forward.end(body);
      };
      attempt(0);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    server,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
