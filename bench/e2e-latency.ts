/**
 * bench/e2e-latency: end-to-end latency, change in the simulated tenant → event at the callback receiver, on a real
 * Node-RED 4.1 process (the packed package), for each path beside the flow a user would otherwise wire by hand from
 * core nodes, both fed by the same changes in the same run:
 *
 * - webhook: ms365-webhook-in (subscription on the mailbox, resource fetched) → ms365-callback-out (outbox, HMAC
 *   signature) vs. http in (handshake + 202) → function → http request (GET the message, static token) → function
 *   (envelope) → http request (POST to the receiver; no signature, no outbox, no dedupe, no retries).
 * - polling at an interval of INTERVAL seconds: ms365-poller (mail delta) → ms365-callback-out vs. inject (every
 *   INTERVAL s) → function (deltaLink in flow context) → http request → function (split; a nextLink loops back to
 *   the http request at once, the deltaLink is kept for the next tick) → http request (POST). Latency here is mostly the wait for the next poll: about INTERVAL / 2 on average for both.
 *
 * The simulator and the receiver run in this process, so both ends of each latency are read on one clock.
 *
 *   npx tsx bench/e2e-latency.ts [--changes 200] [--interval 5]
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import axios from 'axios';
import { startSimulator } from '../src/simulator/server';
import { SIM_CLIENT_ID, SIM_CLIENT_SECRET } from '../src/simulator/identity';
import { startNodeRed, waitUntil } from '../test/support/nodered-process';
import { report } from './report';
import { numberArg, percentile } from './measure';

const CHANGES = numberArg('--changes', 200);
const INTERVAL = numberArg('--interval', 5);
const POLL_CHANGES = Math.max(20, Math.round(CHANGES / 4));

/** Arrival time (performance.now) of each objectId per receiver path. */
async function startReceiver() {
  const arrivals = new Map<string, Map<string, number>>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = performance.now();
      try {
        const events = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { message: { events: Array<{ objectId: string }> } }).message.events;
        const seen = arrivals.get(req.url ?? '') ?? new Map<string, number>();
        arrivals.set(req.url ?? '', seen);
        for (const e of events) if (!seen.has(e.objectId)) seen.set(e.objectId, at);
        res.statusCode = 200;
      } catch {
        res.statusCode = 400;
      }
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    arrival: (path: string, id: string) => arrivals.get(path)?.get(id),
    counts: () => Object.fromEntries([...arrivals].map(([p, m]) => [p, m.size])),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const envelopeFn = [
  "const m = msg.payload || {};",
  "msg.payload = { message: { events: [{ eventType: msg.eventType, objectType: 'messages', objectId: m.id, raw: m }] } };",
  "msg.method = 'POST'; msg.url = env.get('BENCH_RECEIVER') + msg.target; msg.headers = { 'content-type': 'application/json' };",
  'return msg;',
].join('\n');

