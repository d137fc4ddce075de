/**
 * A connector's tokens in the shared state (cluster mode, docs/cluster.md): the `TokenStore` of `core/auth` on a
 * `TokenRecordStore`, sealed with the same AES-256-GCM as the token file (`core/auth/token-store`, key from the
 * credential secret, which every instance of a cluster shares with its flows), so Redis never holds a token in clear.
 *
 * Saves are compare-and-set on the version last read or written here: when another instance wrote the record in
 * between (it refreshed first), the save is refused with `TokenRecordConflictError`, which carries that instance's
 * tokens to use instead (single-flight refresh across instances: the loser re-reads). With `lease` (the connector's
 * `token:` lease, e.g. from a `LeaseKeeper`) the save is also fenced (`StaleFenceError`).
 */
import { Ms365Error } from '../errors';
import { openTokens, sealTokens, tokenKey, type StoredTokens, type TokenStore } from '../auth/token-store';
import type { Lease, TokenRecordStore } from './types';

export class TokenRecordConflictError extends Ms365Error {
  constructor(
    readonly connectorId: string,
    /** The version now stored (0: none). */
    readonly version: number,
    /** The tokens now stored (undefined: none, or sealed with another secret). */
    readonly current: StoredTokens | undefined,
  ) {
    super('token_record_conflict', `the token record of connector ${connectorId} was written by another instance (version ${version}): use its tokens`);
    this.name = 'TokenRecordConflictError';
  }
}

export interface SharedTokenStoreOptions {
  records: TokenRecordStore;
  connectorId: string;
  /** Node-RED's credential secret (the same on every instance). */
  secret: string;
  /** The connector's `token:` lease while this instance holds it (saves are then fenced). */
  lease?: () => Lease | undefined;
}

export class SharedTokenStore implements TokenStore {
  private readonly key: Buffer;
  private version = 0;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: SharedTokenStoreOptions) {
    if (!options.secret) throw new Error('SharedTokenStore needs a secret');
    this.key = tokenKey(options.secret);
  }

  /** The version last read or written by this store (0: none). */
  get currentVersion(): number {
    return this.version;
  }

  async load(): Promise<StoredTokens | undefined> {
    await this.queue;
    const record = await this.options.records.read(this.options.connectorId);
    this.version = record?.version ?? 0;
    return record ? openTokens(this.key, record.value) : undefined;
  }

  save(tokens: StoredTokens): Promise<void> {
    const run = this.queue.then(() => this.write(tokens));
    this.queue = run.catch(() => undefined);
    return run;
  }

  async clear(): Promise<void> {
    await this.queue;
    await this.options.records.remove(this.options.connectorId);
    this.version = 0;
  }

  private async write(tokens: StoredTokens): Promise<void> {
    const { records, connectorId } = this.options;
    const result = await records.compareAndSet(connectorId, this.version, sealTokens(this.key, tokens), this.options.lease?.());
    if (result.ok) {
      this.version = result.version;
      return;
    }
    this.version = result.current?.version ?? 0;
    throw new TokenRecordConflictError(connectorId, this.version, result.current ? openTokens(this.key, result.current.value) : undefined);
  }
}
