/**
 * Reliability (issue 9, part 1): a soak of a real Node-RED 4.1 process (packed package, file context store) against
 * the simulated tenant for SOAK_SECONDS (default 300) of steady load:
 * - changes at a steady rate (about 2 per second): mail (ms365-poller, delta), contacts (ms365-poller, `$filter`),
 *   calendar events and OneDrive files (ms365-webhook-in: Graph notifications; drive through delta),
 *   each object created, then updated once, then deleted (contacts: no delete, a filter cannot see it);
 * - polls every 3 s, subscriptions of one minute (renewed every ~30 s);
 * - access tokens living 30 s and all expired every 45 s (the connector re-acquires them);
 * - a burst of Graph faults every 20 s: 429 with Retry-After, 503, 504;
 * - everything into ms365-callback-out → a loopback receiver that checks every signature.
 * Checked at the end: every change made came out exactly once (one event per (objectId, eventType), no repeats at
 * all), every signature verified, no unhandled rejection or uncaught error, no secret in the log; and resident memory
 * of the Node-RED process grows by at most MEMORY_BOUND_MIB (TARGETS: 20 MB over 5 min of steady load). Every 5 s a
 * preload (`support/memory-probe.cjs`, `--expose-gc`) runs a full GC in that process and records its resident size
 * and live heap: between collections VmRSS swings ~20 MiB with the young generation (a 120 s run: 106.7 MiB right
 * after a GC, 140.7 MiB a few samples later), which says nothing about a leak. Growth = median of the last minute −
 * median of the first minute after warm-up (WARM_SECONDS: flows started, every code path taken once).
 * The figures are printed. Runs in `npm test` (about 6 minutes with SOAK_SECONDS=300, the set-up and the drain);
 * `SOAK_SECONDS=60 npx mocha test/reliability/soak.test.ts` for a short run.
 * Found by this soak and fixed: an object created between a delta round's start and Graph's read came out CREATED
 * twice and its UPDATED never (delta engine, `createdSince`); a notification whose resource could not be
 * fetched through a 429/503/504 burst was dropped (webhook-in now emits it with `raw.resourceError`).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startNodeRed, waitUntil, type NodeRedProcess } from '../support/nodered-process';
import { useSimulator } from '../support/simulator';
import { connectorFlowNode } from '../support/connector';
import { startCallbackReceiver, type CallbackReceiver } from '../support/callback-receiver';
import { SIM_CLIENT_SECRET } from '../../src/simulator/identity';

const SOAK_SECONDS = Number(process.env.SOAK_SECONDS ?? 300);
const WARM_SECONDS = Math.min(60, Math.floor(SOAK_SECONDS / 5));
/** Window of samples whose median is compared: the first one after warm-up, and the last one. */
const MEDIAN_WINDOW_MS = Math.min(60, Math.floor(SOAK_SECONDS / 4)) * 1000;
const MEMORY_BOUND_MIB = 20;
const KEY = 'soak-signature-key';
const TICK_MS = 500;
const CONTACT_UPDATE_AFTER_MS = 3000; // Open Connectors' CREATED rule: created ≈ updated within 2 s

interface Family {
  name: string;
  create(): string;
  update(id: string): void;
  remove?(id: string): void;
  /** An update only this long after the creation came out (0: at once). */
  updateAfterMs: number;
}

