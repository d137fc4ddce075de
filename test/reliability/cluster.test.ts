/**
 * Cluster mode (issue 17 "Tests") on THREE real Node-RED 4.1 processes (packed package), one real redis-server
 * (append-only, `appendfsync always`, as docs/cluster.md asks) and the simulated tenant. Every instance runs the same
 * flow (same node ids): ms365-cluster ← ms365-connector (app-only) ← ms365-poller (mail by delta every 1.2 s) and
 * ms365-webhook-in (contacts, created and updated, subscriptions of 1 minute: renewed about every 30 s), both wired to
 * ms365-callback-out (file mode, its own outbox per instance) → one loopback receiver. The simulator posts
 * notifications to a round-robin proxy in front of the three instances' HTTP ports (an instance that is down or
 * answers 404/5xx is skipped, as a load balancer's health check would), so they are spread over the cluster.
 * Lease TTL 3 s (`ms365ClusterLeaseMs`).
 * At deploy: one subscription for the webhook-in node across the three instances (its subscription owner), one grant.
 * (a) 5 minutes of steady changes (mail for the poller, contacts created and updated for the webhooks, notifications
 *     spread over the three instances): every change out exactly once across the cluster, every eventId once; the
 *     one subscription renewed once per cycle, none created;
 * (b) the poller owner SIGKILLed 10 times (and started again): nothing lost, a repeat only with the same eventId,
 *     failover time (kill → another instance holds the lease) printed; still one subscription, none created (the
 *     killed instance usually owns the subscriptions too: another adopts them; how often is printed);
 * (c) the owner SIGSTOPped past its lease, then SIGCONT, with notifications flowing (those sent to the stopped
 *     instance are retried by Graph to another one, and handled by both once it resumes): no write of it accepted
 *     (the cursor record's fencing number never goes back), no change with two eventIds, every notification out once,
 *     no subscription created;
 * (d) the token expired on all three at once, all three call Graph: exactly one grant per expiry at the simulator;
 * (e) redis-server restarted while changes flow, twice: stopped (SIGTERM) for two lease TTLs (every lease lapses),
 *     then SIGKILLed and started at once (appendfsync always): every change out, a repeat only with the same
 *     eventId, fencing numbers survive (and grow after the lapse); downtime and recovery times printed.
 * About 7.5 minutes. `MS365_CLUSTER_STEADY_S` shortens (a) for a quick local run (default 300, as the issue asks).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startNodeRed, waitUntil, type NodeRedProcess } from '../support/nodered-process';
import { useSimulator } from '../support/simulator';
import { useRedisServer } from '../support/redis';
import { singlePool, startRoundRobinProxy, type RoundRobinProxy } from '../support/round-robin-proxy';
import { SIM_CLIENT_ID, SIM_CLIENT_SECRET, identityOf } from '../../src/simulator/identity';
import { subscriptionsOf } from '../../src/simulator/subscriptions';
import { leaseNames, openRedisState, type RedisSharedState } from '../../src/core/state';

interface ReceivedEvent {
  eventType: string;
  objectId: string;
  eventId: string;
  source: string;
  /** `objectId eventType` for polled mail, `objectId eventType etag` for notified contacts. */
  key: string;
  subscriptionId?: string;
  at: number;
}

const LEASE_MS = 3_000;
const PREFIX = 'e2ecluster';
const LEASE = leaseNames.poller('poll', 'messages');
const STEADY_MS = Number(process.env.MS365_CLUSTER_STEADY_S || 300) * 1_000;
const KILLS = 10;
/** Subscription lifetime: renewed at about half of it (`subscription-manager.ts`). */
const SUB_MINUTES = 1;
const HOOK_PATH = '/ms365/cluster-hook';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const histogramOf = (values: unknown[]) => values.reduce<Record<string, number>>((acc, v) => ({ ...acc, [String(v)]: (acc[String(v)] ?? 0) + 1 }), {});
const percentile = (values: number[], p: number) => [...values].sort((x, y) => x - y)[Math.min(values.length - 1, Math.ceil((p / 100) * values.length) - 1)]!;

