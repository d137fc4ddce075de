/**
 * Reliability (issue 9, part 3): a fuzz run of hostile webhook requests against ms365-webhook-in on a real
 * Node-RED 4.1 process loading the packed package. Random bytes, invalid UTF-8, truncated JSON, JSON of wrong
 * shapes, deep nesting, bodies just over the 1 MB limit, wrong content types, validationToken edge cases and
 * methods other than POST: every answer is a handshake (200), an accepted collection (202) or a 4xx, within a
 * per-request deadline; the process survives and still answers a valid handshake; no secret in any answer or log
 * (`reference/graph.md` §1–§2, CONTRACT "ms365-webhook-in").
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { startNodeRed, waitUntil, type NodeRedProcess } from '../support/nodered-process';
import { useSimulator } from '../support/simulator';
import { SIM_CLIENT_ID, SIM_CLIENT_SECRET } from '../../src/simulator/identity';
import { prng } from '../support/prng';

const CLIENT_STATE = `fuzz-client-state-${crypto.randomBytes(8).toString('hex')}`;
const TOTAL = 10_000;
const IN_FLIGHT = 16;
const REQUEST_TIMEOUT_MS = 15_000;
const ONE_MB = 1024 * 1024;

interface FuzzRequest {
  kind: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

interface FuzzAnswer {
  kind: string;
  status: number;
  body: string;
}

function generator(seed: number): (i: number) => FuzzRequest {
  const rand = prng(seed);
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
  const json = (v: unknown) => Buffer.from(JSON.stringify(v), 'utf8');
  const contentTypes = ['application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16', 'application/json; charset=latin1', 'image/png', ''];
  const notification = () => ({
    subscriptionId: crypto.randomUUID(),
    clientState: pick(['wrong-state', '', null, 5, { a: 1 }]),
    changeType: pick(['created', 'updated', 'deleted', 'exploded', 7, null]),
    resource: pick(['Users/u/Messages/m', '', null, 12, '../../etc/passwd']),
    resourceData: pick([{ id: 'm1', '@odata.type': '#Microsoft.Graph.Message' }, null, 'x', [1, 2]]),
    lifecycleEvent: pick([undefined, 'reauthorizationRequired', 'missed', 'subscriptionRemoved', 'bogus']),
    tenantId: pick([crypto.randomUUID(), 4, undefined]),
  });
  const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
  const bodies: Array<[string, () => Buffer]> = [
    ['random bytes', () => bytes(int(2048))],
    ['invalid utf-8', () => Buffer.concat([Buffer.from('{"value":[{"clientState":"'), Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x28, 0x8c, 0xbc, 0xff]), Buffer.from('"}]}')])],
    ['truncated json', () => { const b = json({ value: [notification(), notification()] }); return b.subarray(0, int(b.length)); }],
    ['wrong shape: value number', () => json({ value: 5 })],
    ['wrong shape: value [null]', () => json({ value: [null] })],
    ['wrong shape: value string', () => json({ value: 'x' })],
    ['wrong shape: value objects', () => json({ value: [{}, { value: [] }, 3, 'x', true] })],
    ['wrong shape: top-level', () => json(pick([null, 5, 'str', [], [1, 2], true, {}]))],
    ['notification-like, wrong fields', () => json({ value: Array.from({ length: 1 + int(5) }, notification) })],
    ['deeply nested arrays', () => Buffer.from(`{"value":${nested(1000 + int(20_000))}}`)],
    ['deeply nested objects', () => { const d = 1000 + int(5000); return Buffer.from('{"a":'.repeat(d) + '1' + '}'.repeat(d)); }],
    ['huge string inside', () => json({ value: [{ clientState: 'x'.repeat(200_000 + int(600_000)) }] })],
    ['empty body', () => Buffer.alloc(0)],
    ['utf-16 json', () => Buffer.from(JSON.stringify({ value: [notification()] }), 'utf16le')],
    ['bom + json', () => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), json({ value: [] })])],
    ['form body', () => Buffer.from('value=1&value[0][clientState]=x&__proto__[polluted]=1')],
    ['proto pollution json', () => Buffer.from('{"value":[],"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}}}')],
    ['numbers edge', () => Buffer.from('{"value":[1e999999,-0,NaN]}')],
  ];
  const tokens = ['', ' ', '+', '%2B', '%', '%E0%A4%A', '%FF%FE', 'a'.repeat(4000), '<script>alert(1)</script>', '%00', '\u00e9', 'x&validationToken=y'];
  return (i: number): FuzzRequest => {
    const mode = int(100);
    const ct = pick(contentTypes);
    const headers: Record<string, string> = ct ? { 'content-type': ct } : {};
    if (i % 1000 === 999) {
      // Just over the 1 MB limit (a few dozen of them in the run): 413 expected.
      return { kind: 'oversized', method: 'POST', path: '/fuzz', headers: { 'content-type': 'application/json' }, body: Buffer.concat([Buffer.from('{"value":["'), Buffer.alloc(ONE_MB + int(4096), 0x61), Buffer.from('"]}')]) };
    }
    if (mode < 12) {
      const token = pick(tokens);
      const query = pick([`validationToken=${encodeURIComponent(token)}`, `validationToken=${token.replace(/[&#\s]/g, '')}`, 'validationToken', 'validationToken=a&validationToken=b', 'validationToken[]=a', 'validationToken[x]=a', 'validationtoken=a']);
      return { kind: 'validationToken edge', method: pick(['POST', 'POST', 'GET']), path: `/fuzz?${query}`, headers, body: rand() < 0.5 ? bytes(int(64)) : undefined };
    }
    if (mode < 20) {
      return { kind: 'other method', method: pick(['GET', 'PUT', 'DELETE', 'PATCH', 'HEAD']), path: pick(['/fuzz', '/fuzz/', '/fuzz/x', '/fuzz?validationToken=a']), headers, body: pick([undefined, json({ value: [] })]) };
    }
    if (mode < 24) return { kind: 'wrong path', method: 'POST', path: pick(['/fuzz2', '/FUZZ/x', '/%', '/fuzz/../fuzz2', '/fuzz%00']), headers, body: json({ value: [] }) };
    const [kind, make] = pick(bodies);
    return { kind, method: 'POST', path: '/fuzz', headers, body: make() };
  };
}

function send(agent: http.Agent, base: URL, req: FuzzRequest): Promise<FuzzAnswer> {
  return new Promise((resolve, reject) => {
    const r = http.request(
      { host: base.hostname, port: base.port, method: req.method, path: req.path, headers: { ...req.headers, ...(req.body ? { 'content-length': String(req.body.length) } : {}) }, agent, timeout: REQUEST_TIMEOUT_MS },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ kind: req.kind, status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    r.on('timeout', () => r.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms (${req.kind} ${req.method} ${req.path.slice(0, 80)})`)));
    r.on('error', reject);
    r.end(req.body);
  });
}

describe('reliability: webhook fuzz on Node-RED 4.1', function () {
  this.timeout(240_000);
  const sim = useSimulator();
  let nr: NodeRedProcess;

  before(async () => {
    nr = await startNodeRed({ version: 4 });
    await waitUntil('first flow start', () => /Started flows/.test(nr.log()), 30_000);
    await nr.deploy([
      { id: 'tab', type: 'tab', label: 'fuzz' },
      {
        id: 'conn', type: 'ms365-connector', name: 'Fuzz', elementKey: 'outlookemail', tenant: sim().state.tenantId, grantType: 'client_credentials',
        scope: '', callbackUrl: '', authorityHost: sim().authorityHost, graphBaseUrl: sim().graphBaseUrl, userId: sim().state.defaultUser.id, tags: '',
        credentials: { clientId: SIM_CLIENT_ID, clientSecret: SIM_CLIENT_SECRET },
      },
      {
        id: 'hook', type: 'ms365-webhook-in', z: 'tab', connector: 'conn', path: '/fuzz', notificationUrl: nr.url.replace(/\/$/, ''),
        subscriptions: '[]', fetchResource: false, credentials: { clientState: CLIENT_STATE }, wires: [[], []],
      },
    ]);
    await waitUntil('route up', async () => (await nr.admin.post('fuzz?validationToken=ready')).status === 200, 30_000);
  });
  after(async () => {
    await nr?.dispose();
  });

  it(`${TOTAL} hostile requests: each answers 200/202/4xx in time, the process lives on, no secret leaks`, async () => {
    const base = new URL(nr.url);
    const agent = new http.Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
    const next = generator(0x9e3779b9);
    const answers: FuzzAnswer[] = [];
    const failures: string[] = [];
    let issued = 0;
    const started = Date.now();
    const worker = async () => {
      while (issued < TOTAL) {
        const req = next(issued++);
        try {
          answers.push(await send(agent, base, req));
        } catch (err) {
          // A connection the server closed after an oversized/invalid request is a refusal, not a crash; anything
          // else (timeout, reset without answer) is recorded.
          failures.push(`${req.kind}: ${(err as Error).message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    agent.destroy();
    const seconds = ((Date.now() - started) / 1000).toFixed(1);

    const byStatus = new Map<number, number>();
    for (const a of answers) byStatus.set(a.status, (byStatus.get(a.status) ?? 0) + 1);
    console.log(`      fuzz: ${issued} requests in ${seconds} s, statuses ${JSON.stringify(Object.fromEntries(byStatus))}, transport failures ${failures.length}`);

    assert.deepEqual(failures.slice(0, 10), [], 'every request got an answer in time');
    // 415: Node-RED's own JSON body parser (before the node's route) refuses charsets it cannot decode.
    const allowed = new Set([200, 202, 400, 404, 405, 413, 415]);
    const bad = answers.filter((a) => !allowed.has(a.status));
    assert.deepEqual(bad.slice(0, 5).map((a) => `${a.kind} → ${a.status} ${a.body.slice(0, 200)}`), [], 'only 200/202/400/404/405/413/415');
    const oversized = answers.filter((a) => a.kind === 'oversized');
    assert.ok(oversized.length >= 10 && oversized.every((a) => a.status === 400 || a.status === 413), 'bodies over 1 MB are refused with a 4xx');
    // Known (not asserted): Express's default error handler answers body-parser errors with an HTML stack trace.
    const stackAnswers = answers.filter((a) => /\n\s+at |&nbsp;at /.test(a.body)).length;
    if (stackAnswers) console.log(`      fuzz: ${stackAnswers} answers carry a stack trace (Node-RED body parser → Express default error handler)`);
    for (const a of answers) {
      assert.ok(!a.body.includes(CLIENT_STATE), `clientState absent from the answer to ${a.kind}`);
      assert.ok(!a.body.includes(SIM_CLIENT_SECRET), `client secret absent from the answer to ${a.kind}`);
    }

    // Still alive and answering the handshake.
    const handshake = await nr.admin.post('fuzz?validationToken=still%20alive', '', { headers: { 'content-type': 'text/plain' } });
    assert.equal(handshake.status, 200);
    assert.equal(handshake.data, 'still alive');

    const log = nr.log();
    assert.doesNotMatch(log, /unhandled/i, 'no unhandled rejection/error in the log');
    assert.doesNotMatch(log, /uncaught/i, 'no uncaught exception in the log');
    // With the admin and node roots both at `/` (this harness), Node-RED's editor-api mounts body-parser on every
    // request (`@node-red/editor-api/lib/index.js`), so a body it cannot decode ends in Express's default error
    // handler, which logs the parser's stack. Those traces are Node-RED's, before any route of this package; any
    // other stack trace (or one that passes through this package) fails the run.
    const stacks = [...log.matchAll(/^(\S.*)\n((?:[ \t]+at .*(?:\n|$))+)/gm)].map((m) => m[0]);
    const ours = stacks.filter((t) => !/@node-red[\\/]editor-api[\\/]node_modules[\\/]body-parser/.test(t) || /ms365/.test(t));
    assert.deepEqual(ours.slice(0, 3), [], 'no stack trace in the log beyond Node-RED\'s own body parser');
    if (stacks.length) console.log(`      fuzz: ${stacks.length} stack traces in the log, all from Node-RED's editor-api body parser`);
    assert.ok(!log.includes(CLIENT_STATE), 'clientState absent from the log');
    assert.ok(!log.includes(SIM_CLIENT_SECRET), 'client secret absent from the log');
  });
});
