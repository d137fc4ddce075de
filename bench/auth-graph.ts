/**
 * Auth and Graph client figures (TARGETS.md: numbers are printed, never asserted). Run:
 *   npx tsx bench/auth-graph.ts
 * Prints: token requests caused by N concurrent callers (single-flight), refresh-token round trip against the
 * simulated identity platform, and GraphClient throughput beside a bare axios loop on the same loopback server.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import axios from 'axios';
import { startSimulator } from '../src/simulator/server';
import { SIM_CLIENT_ID, SIM_CLIENT_SECRET, identityOf } from '../src/simulator/identity';
import { MicrosoftOAuth } from '../src/core/auth/oauth';
import { TokenManager } from '../src/core/auth/token-manager';
import { MemoryTokenStore } from '../src/core/auth/token-store';
import { createPkce } from '../src/core/auth/pkce';
import { GraphClient } from '../src/core/graph/client';
import { APP_ONLY_SCOPE } from '../src/core/elements';

async function main(): Promise<void> {
  const sim = await startSimulator();
  const identity = identityOf(sim.state);
  const appOauth = new MicrosoftOAuth({ authorityHost: sim.authorityHost, tenant: sim.state.tenantId, clientId: SIM_CLIENT_ID, clientSecret: SIM_CLIENT_SECRET });

  // 1. Single-flight: N concurrent callers on a cold token manager.
  for (const n of [10, 100, 1000]) {
    const manager = new TokenManager({ grantType: 'client_credentials', oauth: appOauth, scope: APP_ONLY_SCOPE, store: new MemoryTokenStore() });
    const before = identity.requests().length;
    await Promise.all(Array.from({ length: n }, () => manager.getAccessToken()));
    console.log(`single-flight: ${n} concurrent callers -> ${identity.requests().length - before} token request(s)`);
    manager.close();
  }

  // 2. Refresh-token round trips with rotation (each refresh persists before use).
  const userOauth = new MicrosoftOAuth({ authorityHost: sim.authorityHost, tenant: 'common', clientId: SIM_CLIENT_ID, clientSecret: SIM_CLIENT_SECRET });
  const scope = 'openid profile offline_access Mail.Read';
  const redirectUri = 'http://127.0.0.1:1880/cb';
  const pkce = createPkce();
  const consent = await axios.get(userOauth.authorizeUrl({ redirectUri, scope, state: 's', codeChallenge: pkce.challenge }), { maxRedirects: 0, validateStatus: () => true });
  const code = new URL(consent.headers.location as string).searchParams.get('code') as string;
  const manager = new TokenManager({ grantType: 'authorization_code', oauth: userOauth, scope, store: new MemoryTokenStore() });
  await manager.signedIn(await userOauth.redeemCode({ code, redirectUri, codeVerifier: pkce.verifier, scope }));
  const rounds = 200;
  let t = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) await manager.refresh();
  const refreshMs = Number(process.hrtime.bigint() - t) / 1e6 / rounds;
  console.log(`refresh_token round trip (rotation + persist, loopback simulator): ${refreshMs.toFixed(2)} ms average over ${rounds}`);
  manager.close();

  // 3. GraphClient vs bare axios, same loopback server, same concurrency (4).
  const body = JSON.stringify({ value: Array.from({ length: 10 }, (_, i) => ({ id: `id${i}`, subject: 'x'.repeat(100) })) });
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1.0`;
  const tokens = new TokenManager({ grantType: 'client_credentials', oauth: appOauth, scope: APP_ONLY_SCOPE, store: new MemoryTokenStore() });
  const client = new GraphClient({ baseUrl: base, tokens });
  const total = 4000;
  const workers = 4;
  const run = async (one: () => Promise<unknown>) => {
    let left = total;
    const start = process.hrtime.bigint();
    await Promise.all(Array.from({ length: workers }, async () => {
      while (left-- > 0) await one();
    }));
    return total / (Number(process.hrtime.bigint() - start) / 1e9);
  };
  const token = await tokens.getAccessToken();
  const bare = axios.create();
  await run(() => bare.get(`${base}/me/messages`, { headers: { Authorization: `Bearer ${token}` } })); // warm-up
  const bareRate = await run(() => bare.get(`${base}/me/messages`, { headers: { Authorization: `Bearer ${token}` } }));
  const clientRate = await run(() => client.get('/me/messages'));
  console.log(`GraphClient: ${clientRate.toFixed(0)} req/s; bare axios: ${bareRate.toFixed(0)} req/s; ratio ${(clientRate / bareRate).toFixed(2)}x (${total} GETs, ${workers} concurrent)`);
  tokens.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await sim.close();
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
