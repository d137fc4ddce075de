/**
 * Reliability (issue 9, part 3b): hostile token-endpoint answers. A seeded loopback "identity platform" answers the
 * token endpoint with TOKEN_FUZZ_ANSWERS (default 10,000) malformed, wrongly typed, wrongly encoded, oversized, slow
 * or cut answers (and some good ones) to the project's OAuth core (simple-oauth2 under `MicrosoftOAuth`, through the
 * `TokenManager` for client credentials and directly for refresh-token redemptions). Every call must end, in time,
 * with either a usable token (a non-empty access token this server issued, a finite expiry) or an `OAuthError` with a
 * readable message; no unhandled rejection; and no secret (client secret, refresh token sent, any token in an answer:
 * all contain "SECRET") in any error message. Then a few hundred such answers reach a real Node-RED 4.1 process
 * (connector + poller): the runtime stays up, the failures show as red statuses / readable errors, no secret reaches
 * the log, and once the endpoint answers correctly again the poller recovers and delivers.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import axios from 'axios';
import type { NodeMessage } from 'node-red';
import { MicrosoftOAuth } from '../../src/core/auth/oauth';
import { OAuthError } from '../../src/core/auth/errors';
import { TokenManager } from '../../src/core/auth/token-manager';
import { MemoryTokenStore } from '../../src/core/auth/token-store';
import { APP_ONLY_SCOPE } from '../../src/core/elements';
import { SIM_CLIENT_ID, SIM_CLIENT_SECRET } from '../../src/simulator/identity';
import { startNodeRed, waitUntil, type NodeRedProcess } from '../support/nodered-process';
import { useSimulator } from '../support/simulator';
import { startCallbackReceiver } from '../support/callback-receiver';
import { prng } from '../support/prng';

const ANSWERS = Number(process.env.TOKEN_FUZZ_ANSWERS ?? 10_000);
/**
 * The Node-RED part runs for a fixed time: the connector backs off after transient failures (1 s doubling, full
 * jitter) and keeps a good token until Graph rejects it, so answers come at about one a second, not as fast as the
 * poller asks. At least NODE_RED_MIN_ANSWERS must have been served.
 */
const NODE_RED_SECONDS = 60;
const NODE_RED_MIN_ANSWERS = 30;
const SEED = Number(process.env.TOKEN_FUZZ_SEED ?? 20261123);
const FUZZ_CLIENT_SECRET = 'fuzz-client-SECRET-5bQ';

interface Answer {
  kind: string;
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  delayMs: number;
  /** Destroy the socket after half the body. */
  cut: boolean;
}

function makeAnswers(seed: number) {
  const random = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  let n = 0;
  const token = (prefix: string) => `${prefix}-SECRET-${(n += 1)}-${Math.floor(random() * 1e9).toString(36)}`;
  const json = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8');
  const good = () => ({ token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: token('AT'), refresh_token: token('RT'), scope: 'Mail.Read' });
  const bodies: Array<[string, () => Buffer]> = [
    ['good', () => json(good())],
    ['good, expires_in as string', () => json({ ...good(), expires_in: '3599' })],
    ['good, no refresh token', () => json({ ...good(), refresh_token: undefined })],
    ['good, garbage refresh token', () => json({ ...good(), refresh_token: pick([12, null, {}, [], ''] as const) })],
    ['good, odd token_type', () => json({ ...good(), token_type: pick(['mac', '', 42, null] as const) })],
    ['no access_token', () => json({ ...good(), access_token: undefined })],
    ['access_token not a string', () => json({ ...good(), access_token: pick([42, null, true, {}, ['x'], ''] as const) })],
    ['expires_in bad', () => json({ ...good(), expires_in: pick([-1, -3600, 'abc', 'NaN', null, {}, 1e300, '1e400', Infinity] as const) })],
    ['expires_in missing', () => json({ ...good(), expires_in: undefined })],
    ['error with description', () => json({ error: pick(['invalid_grant', 'invalid_client', 'temporarily_unavailable', 'interaction_required', 'server_error', 'unknown_x']), error_description: `AADSTS${Math.floor(random() * 900000)}: something failed.\r\nTrace ID: ${token('trace')}`, error_codes: [Math.floor(random() * 900000)] })],
    ['error without description', () => json({ error: pick(['invalid_grant', 'invalid_request', 'slow_down']) })],
    ['error not a string', () => json({ error: pick([42, null, {}, ['invalid_grant']] as const), error_description: 5 })],
    ['not JSON', () => Buffer.from(`access_token=${token('AT')}&expires_in=3599`, 'utf8')],
    ['HTML', () => Buffer.from(`<html><body><h1>Sign in</h1><p>${token('AT')}</p></body></html>`, 'utf8')],
    ['empty', () => Buffer.alloc(0)],
    ['truncated JSON', () => { const full = JSON.stringify(good()); return Buffer.from(full.slice(0, Math.floor(random() * (full.length - 1))), 'utf8'); }],
    ['invalid UTF-8', () => Buffer.concat([Buffer.from(`{"access_token":"${token('AT')}`, 'utf8'), Buffer.from([0xff, 0xfe, 0xc3, 0x28]), Buffer.from('","expires_in":3599}', 'utf8')])],
    ['JSON array', () => json([good()])],
    ['JSON string', () => json(token('AT'))],
    ['JSON null', () => Buffer.from('null')],
    ['JSON number', () => Buffer.from('3599')],
    ['deep JSON', () => Buffer.from(`${'['.repeat(5000)}${']'.repeat(5000)}`)],
    ['huge body', () => json({ ...good(), padding: 'x'.repeat(2 * 1024 * 1024) })],
    ['huge error description', () => json({ error: 'invalid_request', error_description: `AADSTS90014: ${'y'.repeat(100_000)} ${token('AT')}` })],
    ['BOM + JSON', () => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), json(good())])],
  ];
  const statuses = [200, 200, 200, 200, 400, 401, 403, 429, 500, 502, 503];
  const contentTypes = ['application/json; charset=utf-8', 'application/json', 'text/html', 'text/plain', '', 'application/x-www-form-urlencoded'];
  return (): Answer => {
    const [kind, body] = pick(bodies);
    const headers: Record<string, string> = {};
    const contentType = pick(contentTypes);
    if (contentType) headers['content-type'] = contentType;
    if (random() < 0.2) headers['retry-after'] = pick(['1', '0', '-5', 'soon', '99999999999', 'Wed, 21 Oct 2015 07:28:00 GMT', '']);
    return { kind, status: pick(statuses), headers, body: body(), delayMs: random() < 0.05 ? Math.floor(random() * 80) : 0, cut: random() < 0.02 };
  };
}

