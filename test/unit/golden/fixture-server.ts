/**
 * Microsoft's documentation examples served over HTTP on a loopback port, so the product's own clients (GraphClient,
 * the token endpoint client) read them exactly as they would read Graph: Microsoft is replaced at the HTTP boundary
 * only. Links in the examples (`https://graph.microsoft.com/v1.0/...`) are rewritten to this server, so following a
 * nextLink or deltaLink verbatim lands on the next scripted answer.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GoldenFixture } from './shape';

export interface ScriptedAnswer {
  status: number;
  headers?: Record<string, string>;
  body: unknown;
}

export interface FixtureServer {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  /** `<origin>/v1.0` */
  graphBaseUrl: string;
  /**
   * Answer requests for `pathAndQuery` (compared after percent-decoding; a trailing `*` matches any rest) with these
   * answers, in turn (the last repeats). Anything not scripted answers as Graph does for an object that is not there
   * (404 `ErrorItemNotFound`).
   */
  on(method: string, pathAndQuery: string, ...answers: ScriptedAnswer[]): void;
  /** A fixture as a scripted answer, its Graph links pointing here. */
  answer(golden: GoldenFixture): ScriptedAnswer;
  /** An example's Graph link (`https://graph.microsoft.com/v1.0/...`) as a path on this server. */
  local(link: string): string;
  /** Requests received: method, path, form body. */
  requests: Array<{ method: string; path: string; body: string }>;
  close(): Promise<void>;
}

const GRAPH = 'https://graph.microsoft.com';

function normalize(pathAndQuery: string): string {
  try {
    return decodeURIComponent(pathAndQuery);
  } catch {
    return pathAndQuery;
  }
}

export async function startFixtureServer(): Promise<FixtureServer> {
  const routes = new Map<string, ScriptedAnswer[]>();
  const requests: FixtureServer['requests'] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      requests.push({ method: req.method ?? 'GET', path: req.url ?? '/', body });
      const key = `${req.method} ${normalize(req.url ?? '/')}`;
      let queue = routes.get(key);
      if (!queue) for (const [route, answers] of routes) if (route.endsWith('*') && key.startsWith(route.slice(0, -1))) queue = answers;
      if (!queue || queue.length === 0) {
        const notFound = { error: { code: 'ErrorItemNotFound', message: 'The specified object was not found in the store.', innerError: { 'request-id': 'fixture-server', date: new Date().toISOString().slice(0, 19) } } };
        res.writeHead(404, { 'Content-Type': 'application/json' }).end(JSON.stringify(notFound));
        return;
      }
      const answer = queue.length > 1 ? queue.shift()! : queue[0];
      res.writeHead(answer.status, { 'Content-Type': 'application/json', ...(answer.headers ?? {}) });
      res.end(answer.body === undefined ? undefined : JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const rewrite = (value: unknown): unknown => {
    if (typeof value === 'string') return value.startsWith(`${GRAPH}/`) ? origin + value.slice(GRAPH.length) : value;
    if (Array.isArray(value)) return value.map(rewrite);
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, rewrite(v)]));
    return value;
  };
  return {
    origin,
    graphBaseUrl: `${origin}/v1.0`,
    requests,
    on(method, pathAndQuery, ...answers) {
      routes.set(`${method.toUpperCase()} ${normalize(pathAndQuery)}`, [...answers]);
    },
    answer(golden) {
      const headers = Object.fromEntries(Object.entries(golden.headers ?? {}).filter(([name]) => !/^content-type$/i.test(name)));
      return { status: golden.status || 200, headers, body: rewrite(golden.body) };
    },
    local(link) {
      return link.startsWith(GRAPH) ? link.slice(GRAPH.length) : link;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