describe('reliability: three Node-RED instances share a poller and a webhook-in through Redis (cluster mode)', function () {
  this.timeout(STEADY_MS + 180_000);
  const redis = useRedisServer();
  const sim = useSimulator();
  const nrs: NodeRedProcess[] = [];
  let receiver: http.Server;
  let receiverUrl = '';
  let proxy: RoundRobinProxy | undefined;
  let proxyUrl = '';
  let observer: RedisSharedState;
  const events: ReceivedEvent[] = [];
  /** Mail created for the poller (`objectId CREATED`). */
  const made = new Set<string>();
  /** Contact changes for the webhooks (`objectId CREATED|UPDATED etag`). */
  const notified = new Set<string>();
  const contacts: string[] = [];
  /** Notification batches (not handshakes) each instance answered 2xx through the proxy. */
  const spread = [0, 0, 0];
  /** Notification batches forwarded to each instance (answered or not). */
  const forwarded = [0, 0, 0];
  let stopped: number | undefined;

  before(async function () {
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        try {
          // The envelope (`core/delivery/envelope.ts`): events without `raw`, their raws in `message.raw[objectType]`.
          type Raw = { subscriptionId?: string; resourceData?: Record<string, unknown> } | null;
          type Wire = { eventType: string; objectId: string; eventId: string; source: string };
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { message: { events: Wire[]; raw: { objectType: string } & Record<string, Raw[]> } };
          const raws = body.message.raw[body.message.raw.objectType] ?? [];
          body.message.events.forEach((e, i) => {
            const raw = raws[i];
            const key = e.source === 'webhook' ? `${e.objectId} ${e.eventType} ${String(raw?.resourceData?.['@odata.etag'] ?? '')}` : `${e.objectId} ${e.eventType}`;
            events.push({ eventType: e.eventType, objectId: e.objectId, eventId: e.eventId, source: e.source, key, subscriptionId: raw?.subscriptionId, at: Date.now() });
          });
          res.statusCode = 200;
        } catch {
          res.statusCode = 400;
        }
        res.end();
      });
      req.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/events`;

    // The load balancer: round robin; an instance that is down (killed, restarting: 404 before its flows run, 5xx)
    // is skipped for the next one. A stopped instance accepts the connection and never answers: Graph times out (3 s)
    // and retries, the retry goes to the next instance.
    proxy = await startRoundRobinProxy({
      route: singlePool(() => nrs.map((nr) => (nr.pid() === undefined ? undefined : nr.httpNodeUrl))),
      retryBadAnswers: true,
      onForward: (_pool, index, req) => {
        if (!(req.url ?? '').includes('validationToken')) forwarded[index]! += 1;
      },
      onAnswer: (_pool, index, status, req) => {
        if (!(req.url ?? '').includes('validationToken') && status < 300) spread[index]! += 1;
      },
    });
    proxyUrl = proxy.url;

    observer = await openRedisState({ url: redis().url, prefix: PREFIX, owner: 'test-observer' });
    nrs.push(...(await Promise.all([0, 1, 2].map(() => startNodeRed({ version: 4, settings: { ms365ClusterLeaseMs: LEASE_MS } })))));
  });
  after(async () => {
    if (stopped) process.kill(stopped, 'SIGCONT');
    await Promise.all(nrs.map((nr) => nr.dispose()));
    await observer?.close();
    await proxy?.close();
    await new Promise<void>((resolve) => receiver?.close(() => resolve()) ?? resolve());
  });

  const user = () => sim().state.defaultUser.id;
  const store = () => sim().state.graph.store;
  const grants = () => identityOf(sim().state).requests('client_credentials').filter((r) => r.status === 200).length;
  const deltaPolls = () => sim().state.graph.requests.list(/messages\/delta/).length;
  const subscriptionRequests = (method: string, pattern: RegExp) =>
    sim().state.graph.requests.list(/\/subscriptions/).filter((e) => e.method === method && pattern.test(e.path.split('?')[0]!) && e.status < 300);
  const creates = () => subscriptionRequests('POST', /\/subscriptions$/).length;
  const renewalsOf = (id: string) => subscriptionRequests('PATCH', new RegExp(`/subscriptions/${id}$`)).length;
  /** The webhook node's live subscriptions at the simulator (one: its subscription owner's). */
  const hookSubscriptions = () => {
    const subs = subscriptionsOf(sim().state);
    return [...subs.all.values()].filter((s) => s.notificationUrl === `${proxyUrl}${HOOK_PATH}` && subs.live(s.id));
  };

  /** The pid of the instance that owns the poller's resource (owner ids are `<host>:<pid>:<random>`). */
  const ownerPid = async (): Promise<number | undefined> => {
    const holder = await observer.leases.holder(LEASE).catch(() => undefined);
    return holder ? Number(holder.owner.split(':').at(-2)) : undefined;
  };
  const ownerProcess = async () => {
    const pid = await ownerPid();
    return nrs.find((nr) => nr.pid() === pid);
  };
  /** When each mail was created (ms). */
  const madeAt = new Map<string, number>();
  const createMessages = (n: number, label: string) => {
    for (let k = 0; k < n; k++) {
      const key = `${String(store().createMessage(user(), { subject: `${label} #${k}` }).id)} CREATED`;
      made.add(key);
      madeAt.set(key, Date.now());
    }
  };
  /** A contact created, or (`update`) one created earlier changed: its key in `notified` and in `keys`. */
  const changeContact = (label: string, keys: Set<string>, update = false) => {
    const id = update && contacts.length ? contacts[Math.floor(Math.random() * contacts.length)]! : undefined;
    const contact = id ? store().updateContact(user(), id, { displayName: `${label} (updated)` }) : store().createContact(user(), { displayName: label });
    if (!id) contacts.push(String(contact.id));
    const key = `${String(contact.id)} ${id ? 'UPDATED' : 'CREATED'} ${String(contact['@odata.etag'])}`;
    notified.add(key);
    keys.add(key);
  };
  const missing = (expected: Set<string>) => {
    const got = new Set(events.map((e) => e.key));
    return [...expected].filter((c) => !got.has(c));
  };
  const allOut = (what: string, expected: Set<string>) =>
    waitUntil(what, () => missing(expected).length === 0, 60_000).catch((err: Error) => {
      const lost = missing(expected);
      const deliveries = subscriptionsOf(sim().state).deliveries.slice(-200).map((d) => d.status);
      throw new Error(
        `${err.message}; missing ${lost.length} of ${expected.size} (e.g. ${lost.slice(0, 3).join('; ')}); ${events.length} events received ` +
          `(${events.filter((e) => e.source === 'webhook').length} from webhooks); last notification answers ${JSON.stringify(histogramOf(deliveries))}`,
      );
    });
  /** Changes (of `keys`, default all) that came out with more than one eventId. */
  const twoEventIds = (keys?: Set<string>) => {
    const ids = new Map<string, Set<string>>();
    for (const e of events.filter((x) => !keys || keys.has(x.key))) ids.set(e.key, (ids.get(e.key) ?? new Set()).add(e.eventId));
    return [...ids].filter(([, set]) => set.size > 1).map(([key]) => key);
  };
  const polled = () => events.filter((e) => e.source === 'polling');
  /** How many times each of `keys` came out: `{ times: changes }`. */
  const histogram = (keys: Set<string>) => {
    const counts = new Map<string, number>();
    for (const e of events) if (keys.has(e.key)) counts.set(e.key, (counts.get(e.key) ?? 0) + 1);
    const result: Record<number, number> = {};
    for (const n of counts.values()) result[n] = (result[n] ?? 0) + 1;
    return result;
  };
  const hookFlow = () => ({
    id: 'hook', type: 'ms365-webhook-in', z: 'tab', connector: 'conn', path: HOOK_PATH, notificationUrl: proxyUrl, fetchResource: true,
    subscriptions: JSON.stringify([{ resource: 'me/contacts', changeType: 'created,updated', expirationMinutes: SUB_MINUTES }]), wires: [['out'], []],
  });

  it('deploys the same flow on three instances: one poller owner, one token grant for the cluster, the webhook subscribed', async () => {
    const flow = [
      { id: 'tab', type: 'tab', label: 'cluster' },
      { id: 'cl', type: 'ms365-cluster', name: '', url: redis().url, prefix: PREFIX },
      {
        id: 'conn', type: 'ms365-connector', name: 'Cluster', elementKey: 'outlookemail', tenant: sim().state.tenantId, grantType: 'client_credentials',
        scope: '', callbackUrl: '', authorityHost: sim().authorityHost, graphBaseUrl: sim().graphBaseUrl, userId: user(), tags: '', cluster: 'cl',
        credentials: { clientId: SIM_CLIENT_ID, clientSecret: SIM_CLIENT_SECRET },
      },
      { id: 'poll', type: 'ms365-poller', z: 'tab', connector: 'conn', interval: 0.02, timezone: 'UTC', configuration: JSON.stringify({ messages: { url: '/me/mailFolders/inbox/messages/delta', idField: 'id' } }), pollOnStart: true, wires: [['out']] },
      hookFlow(),
      { id: 'out', type: 'ms365-callback-out', z: 'tab', url: receiverUrl, batchSize: 1, retries: 5, wires: [[], []] },
    ];
    const before = grants();
    await Promise.all(nrs.map((nr) => nr.deploy(flow)));
    await waitUntil('an owner polling', async () => (await ownerProcess()) && deltaPolls() >= 2, 30_000);
    // Subscribed: at least one subscription, and no create for 3 s (every instance's webhook-in has started).
    let samples: number[] = [];
    await waitUntil('the webhook subscribed', async () => {
      samples = [...samples, creates()].slice(-4);
      await sleep(1_000);
      return hookSubscriptions().length >= 1 && samples.length === 4 && samples.every((c) => c === samples[0]);
    }, 40_000);
    assert.equal(grants() - before, 1, 'one client_credentials grant for three instances');
    for (const nr of nrs) assert.doesNotMatch(nr.log(), /\[error\]/, 'no error at deploy');
    assert.equal(hookSubscriptions().length, 1, 'one subscription for the webhook-in node across three instances');
    assert.equal(creates(), 1, 'created once');
  });

  it(`(a) steady changes for ${STEADY_MS / 1000} s, polled and notified: every change out exactly once across the cluster, one subscription renewed once per cycle`, async () => {
    const keys = new Set<string>();
    const subsAtStart = new Map(hookSubscriptions().map((s) => [s.id, renewalsOf(s.id)]));
    const createsAtStart = creates();
    spread.fill(0);
    const started = Date.now();
    const until = started + STEADY_MS;
    const polls = deltaPolls();
    const mailBefore = made.size;
    let n = 0;
    while (Date.now() < until) {
      createMessages(1, `steady ${n}`);
      changeContact(`steady ${n}`, keys);
      if (n % 2 === 1) changeContact(`steady ${n}`, keys, true);
      n++;
      await sleep(500);
    }
    const elapsed = Date.now() - started;
    // One instance polls (every 1.2 s), not three.
    const pollCount = deltaPolls() - polls;
    const onePoller = Math.ceil((elapsed / 1_200) * 1.5);
    assert.ok(pollCount < onePoller, `one poller polls: ${pollCount} delta requests in ${elapsed} ms (three would be about ${Math.round((3 * elapsed) / 1_200)})`);
    await allOut('every steady mail change at the receiver', made);
    await allOut('every steady contact change at the receiver', keys);
    await sleep(3_000); // two more polls and any late notification: nothing more comes out

    // Polled: exactly once across the cluster.
    const mail = polled().map((e) => e.key);
    assert.equal(mail.length, new Set(mail).size, 'no polled change came out twice');
    assert.deepEqual(new Set(mail), made);

    // Notified: every change (id, change type, etag) exactly once across the cluster, every eventId once.
    const hooked = events.filter((e) => keys.has(e.key));
    const ids = hooked.map((e) => e.eventId);
    assert.equal(ids.length, new Set(ids).size, 'no notification came out twice (eventIds unique)');
    assert.ok(hooked.every((e) => e.source === 'webhook'));
    const perChange = histogram(keys);
    assert.deepEqual(perChange, { 1: keys.size }, 'every notified change out exactly once (times out: changes)');
    const subs = hookSubscriptions();
    assert.equal(subs.length, 1, 'one subscription for the node');
    assert.equal(creates(), createsAtStart, 'no subscription created while steady');

    // Spread: round robin gives each instance about a third of the notification batches.
    const batches = spread.reduce((a, b) => a + b, 0);
    assert.ok(spread.every((k) => k >= batches / 5), `notifications spread over the three instances: ${spread.join(' / ')}`);

    // Renewed once per cycle (half the lifetime) by its owner, not once per instance.
    const cycles = elapsed / ((SUB_MINUTES * 60_000) / 2);
    const renewals = [...subsAtStart.keys()].map((id) => renewalsOf(id) - subsAtStart.get(id)!);
    for (const r of renewals) assert.ok(r >= Math.floor(cycles) - 1 && r <= Math.ceil(cycles) + 1, `renewals ${renewals.join(' / ')} in ${cycles.toFixed(1)} cycles`);

    console.log(`      steady ${(elapsed / 1000).toFixed(0)} s: ${made.size - mailBefore} mails polled (${pollCount} delta polls), ${keys.size} contact changes notified (${hooked.length} webhook events, ${batches} batches, per instance ${spread.join(' / ')})`);
    console.log(`      webhook-in "hook": ${subs.length} subscription, renewed ${renewals.join(' / ')} times in ${cycles.toFixed(1)} cycles of ${(SUB_MINUTES * 60) / 2} s`);
  });

  it(`(b) the poller owner SIGKILLed ${KILLS} times: nothing lost, repeats only with the same eventId; failover time printed`, async () => {
    const failovers: number[] = [];
    const createsAtStart = creates();
    let subscriptionOwnerKills = 0;
    const received = polled().length;
    const mailBefore = made.size;
    for (let round = 1; round <= KILLS; round++) {
      const owner = await waitUntil('an owner', ownerProcess, 30_000);
      const pid = owner.pid();
      createMessages(3, `kill ${round}`);
      await sleep(Math.floor(Math.random() * 1_500));
      const subscriptionOwner = await observer.leases.holder(leaseNames.subscriptions('hook'));
      if (subscriptionOwner && Number(subscriptionOwner.owner.split(':').at(-2)) === pid) subscriptionOwnerKills += 1;
      const killedAt = Date.now();
      await owner.kill();
      await waitUntil('another instance owns the resource', async () => {
        const next = await ownerPid();
        return next !== undefined && next !== pid;
      }, 20_000);
      failovers.push(Date.now() - killedAt);
      createMessages(2, `after kill ${round}`);
      await owner.restart();
    }
    await allOut(`every change at the receiver after ${KILLS} kills`, made);
    await sleep(3_000);
    assert.deepEqual(twoEventIds(made), [], 'every repeated change carries the same eventId');
    assert.deepEqual(new Set(polled().map((e) => e.key)), made, 'nothing else came out');
    const repeats = polled().length - received - (made.size - mailBefore);
    console.log(`      failover (SIGKILL → new lease holder, TTL ${LEASE_MS} ms): ${failovers.join(', ')} ms; p50 ${percentile(failovers, 50)} ms, p90 ${percentile(failovers, 90)} ms, max ${Math.max(...failovers)} ms`);
    console.log(`      ${made.size - mailBefore} changes during the kills, ${polled().length - received} events received (${repeats} repeats, same eventId); the subscription owner was killed ${subscriptionOwnerKills} of ${KILLS} times`);
    await waitUntil('the subscription adopted', () => hookSubscriptions().length === 1, 10_000);
    assert.equal(creates(), createsAtStart, 'no subscription created by the kills and restarts (adopted)');
    assert.ok(Math.max(...failovers) <= LEASE_MS + 2_500, 'failover within one lease TTL and a retry');
  });

  it('(c) the owner SIGSTOPped past its lease, then SIGCONT: none of its writes is accepted, no change with two eventIds, no subscription created', async () => {
    const owner = await waitUntil('an owner', ownerProcess, 20_000);
    const pid = owner.pid()!;
    const keys = new Set<string>();
    const createsAtStart = creates();
    const fences: number[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const record = await observer.cursors.read(LEASE);
        if (record) fences.push(record.fence);
        await sleep(50);
      }
    })();
    const contactsFor = async (label: string, ms: number) => {
      for (let k = 0; k * 500 < ms; k++) {
        changeContact(`${label} ${k}`, keys, k % 2 === 1);
        await sleep(500);
      }
    };
    createMessages(2, 'before stop');
    await contactsFor('before stop', 1_000);
    const stoppedIndex = nrs.indexOf(owner);
    const forwardedBefore = forwarded[stoppedIndex]!;
    process.kill(pid, 'SIGSTOP');
    stopped = pid;
    const stoppedAt = Date.now();
    const stoppedFence = fences.at(-1) ?? 0;
    createMessages(3, 'while stopped');
    await contactsFor('while stopped', 2_000);
    await waitUntil('another owner while it is stopped', async () => {
      const next = await ownerPid();
      return next !== undefined && next !== pid;
    }, 20_000);
    const takeover = Date.now() - stoppedAt;
    await contactsFor('stopped, new owner', LEASE_MS);
    createMessages(2, 'before cont');
    const heldBatches = forwarded[stoppedIndex]! - forwardedBefore;
    process.kill(pid, 'SIGCONT');
    stopped = undefined;
    await contactsFor('after cont', LEASE_MS);
    createMessages(3, 'after cont');
    await allOut('every change at the receiver after the pause', made);
    await allOut('every contact change at the receiver after the pause', keys);
    await sleep(3_000);
    sampling = false;
    await sampler;
    assert.ok(fences.every((f, i) => i === 0 || f >= fences[i - 1]!), `the cursor record's fencing number never goes back: ${fences.join(',')}`);
    assert.ok(fences.at(-1)! > stoppedFence, 'the new owner writes under a higher fencing number');
    assert.deepEqual(twoEventIds(made), [], 'no change with two eventIds');
    assert.deepEqual(new Set(polled().map((e) => e.key)), made);
    const ids = events.filter((e) => keys.has(e.key)).map((e) => e.eventId);
    assert.equal(ids.length, new Set(ids).size, 'no notification came out twice (the stopped instance\'s batches were retried to another one)');
    assert.equal(creates(), createsAtStart, 'no subscription created');
    // Those batches were handled twice (by the stopped instance once it resumed, and by the one Graph retried them
    // to): the shared dedupe set let each notification out once.
    assert.ok(heldBatches >= 1, 'some notification batches reached the stopped instance');
    console.log(`      SIGSTOP: another owner after ${takeover} ms; fences ${stoppedFence} → ${fences.at(-1)}; ${heldBatches} notification batches held by the stopped instance and retried by Graph; ${keys.size} contact changes, times out per change ${JSON.stringify(histogram(keys))}`);
  });

  it('(d) the token expired on all three at once, all three call Graph: exactly one grant per expiry', async () => {
    for (let expiry = 1; expiry <= 3; expiry++) {
      const before = grants();
      sim().state.accessTokens.expireAll();
      const answers = await Promise.all(nrs.map((nr) => nr.admin.get('ms365-connector/conn/browse/mailFolders')));
      assert.deepEqual(answers.map((a) => a.status), [200, 200, 200], JSON.stringify(answers.map((a) => a.data)));
      await sleep(1_500); // the owner's next poll uses the new token too
      assert.equal(grants() - before, 1, `expiry ${expiry}: one grant for the three instances`);
    }
    for (const nr of nrs) {
      assert.doesNotMatch(nr.log(), /unhandled|uncaught/i);
      assert.ok(!nr.log().includes(SIM_CLIENT_SECRET), 'client secret absent from the log');
    }
  });

  it('(e) redis-server restarted (stopped past the lease TTL; SIGKILLed) while changes flow: nothing lost, repeats only with the same eventId', async () => {
    // First down for two lease TTLs (every lease lapses, every instance steps down, notifications go on arriving),
    // then a crash restarted at once (appendfsync always: nothing acknowledged is lost).
    for (const how of ['stop', 'kill'] as const) {
      const keys = new Set<string>();
      const mailBefore = made.size;
      const received = polled().length;
      const fenceBefore = (await observer.cursors.read(LEASE))?.fence ?? 0;
      let flowing = true;
      const changes = (async () => {
        for (let k = 0; flowing; k++) {
          createMessages(1, `redis ${how} ${k}`);
          changeContact(`redis ${how} ${k}`, keys, k % 3 === 2);
          await sleep(300);
        }
      })();
      await sleep(3_000);
      const downAt = Date.now();
      if (how === 'stop') {
        await redis().stop();
        await sleep(2 * LEASE_MS);
      } else await redis().kill();
      await redis().start();
      const upAt = Date.now();
      await waitUntil('a poller owner again', ownerProcess, 30_000);
      const ownerAt = Date.now();
      await sleep(5_000);
      flowing = false;
      await changes;
      await allOut(`every mail change at the receiver after the Redis ${how}`, made);
      await allOut(`every contact change at the receiver after the Redis ${how}`, keys);
      await sleep(3_000);
      assert.deepEqual(twoEventIds(made), [], 'a repeated mail change carries the same eventId');
      assert.deepEqual(twoEventIds(keys), [], 'a repeated notification carries the same eventId');
      assert.deepEqual(new Set(polled().map((e) => e.key)), made, 'nothing else came out');
      const fenceAfter = (await observer.cursors.read(LEASE))?.fence ?? 0;
      // The mail made while Redis was down: out how long after it came back.
      const whileDown = [...madeAt].filter(([, at]) => at >= downAt && at <= upAt).map(([key]) => key);
      const caughtUp = whileDown.length ? `${Math.max(...whileDown.map((key) => events.find((e) => e.key === key)!.at)) - upAt} ms after` : '-';
      assert.ok(fenceAfter >= fenceBefore, `fencing numbers survive the ${how} (append-only file): ${fenceBefore} → ${fenceAfter}`);
      if (how === 'stop') assert.ok(fenceAfter > fenceBefore, 'the lease lapsed while Redis was down: taken again under a higher fencing number');
      const mailRepeats = polled().length - received - (made.size - mailBefore);
      console.log(
        `      Redis ${how}: down ${upAt - downAt} ms; poller owner again ${ownerAt - upAt} ms after; the ${whileDown.length} mails made while down out ${caughtUp}; ` +
          `${made.size - mailBefore} mails (${mailRepeats} repeats), ${keys.size} contact changes (times out per change ${JSON.stringify(histogram(keys))}); fence ${fenceBefore} → ${fenceAfter}`,
      );
    }
    for (const nr of nrs) assert.doesNotMatch(nr.log(), /unhandled|uncaught/i);
  });
});