function rssKiB(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

describe(`reliability: soak of ${SOAK_SECONDS} s on a real Node-RED 4.1 (changes, polls, notifications, token expiry, 429/503/504)`, function () {
  this.timeout((SOAK_SECONDS + 240) * 1000);
  const sim = useSimulator();
  let nr: NodeRedProcess;
  let receiver: CallbackReceiver;

  const probeFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'soak-memory-')), 'memory.json');
  /** The last sample of `support/memory-probe.cjs`: memory of the Node-RED process right after a full GC. */
  const afterGc = (): { rss: number; heapUsed: number; gc: boolean } | undefined => {
    try {
      return JSON.parse(fs.readFileSync(probeFile, 'utf8')) as { rss: number; heapUsed: number; gc: boolean };
    } catch {
      return undefined;
    }
  };

  before(async () => {
    receiver = await startCallbackReceiver({ signatureKey: KEY });
    nr = await startNodeRed({
      version: 4,
      env: { NODE_OPTIONS: `--expose-gc --require ${path.resolve(__dirname, '../support/memory-probe.cjs')}`, MEMORY_PROBE_FILE: probeFile },
    });
    await waitUntil('first flow start', () => /Started flows/.test(nr.log()), 30_000);
  });
  after(async () => {
    await nr?.dispose();
    await receiver?.close();
  });

  it('every change comes out exactly once, signed; memory stays within the bound', async () => {
    const state = sim().state;
    const store = state.graph.store;
    const user = state.defaultUser.id;
    state.accessTokens.lifetimeSeconds = 30;
    const { node: conn, credentials, id: connId } = connectorFlowNode(sim(), { id: 'conn', name: 'Soak', elementKey: 'outlookemail' });
    await nr.deploy([
      { id: 'tab', type: 'tab', label: 'soak' },
      { ...conn, credentials: credentials[connId] },
      {
        id: 'poll', type: 'ms365-poller', z: 'tab', connector: 'conn', interval: 0.05, timezone: 'UTC', pollOnStart: true, wires: [['out']],
        configuration: JSON.stringify({
          messages: { url: '/me/mailFolders/inbox/messages/delta', idField: 'id' },
          contacts: { url: "/me/contacts?$filter=lastModifiedDateTime ge ${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}", idField: 'id' },
        }),
      },
      {
        id: 'hook', type: 'ms365-webhook-in', z: 'tab', connector: 'conn', path: '/ms365/soak', notificationUrl: nr.url.replace(/\/$/, ''), fetchResource: true, wires: [['out'], []],
        subscriptions: JSON.stringify([
          { resource: 'me/events', changeType: 'created,updated,deleted', expirationMinutes: 1 },
          { resource: 'me/drive/root', changeType: 'updated', expirationMinutes: 1 },
        ]),
      },
      { id: 'out', type: 'ms365-callback-out', z: 'tab', url: `${receiver.url}/events`, batchSize: '', retries: 8, credentials: { signatureKey: KEY }, wires: [[], []] },
    ]);
    await waitUntil('subscriptions and the first poll', () => /subscription|Started flows/.test(nr.log()) && state.graph.requests.list(/messages\/delta/).length >= 1, 30_000);
    await waitUntil('two subscriptions', () => state.graph.requests.list(/\/subscriptions$/).filter((r) => r.method === 'POST' && r.status === 201).length >= 2, 30_000);

    const families: Family[] = [
      { name: 'mail', create: () => String(store.createMessage(user, { subject: 'soak mail' }).id), update: (id) => void store.updateMessage(user, id, { isRead: true }), remove: (id) => store.deleteMessage(user, id), updateAfterMs: 0 },
      { name: 'contact', create: () => String(store.createContact(user, { displayName: 'soak contact' }).id), update: (id) => void store.updateContact(user, id, { displayName: 'soak contact, updated' }), updateAfterMs: CONTACT_UPDATE_AFTER_MS },
      { name: 'event', create: () => String(store.createEvent(user, { subject: 'soak event' }).id), update: (id) => void store.updateEvent(user, id, { subject: 'soak event, moved' }), remove: (id) => store.deleteEvent(user, id), updateAfterMs: 0 },
      { name: 'file', create: () => String(store.createDriveItem(user, { name: `soak-${Date.now()}-${Math.random().toString(36).slice(2)}.txt`, content: 'v1' }).id), update: (id) => void store.updateDriveItem(user, id, { content: 'v2' }), remove: (id) => store.deleteDriveItem(user, id), updateAfterMs: 0 },
    ];
    // (objectId, eventType) names exactly one change: each object is created once, updated once, deleted once, and
    // each step only after the previous one came out (so no two steps fall in one poll round or one delta read).
    const made = new Set<string>();
    const familyOf = new Map<string, string>(); // objectId → family name, for the failure message
    const objects = families.map(() => new Map<string, { stage: 'created' | 'updated' | 'deleted'; at: number }>());
    const got = () => new Set(receiver.events().map((e) => `${e.objectId} ${e.eventType}`));
    let faults = 0;
    let tokenExpiries = 0;
    const rss: Array<{ at: number; kib: number; gcKib: number; heapKib: number }> = [];
    const started = Date.now();
    const elapsed = () => Date.now() - started;
    let tick = 0;
    let nextFault = 20_000;
    let nextExpiry = 45_000;
    let nextSample = 0;

    while (elapsed() < SOAK_SECONDS * 1000) {
      const f = tick % families.length;
      const family = families[f]!;
      const mine = objects[f]!;
      const seen = got();
      const id = family.create();
      mine.set(id, { stage: 'created', at: Date.now() });
      familyOf.set(id, family.name);
      made.add(`${id} CREATED`);
      for (const [oid, o] of mine) {
        if (o.stage === 'created' && seen.has(`${oid} CREATED`) && Date.now() - o.at >= family.updateAfterMs) {
          family.update(oid);
          mine.set(oid, { stage: 'updated', at: Date.now() });
          made.add(`${oid} UPDATED`);
          break;
        }
      }
      if (family.remove) {
        for (const [oid, o] of mine) {
          if (o.stage === 'updated' && seen.has(`${oid} UPDATED`)) {
            family.remove(oid);
            mine.set(oid, { stage: 'deleted', at: Date.now() });
            made.add(`${oid} DELETED`);
            break;
          }
        }
      }
      if (elapsed() >= nextFault) {
        nextFault += 20_000;
        state.graph.faults.add({ kind: 'throttle', count: 3, retryAfterSeconds: 1 });
        state.graph.faults.add({ kind: 'unavailable', count: 2 });
        state.graph.faults.add({ kind: 'gatewayTimeout', count: 2 });
        faults += 7;
      }
      if (elapsed() >= nextExpiry) {
        nextExpiry += 45_000;
        state.accessTokens.expireAll();
        tokenExpiries += 1;
      }
      if (elapsed() >= nextSample) {
        nextSample += 5000;
        const kib = rssKiB(nr.pid());
        const probe = afterGc();
        if (kib !== undefined && probe?.gc) rss.push({ at: elapsed(), kib, gcKib: probe.rss / 1024, heapKib: probe.heapUsed / 1024 });
      }
      for (const o of mine.values()) if (o.stage === 'deleted') mine.delete([...mine].find(([, v]) => v === o)![0]);
      tick += 1;
      await new Promise((r) => setTimeout(r, TICK_MS));
    }

    // Drain: everything made comes out (faults left in the queue are taken by the next requests).
    await waitUntil('every change at the receiver', () => [...made].every((c) => got().has(c)), 120_000).catch((err: Error) => {
      const have = got();
      const missing = [...made].filter((c) => !have.has(c));
      const described = missing.slice(0, 8).map((c) => {
        const [oid, type] = c.split(' ');
        const delivered = receiver.events().filter((e) => e.objectId === oid).map((e) => `${e.eventType}/${e.source}`);
        return `${familyOf.get(oid!) ?? '?'} ${type} of …${oid!.slice(-12)} (delivered for it: ${delivered.join(', ') || 'nothing'})`;
      });
      throw new Error(`${err.message}: ${missing.length} of ${made.size} missing: ${described.join('; ')}`);
    });
    const polls = state.graph.requests.list(/messages\/delta/).length;
    await waitUntil('two more polls', () => state.graph.requests.list(/messages\/delta/).length >= polls + 2, 30_000);
    await new Promise((r) => setTimeout(r, 2000)); // late duplicates, if any, would arrive now

    const events = receiver.events('/events');
    const received = got();
    const repeats = events.length - received.size;
    const idsByChange = new Map<string, Set<string>>();
    for (const e of events) {
      const key = `${e.objectId} ${e.eventType}`;
      idsByChange.set(key, (idsByChange.get(key) ?? new Set()).add(e.eventId));
    }
    const median = (values: number[]) => {
      const sorted = [...values].sort((a, b) => a - b);
      return sorted.length === 0 ? NaN : sorted[Math.floor(sorted.length / 2)]!;
    };
    const soakEnd = rss[rss.length - 1]?.at ?? 0;
    const inWindow = (from: number, to: number) => rss.filter((s) => s.at >= from && s.at < to);
    const early = inWindow(WARM_SECONDS * 1000, WARM_SECONDS * 1000 + MEDIAN_WINDOW_MS);
    const late = inWindow(soakEnd - MEDIAN_WINDOW_MS + 1, soakEnd + 1);
    const growth = (pick: (s: (typeof rss)[number]) => number) => median(late.map(pick)) - median(early.map(pick));
    const growthKiB = growth((s) => s.gcKib); // resident memory right after a full GC
    const mib = (kib: number | undefined) => (kib === undefined || !Number.isFinite(kib) ? 'n/a' : (kib / 1024).toFixed(1));
    const bySource = (source: string) => events.filter((e) => e.source === source).length;
    console.log(
      `      soak: ${SOAK_SECONDS} s, ${made.size} changes, ${events.length} events (${bySource('polling')} polling, ${bySource('webhook')} webhook), ${repeats} repeats;` +
        ` ${polls} mail delta polls, ${receiver.notifications.length} callbacks, ${faults} faults injected, ${tokenExpiries} token expiries`,
    );
    const range = (pick: (s: (typeof rss)[number]) => number) => `${mib(Math.min(...rss.map(pick)))}–${mib(Math.max(...rss.map(pick)))}`;
    console.log(
      `      memory (MiB, ${rss.length} samples every 5 s): resident after a full GC ${range((s) => s.gcKib)}, growth ${mib(growthKiB)} (bound ${MEMORY_BOUND_MIB});` +
        ` live heap after GC ${range((s) => s.heapKib)}, growth ${mib(growth((s) => s.heapKib))}; VmRSS between GCs ${range((s) => s.kib)}, growth ${mib(growth((s) => s.kib))}` +
        ` (growth = median of the last ${MEDIAN_WINDOW_MS / 1000} s − median of ${WARM_SECONDS}–${WARM_SECONDS + MEDIAN_WINDOW_MS / 1000} s)`,
    );

    assert.deepEqual([...received].sort(), [...made].sort(), 'the changes received equal the changes made');
    assert.deepEqual([...idsByChange].filter(([, ids]) => ids.size > 1).map(([k]) => k), [], 'one eventId per change');
    assert.equal(repeats, 0, 'no change delivered twice');
    assert.ok(receiver.notifications.every((n) => n.signatureOk === true), 'every signature verified');
    assert.doesNotMatch(nr.log(), /unhandled|uncaught/i);
    for (const secret of [SIM_CLIENT_SECRET, KEY]) assert.ok(!nr.log().includes(secret), 'no secret in the log');
    assert.ok(rss.length >= SOAK_SECONDS / 10, `memory sampled (${rss.length} samples)`);
    assert.ok(growthKiB <= MEMORY_BOUND_MIB * 1024, `resident memory after GC grew ${mib(growthKiB)} MiB after warm-up (bound ${MEMORY_BOUND_MIB} MiB)`);
  });
});