interface FuzzServer {
  url: string;
  served: number;
  /** While set, requests are forwarded to this identity platform instead (recovery). */
  forwardTo?: string;
  close(): Promise<void>;
}

async function startFuzzServer(next: () => Answer): Promise<FuzzServer> {
  const state: FuzzServer = { url: '', served: 0, close: async () => undefined };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => undefined);
    req.on('end', () => {
      if (state.forwardTo) {
        axios
          .post(`${state.forwardTo}${req.url ?? ''}`, Buffer.concat(chunks), { headers: { 'content-type': String(req.headers['content-type'] ?? '') }, validateStatus: () => true, responseType: 'arraybuffer' })
          .then((answer) => {
            res.writeHead(answer.status, { 'content-type': String(answer.headers['content-type'] ?? 'application/json') });
            res.end(Buffer.from(answer.data as ArrayBuffer));
          })
          .catch(() => res.destroy());
        return;
      }
      const answer = next();
      state.served += 1;
      setTimeout(() => {
        res.writeHead(answer.status, answer.headers);
        if (answer.cut) {
          res.write(answer.body.subarray(0, Math.floor(answer.body.length / 2)));
          setImmediate(() => res.destroy());
          return;
        }
        res.end(answer.body);
      }, answer.delayMs);
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}

describe(`reliability: ${ANSWERS} hostile token-endpoint answers to the OAuth core (seed ${SEED})`, function () {
  this.timeout(240_000);
  let fuzz: FuzzServer;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  before(async () => {
    fuzz = await startFuzzServer(makeAnswers(SEED));
    process.on('unhandledRejection', onUnhandled);
  });
  after(async () => {
    process.off('unhandledRejection', onUnhandled);
    await fuzz.close();
  });

  it('every call ends with a usable token or a readable OAuthError; no secret in any message; no unhandled rejection', async () => {
    const oauth = new MicrosoftOAuth({ authorityHost: fuzz.url, tenant: 'contoso', clientId: 'fuzz-client', clientSecret: FUZZ_CLIENT_SECRET, timeoutMs: 5000 });
    const outcomes = new Map<string, number>();
    const problems: string[] = [];
    let calls = 0;
    const one = async (i: number) => {
      const started = Date.now();
      try {
        let set: { accessToken: string; expiresAt: number };
        if (i % 2 === 0) {
          const manager = new TokenManager({ grantType: 'client_credentials', oauth, scope: APP_ONLY_SCOPE, store: new MemoryTokenStore(), transientRetries: 0, backoffBaseMs: 1, backoffMaxMs: 2 });
          try {
            const accessToken = await manager.getAccessToken();
            set = { accessToken, expiresAt: manager.status().expiresAt ?? NaN };
          } finally {
            manager.close();
          }
        } else {
          set = await oauth.refresh({ refreshToken: `RT-SECRET-sent-${i}`, scope: 'offline_access Mail.Read' });
        }
        if (typeof set.accessToken !== 'string' || !/^AT-SECRET-/.test(set.accessToken) || !Number.isFinite(set.expiresAt)) {
          problems.push(`call ${i}: unusable token accepted: ${JSON.stringify(set).slice(0, 120)}`);
        }
        outcomes.set('token', (outcomes.get('token') ?? 0) + 1);
      } catch (err) {
        const message = String((err as Error)?.message ?? err);
        if (!(err instanceof OAuthError)) problems.push(`call ${i}: not an OAuthError: ${(err as Error)?.name}: ${message.slice(0, 160)}`);
        if (/SECRET/.test(message) || /SECRET/.test(String((err as Error)?.stack))) problems.push(`call ${i}: secret in the error: ${message.slice(0, 200)}`);
        if (!message || message.length > 600) problems.push(`call ${i}: unreadable message (${message.length} chars)`);
        const code = err instanceof OAuthError ? err.error : 'other';
        outcomes.set(code, (outcomes.get(code) ?? 0) + 1);
      }
      if (Date.now() - started > 10_000) problems.push(`call ${i}: took ${Date.now() - started} ms`);
      calls += 1;
    };
    const CONCURRENCY = 8;
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < ANSWERS) await one(next++);
      }),
    );
    await new Promise((r) => setImmediate(r));
    console.log(`      token fuzz: ${calls} calls, ${fuzz.served} answers served; outcomes ${JSON.stringify(Object.fromEntries([...outcomes].sort((a, b) => b[1] - a[1])))}`);
    assert.deepEqual(problems.slice(0, 20), [], `${problems.length} problem(s)`);
    assert.equal(unhandled.length, 0, `unhandled rejections: ${unhandled.map(String).slice(0, 3).join('; ')}`);
    assert.ok(fuzz.served >= ANSWERS, `${fuzz.served} answers served`);
  });
});

