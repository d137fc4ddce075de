/**
 * A connector's tokens in cluster mode (docs/cluster.md, CONTRACT "ms365-connector" field `cluster`): the
 * `TokenStore` is a `SharedTokenStore` on the cluster's Redis (sealed with the credential secret every instance
 * shares, compare-and-set on its version) and token requests pass a `LeaseRefreshGate` (one refresh per expiry across
 * the instances, the others re-read). Both wait for the cluster's shared state; while it cannot be had they fail
 * with its error (a red status, never a fall-back to the token file).
 */
import type { StoredTokens, TokenStore } from '../../core/auth/token-store';
import type { RefreshGate } from '../../core/auth/token-manager';
import { LeaseRefreshGate } from '../../core/state/refresh-gate';
import { SharedTokenStore } from '../../core/state/shared-token-store';
import type { ClusterNode } from './cluster-api';

export interface ClusterTokens {
  store: TokenStore;
  gate: RefreshGate;
  /**
   * Resolves once the cluster's shared state is usable; until then `onError` hears each new failure (a message
   * for the log) and it tries again every `retryMs`. Resolves false when `closed()` became true meanwhile.
   */
  ready(onError: (err: Error) => void, closed: () => boolean, retryMs?: number): Promise<boolean>;
}

export function clusterTokens(cluster: ClusterNode, connectorId: string, secret: string): ClusterTokens {
  let parts: { store: SharedTokenStore; gate: LeaseRefreshGate } | undefined;
  const get = async () => {
    if (parts) return parts;
    const state = await cluster.state();
    if (parts) return parts;
    let gate: LeaseRefreshGate | undefined;
    const store = new SharedTokenStore({ records: state.tokens, connectorId, secret, lease: () => gate?.lease() });
    gate = new LeaseRefreshGate({ leases: state.leases, connectorId, load: () => store.load() });
    parts = { store, gate };
    return parts;
  };
  const store: TokenStore = {
    load: async (): Promise<StoredTokens | undefined> => (await get()).store.load(),
    save: async (tokens) => (await get()).store.save(tokens),
    clear: async () => (await get()).store.clear(),
  };
  const gate: RefreshGate = {
    run: async (usable, grant) => (await get()).gate.run(usable, grant),
  };
  const ready = async (onError: (err: Error) => void, closed: () => boolean, retryMs = 5_000): Promise<boolean> => {
    let last = '';
    for (;;) {
      if (closed()) return false;
      try {
        await get();
        return !closed();
      } catch (err) {
        const message = (err as Error).message;
        if (message !== last) onError(err as Error);
        last = message;
      }
      await new Promise((resolve) => setTimeout(resolve, retryMs));
    }
  };
  return { store, gate, ready };
}
