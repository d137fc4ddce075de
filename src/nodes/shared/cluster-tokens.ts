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
import { SharedTokenStore, TokenRecordConflictError } from '../../core/state/shared-token-store';
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

/**
 * A delegated sign-in made in the dialog of a connector that names a deployed cluster (issue 17): written to Redis,
 * sealed, never to this instance's token file. It replaces the record (a sign-in wins over what another instance
 * wrote since the read: one retry on the version conflict).
 */
export async function saveSignInToCluster(cluster: ClusterNode, connectorId: string, secret: string, tokens: StoredTokens): Promise<void> {
  const state = await cluster.state();
  const store = new SharedTokenStore({ records: state.tokens, connectorId, secret });
  await store.load();
  try {
    await store.save(tokens);
  } catch (err) {
    if (!(err instanceof TokenRecordConflictError)) throw err;
    await store.save(tokens); // the conflict brought the stored version
  }
}

/** The sign-in stored in the cluster's Redis for connector `connectorId` (the status route of a connector not running). */
export async function loadFromCluster(cluster: ClusterNode, connectorId: string, secret: string): Promise<StoredTokens | undefined> {
  const state = await cluster.state();
  return new SharedTokenStore({ records: state.tokens, connectorId, secret }).load();
}

/**
 * At deploy with a cluster: a sign-in this instance's token file holds (made in the dialog before the connector was
 * deployed with its cluster) for the same app, tenant and authority (`binding`) moves into Redis when Redis has none
 * or an older one, and is then removed from the file (and the node's credentials). True when it moved; a version
 * conflict (another instance wrote meanwhile: its record is newer) leaves both as they are.
 */
export async function moveFileSignIn(shared: TokenStore, local: TokenStore, binding: string): Promise<boolean> {
  const file = await local.load();
  if (!file?.refreshToken || file.binding !== binding) return false;
  const current = await shared.load();
  if (current?.refreshToken && (current.savedAt ?? 0) >= (file.savedAt ?? 0)) return false;
  try {
    await shared.save(file);
  } catch (err) {
    if (err instanceof TokenRecordConflictError) return false;
    throw err;
  }
  await local.clear();
  return true;
}