describe(`reliability: ${NODE_RED_SECONDS} s of hostile token-endpoint answers to a real Node-RED 4.1 (connector + poller)`, function () {
  this.timeout(240_000);
  const sim = useSimulator();
  let fuzz: FuzzServer;
  let nr: NodeRedProcess;

  before(async () => {
    fuzz = await startFuzzServer(makeAnswers(SEED + 1));
    nr = await startNodeRed({ version: 4 });
    await waitUntil('first flow start', () => /Started flows/.test(nr.log()), 30_000);
  });
  after(async () => {
    await nr?.dispose();
    await fuzz?.close();
  });

  it('the runtime stays up, failures are readable, no secret in the log; a good endpoint again → the poller delivers', async () => {
    const receiver = await startCallbackReceiver();
    try {
      const user = sim().state.defaultUser.id;
      await nr.deploy([
        { id: 'tab', type: 'tab', label: 'token fuzz' },
        {
          id: 'conn', type: 'ms365-connector', name: 'Fuzz', elementKey: 'outlookemail', tenant: sim().state.tenantId, grantType: 'client_credentials',
          scope: '', callbackUrl: '', authorityHost: fuzz.url, graphBaseUrl: sim().graphBaseUrl, userId: user, tags: '',
          credentials: { clientId: SIM_CLIENT_ID, clientSecret: SIM_CLIENT_SECRET },
        },
        { id: 'tick', type: 'inject', z: 'tab', repeat: '0.2', once: true, onceDelay: 0.1, topic: '', payload: '', payloadType: 'date', wires: [['poll']] },
        { id: 'poll', type: 'ms365-poller', z: 'tab', connector: 'conn', interval: 60, timezone: 'UTC', configuration: '', pollOnStart: false, wires: [['out']] },
        { id: 'catch', type: 'catch', z: 'tab', scope: ['poll'], uncaught: false, wires: [[]] },
        { id: 'out', type: 'ms365-callback-out', z: 'tab', url: `${receiver.url}/events`, batchSize: '', retries: 3, wires: [[], []] },
      ]);
      await new Promise((r) => setTimeout(r, NODE_RED_SECONDS * 1000));
      console.log(`      token fuzz on Node-RED: ${fuzz.served} answers served in ${NODE_RED_SECONDS} s`);
      assert.ok(fuzz.served >= NODE_RED_MIN_ANSWERS, `${fuzz.served} token answers served (at least ${NODE_RED_MIN_ANSWERS})`);
      const alive = await nr.admin.get('settings');
      assert.equal(alive.status, 200, 'the runtime answers after the fuzz');

      // The endpoint is good again: forward to the simulated identity platform.
      fuzz.forwardTo = sim().authorityHost;
      const polls = sim().state.graph.requests.list(/messages\/delta/).filter((r) => r.status === 200).length;
      await waitUntil('a successful delta poll (the starting point)', () => sim().state.graph.requests.list(/messages\/delta/).filter((r) => r.status === 200).length > polls, 60_000);
      const message = sim().state.graph.store.createMessage(user, { subject: 'after the token fuzz' });
      await waitUntil('the new mail delivered', () => receiver.events().find((e) => e.objectId === message.id), 30_000);

      const log = nr.log();
      assert.doesNotMatch(log, /unhandled|uncaught/i);
      assert.ok(!/SECRET/.test(log), `no token from an answer in the log: ${log.split('\n').find((l) => /SECRET/.test(l))?.slice(0, 200)}`);
      assert.ok(!log.includes(SIM_CLIENT_SECRET), 'client secret absent from the log');
      assert.match(log, /Microsoft sign-in failed|ms365-poller: messages:/, 'failures are reported in readable words');
    } finally {
      await receiver.close();
    }
  });
});