async function main(): Promise<void> {
  const sim = await startSimulator();
  const receiver = await startReceiver();
  const tenant = sim.state.tenantId;
  const user = sim.state.defaultUser.id;
  const token = (
    await axios.post(
      `${sim.authorityHost}/${tenant}/oauth2/v2.0/token`,
      new URLSearchParams({ grant_type: 'client_credentials', client_id: SIM_CLIENT_ID, client_secret: SIM_CLIENT_SECRET, scope: 'https://graph.microsoft.com/.default' }).toString(),
      { headers: { 'content-type': 'application/x-www-form-urlencoded' } },
    )
  ).data.access_token as string;
  const nr = await startNodeRed({ version: 4, env: { BENCH_TOKEN: token, BENCH_GRAPH: sim.graphBaseUrl, BENCH_RECEIVER: receiver.url, BENCH_USER: user } });
  const httpRequest = (id: string, wires: string[]) => ({ id, type: 'http request', z: 'bench', name: '', method: 'use', ret: 'obj', paytoqs: 'ignore', url: '', tls: '', persist: true, proxy: '', insecureHTTPParser: false, authType: '', senderr: false, headers: [], wires: [wires] });
  try {
    await waitUntil('first flow start', () => /Started flows/.test(nr.log()));
    await nr.deploy([
      { id: 'bench', type: 'tab', label: 'bench' },
      {
        id: 'conn', type: 'ms365-connector', name: 'bench', elementKey: 'outlookemail', tenant, grantType: 'client_credentials', scope: '', callbackUrl: '',
        authorityHost: sim.authorityHost, graphBaseUrl: sim.graphBaseUrl, userId: user, tags: '', credentials: { clientId: SIM_CLIENT_ID, clientSecret: SIM_CLIENT_SECRET },
      },
      // Ours, webhook.
      {
        id: 'hook', type: 'ms365-webhook-in', z: 'bench', connector: 'conn', path: '/bench/hook', notificationUrl: nr.url.replace(/\/$/, ''), fetchResource: true, wires: [['outHook'], []],
        subscriptions: JSON.stringify([{ resource: 'me/messages', changeType: 'created', expirationMinutes: 60 }]),
      },
      { id: 'outHook', type: 'ms365-callback-out', z: 'bench', url: `${receiver.url}/ours-webhook`, batchSize: '', retries: 3, credentials: { signatureKey: 'bench-key' }, wires: [[], []] },
      // Ours, polling.
      {
        id: 'poll', type: 'ms365-poller', z: 'bench', connector: 'conn', interval: INTERVAL / 60, timezone: 'UTC', pollOnStart: true, wires: [['outPoll']],
        configuration: JSON.stringify({ messages: { url: '/me/mailFolders/inbox/messages/delta', idField: 'id' } }),
      },
      { id: 'outPoll', type: 'ms365-callback-out', z: 'bench', url: `${receiver.url}/ours-polling`, batchSize: '', retries: 3, credentials: { signatureKey: 'bench-key' }, wires: [[], []] },
      // Hand-wired, webhook.
      { id: 'hin', type: 'http in', z: 'bench', url: '/bench/hand', method: 'post', upload: false, wires: [['hfn']] },
      {
        id: 'hfn', type: 'function', z: 'bench', outputs: 2, wires: [['hres'], ['hget']],
        func: [
          'const token = msg.req.query.validationToken;',
          "if (token) { msg.statusCode = 200; msg.headers = { 'content-type': 'text/plain' }; msg.payload = token; return [msg, null]; }",
          "const items = (msg.payload && msg.payload.value) || [];",
          'const out = items.map((n) => ({',
          "  method: 'GET', url: env.get('BENCH_GRAPH') + '/' + n.resource, headers: { authorization: 'Bearer ' + env.get('BENCH_TOKEN') },",
          "  eventType: 'CREATED', target: '/hand-webhook',",
          '}));',
          "return [{ req: msg.req, res: msg.res, statusCode: 202, payload: '' }, out];",
        ].join('\n'),
      },
      { id: 'hres', type: 'http response', z: 'bench', statusCode: '', wires: [] },
      httpRequest('hget', ['henv']),
      { id: 'henv', type: 'function', z: 'bench', outputs: 1, func: envelopeFn, wires: [['hpost']] },
      httpRequest('hpost', []),
      // Hand-wired, polling.
      { id: 'tick', type: 'inject', z: 'bench', repeat: String(INTERVAL), once: true, onceDelay: 0.1, topic: '', payload: '', payloadType: 'date', wires: [['pfn']] },
      {
        id: 'pfn', type: 'function', z: 'bench', outputs: 1, wires: [['pget']],
        func: [
          "msg.url = flow.get('deltaLink') || (env.get('BENCH_GRAPH') + '/users/' + env.get('BENCH_USER') + '/mailFolders/inbox/messages/delta');",
          "msg.method = 'GET'; msg.headers = { authorization: 'Bearer ' + env.get('BENCH_TOKEN') }; msg.first = !flow.get('deltaLink');",
          'return msg;',
        ].join('\n'),
      },
      httpRequest('pget', ['psplit']),
      {
        id: 'psplit', type: 'function', z: 'bench', outputs: 2, wires: [['henv'], ['pget']],
        func: [
          'const body = msg.payload || {};',
          "if (body['@odata.deltaLink']) flow.set('deltaLink', body['@odata.deltaLink']);",
          '// The next page at once (a round reads every page); the starting point emits nothing.',
          "const next = body['@odata.nextLink'] ? { url: body['@odata.nextLink'], method: 'GET', headers: { authorization: 'Bearer ' + env.get('BENCH_TOKEN') }, first: msg.first } : null;",
          "const events = msg.first ? [] : (body.value || []).map((m) => ({ payload: m, eventType: 'CREATED', target: '/hand-polling' }));",
          'return [events, next];',
        ].join('\n'),
      },
    ]);
    await waitUntil('our subscription', () => sim.state.graph.requests.list(/\/subscriptions$/).some((r) => r.method === 'POST' && r.status === 201), 30_000);
    const sub = await axios.post(
      `${sim.graphBaseUrl}/subscriptions`,
      { changeType: 'created', notificationUrl: `${nr.url}bench/hand`, resource: `users/${user}/messages`, expirationDateTime: new Date(Date.now() + 3_000_000).toISOString(), clientState: 'hand' },
      { headers: { authorization: `Bearer ${token}` }, validateStatus: () => true },
    );
    if (sub.status !== 201) throw new Error(`hand-wired subscription: ${sub.status} ${JSON.stringify(sub.data)}`);
    await new Promise((r) => setTimeout(r, (INTERVAL + 2) * 1000)); // both pollers have their starting point

    const store = sim.state.graph.store;
    const measure = async (count: number, spacing: () => number, paths: [string, string]) => {
      const made: Array<{ id: string; at: number }> = [];
      for (let i = 0; i < count; i += 1) {
        const at = performance.now();
        made.push({ id: String(store.createMessage(user, { subject: `latency ${i}` }).id), at });
        await new Promise((r) => setTimeout(r, spacing()));
      }
      await waitUntil(`${count} changes at both receivers`, () => made.every((m) => paths.every((p) => receiver.arrival(p, m.id) !== undefined)), 60_000 + INTERVAL * 2000).catch((err: Error) => {
        throw new Error(`${err.message} (received per path: ${JSON.stringify(receiver.counts())})\n${nr.log().slice(-2000)}`);
      });
      return paths.map((p) => {
        const latencies = made.map((m) => receiver.arrival(p, m.id)! - m.at).sort((a, b) => a - b);
        return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies[latencies.length - 1]! };
      });
    };

    const [hookOurs, hookHand] = await measure(CHANGES, () => 100 + Math.random() * 100, ['/ours-webhook', '/hand-webhook']);
    const [pollOurs, pollHand] = await measure(POLL_CHANGES, () => 500 + Math.random() * 2000, ['/ours-polling', '/hand-polling']);

    const ms = (n: number) => `${n.toFixed(1)} ms`;
    console.log(`bench/e2e-latency: Node-RED ${nr.version} (Node ${process.version}); ${CHANGES} webhook changes, ${POLL_CHANGES} polling changes at an interval of ${INTERVAL} s`);
    console.log(`  webhook  ours (webhook-in → callback-out, signed, outbox):  p50 ${ms(hookOurs!.p50)}  p99 ${ms(hookOurs!.p99)}  max ${ms(hookOurs!.max)}`);
    console.log(`  webhook  hand-wired (http in → http request ×2):           p50 ${ms(hookHand!.p50)}  p99 ${ms(hookHand!.p99)}  max ${ms(hookHand!.max)}`);
    console.log(`  polling  ours (poller delta → callback-out):                p50 ${ms(pollOurs!.p50)}  p99 ${ms(pollOurs!.p99)}  max ${ms(pollOurs!.max)}`);
    console.log(`  polling  hand-wired (inject → http request ×2):             p50 ${ms(pollHand!.p50)}  p99 ${ms(pollHand!.p99)}  max ${ms(pollHand!.max)}`);
    const hookBase = 'hand-wired http in → function → http request ×2 (no signature, outbox, dedupe)';
    const pollBase = `hand-wired inject every ${INTERVAL} s → function → http request ×2 (no signature, outbox, dedupe)`;
    report({ figure: 'end-to-end latency, webhook, p50', value: hookOurs!.p50, unit: 'ms', baseline: { what: hookBase, value: hookHand!.p50 }, ratio: hookOurs!.p50 / hookHand!.p50 });
    report({ figure: 'end-to-end latency, webhook, p99', value: hookOurs!.p99, unit: 'ms', baseline: { what: hookBase, value: hookHand!.p99 }, ratio: hookOurs!.p99 / hookHand!.p99 });
    report({ figure: `end-to-end latency, polling every ${INTERVAL} s, p50`, value: pollOurs!.p50, unit: 'ms', baseline: { what: pollBase, value: pollHand!.p50 }, ratio: pollOurs!.p50 / pollHand!.p50 });
    report({ figure: `end-to-end latency, polling every ${INTERVAL} s, p99`, value: pollOurs!.p99, unit: 'ms', baseline: { what: pollBase, value: pollHand!.p99 }, ratio: pollOurs!.p99 / pollHand!.p99 });
  } finally {
    await nr.dispose();
    await receiver.close();
    await sim.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
