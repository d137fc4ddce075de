/**
 * Reliability: SIGKILL of a real Node-RED 4.1 process (packed package, file context store with a 1 s flush) while
 * Graph notifications stream in. ms365-webhook-in (subscriptions on the simulator's mail and contacts, resources
 * fetched) → ms365-callback-out (its fsync'd outbox) → a loopback receiver. A steady stream of changes (one every
 * 20 ms: new mail, new contacts, updates of earlier ones) runs while the process is killed KILLS times, each kill a
 * random 0.3–2 s after the restart and right after the simulator saw a 202 (the window in question: Graph has its
 * answer and will not retry, the events have not reached the outbox yet), then restarted on the same port and user
 * directory. The simulator retries refused / non-2xx deliveries with backoff as Graph does. At the end every change has
 * reached the receiver at least once, and a change that came twice is the same event (same eventId).
 *
 * Before the notification journal (2026-12-03) this failed on every run: a batch answered 202 and killed before
 * its events reached the outbox was gone (reference/graph.md §2.2: Graph does not retry a 2xx).
 */
import assert from 'node:assert/strict';
import { startNodeRed, waitUntil, type NodeRedProcess } from '../support/nodered-process';
import { useSimulator } from '../support/simulator';
import { connectorFlowNode } from '../support/connector';
import { startCallbackReceiver, type CallbackReceiver } from '../support/callback-receiver';
import { ChangeLedger } from '../support/change-ledger';
import { subscriptionsOf } from '../../src/simulator/subscriptions';
import { SIM_CLIENT_SECRET } from '../../src/simulator/identity';

const KILLS = 6;
const CHANGE_EVERY_MS = 20;
const CLIENT_STATE = 'reliability-client-state-secret';

describe('reliability: ms365-webhook-in under SIGKILL right after its 202 answers (Node-RED 4.1)', function () {
  this.timeout(150_000);
  const sim = useSimulator();
  let nr: NodeRedProcess;
  let receiver: CallbackReceiver;

  before(async () => {
    receiver = await startCallbackReceiver();
    nr = await startNodeRed({ version: 4, settings: { contextStorage: { default: { module: 'localfilesystem', config: { flushInterval: 1 } } } } });
    await waitUntil('first flow start', () => /Started flows/.test(nr.log()), 30_000);
  });
  after(async () => {
    await nr?.dispose();
    await receiver?.close();
  });

  it(`${KILLS} SIGKILLs right after a 202: every change reaches the receiver, repeats are the same event`, async () => {
    const store = sim().state.graph.store;
    const user = sim().state.defaultUser.id;
    const subs = subscriptionsOf(sim().state);
    const { node: conn, credentials } = connectorFlowNode(sim(), { id: 'conn', name: 'Kill', elementKey: 'office365' });
    await nr.deploy([
      { id: 'tab', type: 'tab', label: 'webhook sigkill' },
      { ...conn, credentials: credentials.conn },
      {
        id: 'hook', type: 'ms365-webhook-in', z: 'tab', connector: 'conn', path: '/ms365/kill', notificationUrl: nr.url.replace(/\/$/, ''),
        subscriptions: JSON.stringify([
          { resource: 'me/messages', changeType: 'created,updated' },
          { resource: 'me/contacts', changeType: 'created,updated' },
        ]),
        fetchResource: true, credentials: { clientState: CLIENT_STATE }, wires: [['out'], []],
      },
      { id: 'out', type: 'ms365-callback-out', z: 'tab', url: `${receiver.url}/events`, batchSize: 1, retries: 10, wires: [[], []] },
    ]);
    await waitUntil('two subscriptions', () => [...subs.all.values()].length === 2, 20_000);
    // The subscription records reach the context file (1 s flush) before the first kill: a restart adopts them.
    await new Promise((r) => setTimeout(r, 2500));

    const ledger = new ChangeLedger();
    const events = () => receiver.events('/events');
    const delivered = (id: string, type: string) => events().some((e) => e.objectId === id && e.eventType === type);
    const messages: string[] = [];
    const contacts: string[] = [];
    const updated = new Set<string>();
    let tick = 0;
    const stream = setInterval(() => {
      tick += 1;
      if (tick % 3 === 0) {
        const c = store.createContact(user, { displayName: `contact ${tick}` });
        contacts.push(String(c.id));
        ledger.change(String(c.id), 'CREATED', `contact #${tick}`);
      } else {
        const m = store.createMessage(user, { subject: `mail ${tick}` });
        messages.push(String(m.id));
        ledger.change(String(m.id), 'CREATED', `message #${tick}`);
      }
      if (tick % 4 === 0) {
        // An update of an object whose creation came out already: one UPDATED per object at most.
        const id = [...messages, ...contacts].find((o) => !updated.has(o) && delivered(o, 'CREATED'));
        if (id) {
          updated.add(id);
          if (messages.includes(id)) store.updateMessage(user, id, { isRead: true });
          else store.updateContact(user, id, { displayName: `updated at ${tick}` });
          ledger.change(id, 'UPDATED', `${messages.includes(id) ? 'message' : 'contact'} updated at #${tick}`);
        }
      }
    }, CHANGE_EVERY_MS);

    /** Resolves on the first delivery answered 202 after now (the simulator runs in this process). */
    const next202 = (timeoutMs: number) =>
      new Promise<string>((resolve) => {
        const from = subs.deliveries.length;
        const deadline = Date.now() + timeoutMs;
        const look = () => {
          const hit = subs.deliveries.slice(from).find((d) => d.status === 202);
          if (hit) resolve(`after a 202 of ${hit.items} item(s)`);
          else if (Date.now() > deadline) resolve('no 202 seen');
          else setImmediate(look);
        };
        look();
      });
    try {
      for (let k = 0; k < KILLS; k++) {
        await new Promise((r) => setTimeout(r, 300 + Math.floor(Math.random() * 1700)));
        const why = await next202(5000);
        await nr.kill();
        ledger.killed(why);
        await nr.restart();
      }
      await new Promise((r) => setTimeout(r, 1500));
    } finally {
      clearInterval(stream);
    }

    await waitUntil('every change at the receiver', () => ledger.missing(events()).length === 0, 60_000).catch((err: Error) => {
      const failed = subs.deliveries.filter((d) => typeof d.status !== 'number' || d.status >= 300).length;
      const log = nr.log().split('\n').filter((l) => /ms365|warn|error/i.test(l)).slice(-15);
      throw new Error(`${err.message}\n${ledger.report(events(), [`  deliveries: ${subs.deliveries.length}, not 2xx: ${failed}`, '  log:', ...log.map((l) => `    ${l}`)])}`);
    });
    const got = events();
    assert.deepEqual(ledger.splitIds(got), [], `every repeated change carries the same eventId\n${ledger.report(got)}`);
    const replayed = [...nr.log().matchAll(/replaying (\d+) notification batch/g)].map((m) => m[1]);
    const catchUps = (nr.log().match(/catchup/g) ?? []).length;
    console.log(`      webhook sigkill: ${KILLS} kills, ${ledger.made.size} changes, ${got.length} events received, ${ledger.repeats(got)} repeats (same eventId); batches replayed per start: ${replayed.join(', ') || 'none'}${catchUps ? `; ${catchUps} catch-up lines` : ''}`);
    assert.doesNotMatch(nr.log(), /unhandled|uncaught/i);
    assert.ok(!nr.log().includes(SIM_CLIENT_SECRET), 'client secret absent from the log');
    assert.ok(!nr.log().includes(CLIENT_STATE), 'clientState absent from the log');
  });
});
