/**
 * Simulated Graph figures at mailbox scale (printed, never asserted; TARGETS.md). Run:
 *   npx tsx bench/simulator-graph.ts [messages=100000]
 * Prints: time to create N messages in one mailbox, one idle `$filter` poll (newest minute, nothing new),
 * one full `$top=1000` listing page, a full initial delta enumeration (pages of 1000), and an idle delta round.
 */
import axios from 'axios';
import { startSimulator } from '../src/simulator/server';

async function timed<T>(label: string, fn: () => Promise<T> | T): Promise<T> {
  const start = process.hrtime.bigint();
  const result = await fn();
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  console.log(`${label.padEnd(58)} ${ms.toFixed(1).padStart(9)} ms`);
  return result;
}

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 100_000);
  const sim = await startSimulator();
  const user = sim.state.defaultUser.id;
  const { token } = sim.state.accessTokens.issue({ userId: user, clientId: 'bench', tenantId: sim.state.tenantId, scopes: ['Mail.Read'], appOnly: false });
  const headers = { Authorization: `Bearer ${token}` };
  const get = (url: string, extra: Record<string, string> = {}) => axios.get(url.startsWith('http') ? url : `${sim.graphBaseUrl}${url}`, { headers: { ...headers, ...extra } });

  await timed(`create ${count} messages (in-process)`, () => sim.state.graph.store.createMessages(user, count));
  const since = new Date(sim.state.clock.now() + 1000).toISOString();
  await timed('idle $filter poll (receivedDateTime ge now)', () => get(`/me/messages?$filter=receivedDateTime ge ${since}`));
  await timed('one $top=1000 page ordered by receivedDateTime desc', () => get('/me/messages?$top=1000'));
  const deltaLink = await timed(`initial delta enumeration, pages of 1000`, async () => {
    let url: string | undefined = "/me/mailFolders('inbox')/messages/delta";
    let pages = 0;
    for (;;) {
      const res = await get(url!, { Prefer: 'odata.maxpagesize=1000' });
      pages += 1;
      if (res.data['@odata.deltaLink']) {
        console.log(`  (${pages} pages)`);
        return res.data['@odata.deltaLink'] as string;
      }
      url = res.data['@odata.nextLink'];
    }
  });
  await timed('idle delta round (deltaLink, nothing changed)', () => get(deltaLink));
  sim.state.graph.store.createMessage(user, { subject: 'one more' });
  await timed('delta round with 1 change', () => get(deltaLink));
  console.log(`requests logged: ${sim.state.graph.requests.count}; heap used: ${(process.memoryUsage().heapUsed / 1048576).toFixed(0)} MiB`);
  await sim.close();
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
