/** Helpers for the simulated Graph tests: tokens issued directly by the simulator, and a bounded HTTP client. */
import axios, { type AxiosResponse } from 'axios';
import type { Simulator } from '../../../src/simulator/server';
import { DEFAULT_APP_ROLES } from '../../../src/simulator/identity';

export function delegatedToken(sim: Simulator, userId = sim.state.defaultUser.id): string {
  return sim.state.accessTokens.issue({ userId, clientId: 'test-client', tenantId: sim.state.tenantId, scopes: ['User.Read', 'Mail.ReadWrite', 'Calendars.ReadWrite', 'Contacts.ReadWrite', 'Files.ReadWrite'], appOnly: false }).token;
}

export function appToken(sim: Simulator): string {
  return sim.state.accessTokens.issue({ clientId: 'test-client', tenantId: sim.state.tenantId, scopes: [], roles: [...DEFAULT_APP_ROLES], appOnly: true }).token;
}

/** GET a Graph path (relative to graphBaseUrl) or an absolute link; never throws on HTTP status. */
export function get(sim: Simulator, token: string | undefined, pathOrUrl: string, headers: Record<string, string> = {}): Promise<AxiosResponse> {
  const url = /^https?:/.test(pathOrUrl) ? pathOrUrl : `${sim.graphBaseUrl}${pathOrUrl}`;
  return axios.get(url, {
    headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...headers },
    validateStatus: () => true,
    timeout: 10_000,
  });
}

export type Json = Record<string, unknown>;

/** Follows nextLinks until a page carries a deltaLink; returns every item and the deltaLink. */
export async function deltaRound(sim: Simulator, token: string, url: string, headers: Record<string, string> = {}): Promise<{ items: Json[]; deltaLink: string; pages: number }> {
  const items: Json[] = [];
  let next: string | undefined = url;
  let pages = 0;
  while (next) {
    const res = await get(sim, token, next, headers);
    if (res.status !== 200) throw new Error(`delta page answered ${res.status}: ${JSON.stringify(res.data)}`);
    pages += 1;
    items.push(...(res.data.value as Json[]));
    if (res.data['@odata.deltaLink']) return { items, deltaLink: res.data['@odata.deltaLink'] as string, pages };
    next = res.data['@odata.nextLink'] as string | undefined;
    if (pages > 10_000) throw new Error('too many delta pages');
  }
  throw new Error('delta round ended without a deltaLink');
}
