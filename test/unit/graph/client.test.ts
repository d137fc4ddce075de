/**
 * GraphClient against a loopback Graph stand-in whose tokens come from the simulated identity platform (the
 * simulator's own Graph routes and faults are another issue's work; this stand-in scripts status codes only).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { simAppTokens, useSimulator } from '../../support/simulator';
import type { TokenManager } from '../../../src/core/auth/token-manager';
import { GraphClient, GraphError, type TokenSource } from '../../../src/core/graph/client';
import { Ms365Error } from '../../../src/core/errors';

interface Scripted {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  delayMs?: number;
}

interface Seen {
  at: number;
  path: string;
  authorization?: string;
}

async function listen(app: express.Express): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('graph: GraphClient', () => {
  const sim = useSimulator();
  const script: Scripted[] = [];
  const seen: Seen[] = [];
  const foreignSeen: Seen[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let graph: { url: string; close: () => Promise<void> };
  let foreign: { url: string; close: () => Promise<void> };

  before(async () => {
    const app = express();
    app.use(async (req, res) => {
      seen.push({ at: Date.now(), path: req.url, authorization: req.headers.authorization });
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        const next = script.shift();
        if (next?.delayMs) await new Promise((r) => setTimeout(r, next.delayMs));
        if (next) return void res.status(next.status).set(next.headers ?? {}).json(next.body ?? {});
        const check = sim().state.accessTokens.check(req.headers.authorization);
        if (!check.ok) return void res.status(401).json(check.body);
        if (req.url.startsWith('/v1.0/slow')) await new Promise((r) => setTimeout(r, 100));
        res.json({ value: [], path: req.url });
      } finally {
        inFlight--;
      }
    });
    graph = await listen(app);
    const other = express();
    other.use((req, res) => {
      foreignSeen.push({ at: Date.now(), path: req.url, authorization: req.headers.authorization });
      res.json({});
    });
    foreign = await listen(other);
  });
  after(async () => {
    await graph.close();
    await foreign.close();
  });
  beforeEach(() => {
    script.length = 0;
    seen.length = 0;
    inFlight = 0;
    maxInFlight = 0;
  });

  const tokens = (): TokenManager => simAppTokens(sim());

  function client(source: TokenSource = tokens(), extra: Partial<ConstructorParameters<typeof GraphClient>[0]> = {}): GraphClient {
    return new GraphClient({ baseUrl: `${graph.url}/v1.0/`, tokens: source, ...extra });
  }

  it('get(relative path) sends the bearer token to baseUrl + path', async () => {
    const data = await client().get<{ path: string }>('/users/u1/messages?$top=2');
    assert.equal(data.path, '/v1.0/users/u1/messages?$top=2');
    assert.match(seen[0].authorization ?? '', /^Bearer sim-at-/);
  });

  it('401 once: onUnauthorized refreshes the token and the request is retried with the new one', async () => {
    const source = tokens();
    const first = await source.getAccessToken();
    sim().state.accessTokens.revokeAll();
    const data = await client(source).get<{ path: string }>('/me');
    assert.equal(data.path, '/v1.0/me');
    assert.equal(seen.length, 2);
    assert.equal(seen[0].authorization, `Bearer ${first}`);
    assert.notEqual(seen[1].authorization, `Bearer ${first}`);
  });

  it('401 twice: GraphError 401 InvalidAuthenticationToken after exactly one retry', async () => {
    const body = { error: { code: 'InvalidAuthenticationToken', message: 'Access token has expired or is not yet valid.' } };
    script.push({ status: 401, body }, { status: 401, body });
    const err = await client().get('/me').catch((e: unknown) => e);
    assert.ok(err instanceof GraphError);
    assert.equal(err.status, 401);
    assert.equal(err.graphCode, 'InvalidAuthenticationToken');
    assert.equal(seen.length, 2);
  });

  it('429 with Retry-After: 1 waits about a second (request log times) and then succeeds', async () => {
    script.push({ status: 429, headers: { 'Retry-After': '1' }, body: { error: { code: 'TooManyRequests', message: 'Please retry again later.' } } });
    await client().get('/me/messages');
    assert.equal(seen.length, 2);
    const waited = seen[1].at - seen[0].at;
    assert.ok(waited >= 950, `retried after ${waited} ms`);
  });

  it('429 with an HTTP-date Retry-After is read against the answer\'s Date (Graph\'s clock), not ours', async () => {
    // Graph's clock is an hour behind ours: "retry 2 s after my now" must not be taken for "already past".
    const graphNow = Date.now() - 3_600_000;
    const httpDate = (ms: number) => new Date(ms).toUTCString();
    const delays: number[] = [];
    script.push({ status: 429, headers: { Date: httpDate(graphNow), 'Retry-After': httpDate(graphNow + 2000) }, body: { error: { code: 'TooManyRequests', message: 'Please retry again later.' } } });
    const c = client(tokens(), { sleep: async (ms) => void delays.push(ms) });
    await c.get('/me/messages');
    assert.deepEqual(delays, [2000]);
  });

  it('503 and 504 without Retry-After: exponential backoff with jitter, bounded by maxRetries', async () => {
    const delays: number[] = [];
    script.push({ status: 503 }, { status: 504 }, { status: 503 });
    const c = client(tokens(), { maxRetries: 2, backoffBaseMs: 100, sleep: async (ms) => void delays.push(ms) });
    const err = await c.get('/me').catch((e: unknown) => e);
    assert.ok(err instanceof GraphError && err.status === 503);
    assert.equal(seen.length, 3);
    assert.equal(delays.length, 2);
    assert.ok(delays[0] <= 100 && delays[1] <= 200);
  });

  it('404 is not retried; 410 carries Location and the request id', async () => {
    script.push({ status: 404, body: { error: { code: 'ResourceNotFound', message: 'nope' } } });
    const notFound = await client().get('/me/x').catch((e: unknown) => e);
    assert.ok(notFound instanceof GraphError && notFound.status === 404 && notFound.graphCode === 'ResourceNotFound');
    assert.equal(seen.length, 1);
    script.push({
      status: 410,
      headers: { Location: `${graph.url}/v1.0/me/mailFolders/inbox/messages/delta?$deltatoken=latest`, 'request-id': 'req-123' },
      body: { error: { code: 'SyncStateNotFound', message: 'resync' } },
    });
    const gone = await client().get('/me/mailFolders/inbox/messages/delta').catch((e: unknown) => e);
    assert.ok(gone instanceof GraphError);
    assert.equal(gone.status, 410);
    assert.equal(gone.location, `${graph.url}/v1.0/me/mailFolders/inbox/messages/delta?$deltatoken=latest`);
    assert.equal(gone.requestId, 'req-123');
    assert.equal(seen.length, 2);
  });

  it('an absolute nextLink on the Graph origin is followed', async () => {
    const data = await client().get<{ path: string }>(`${graph.url}/v1.0/me/messages?$skiptoken=abc`);
    assert.equal(data.path, '/v1.0/me/messages?$skiptoken=abc');
  });

  it('a nextLink to another host or port is refused: no token is fetched and nothing is sent there', async () => {
    let asked = 0;
    const source: TokenSource = {
      getAccessToken: async () => {
        asked++;
        return 'secret-token';
      },
      onUnauthorized: async () => undefined,
    };
    for (const url of [`${foreign.url}/v1.0/me/messages?$skiptoken=abc`, 'https://evil.example/v1.0/me', '//evil.example/x']) {
      const err = await client(source).get(url).catch((e: unknown) => e);
      assert.ok(err instanceof Ms365Error && err.code === 'foreign_url', String(err));
    }
    assert.equal(asked, 0);
    assert.equal(foreignSeen.length, 0);
  });

  it('twelve parallel requests: never more than 4 in flight', async () => {
    const c = client();
    await Promise.all(Array.from({ length: 12 }, (_, i) => c.get(`/slow/${i}`)));
    assert.equal(seen.length, 12);
    assert.ok(maxInFlight <= 4 && maxInFlight >= 2, `max in flight ${maxInFlight}`);
  });

  it('an aborted signal rejects with code aborted', async () => {
    const controller = new AbortController();
    script.push({ status: 200, delayMs: 2000 });
    const pending = client().request({ url: '/me', signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await assert.rejects(pending, (e: unknown) => e instanceof Ms365Error && e.code === 'aborted');
  });

  it('a request slower than timeoutMs fails with network_error after the retries', async () => {
    script.push({ status: 200, delayMs: 1000 }, { status: 200, delayMs: 1000 });
    const c = client(tokens(), { timeoutMs: 100, maxRetries: 1, sleep: async () => undefined });
    await assert.rejects(c.get('/me'), (e: unknown) => e instanceof Ms365Error && e.code === 'network_error');
  });
});
