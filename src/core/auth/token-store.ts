/**
 * Where a connector's tokens live between refreshes and across restarts. Microsoft rotates the refresh token on
 * every refresh (`reference/graph.md` §8), and Node-RED writes credentials to disk only on a deploy
 * (`reference/node-red.md` §3, "Runtime facts"), so every rotation is saved at once to an encrypted file:
 * AES-256-GCM, key derived (scrypt) from Node-RED's credential secret, one file per connector under the user
 * directory, written atomically (`core/persistence/atomic-file`), mode 0600.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, scryptSync } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../persistence/atomic-file';

/** What is persisted for one connector. */
export interface StoredTokens {
  refreshToken?: string;
  accessToken?: string;
  expiresAt?: number;
  account?: string;
  scope?: string;
  /** Hash of client id + tenant + authority the tokens belong to (tokens of another app are ignored). */
  binding?: string;
  /** Epoch ms of the save. */
  savedAt: number;
}

export interface TokenStore {
  load(): Promise<StoredTokens | undefined>;
  save(tokens: StoredTokens): Promise<void>;
  clear(): Promise<void>;
}

export class MemoryTokenStore implements TokenStore {
  private value?: StoredTokens;

  constructor(initial?: StoredTokens) {
    this.value = initial;
  }

  async load(): Promise<StoredTokens | undefined> {
    return this.value ? { ...this.value } : undefined;
  }

  async save(tokens: StoredTokens): Promise<void> {
    this.value = { ...tokens };
  }

  async clear(): Promise<void> {
    this.value = undefined;
  }
}

/** A binding of tokens to the app and authority that issued them. */
export function tokenBinding(clientId: string, tenant: string, authorityHost: string): string {
  return createHash('sha256').update(`${clientId}\u0000${tenant.toLowerCase()}\u0000${authorityHost.replace(/\/+$/, '')}`).digest('base64url').slice(0, 22);
}

const FORMAT = 'ms365-tokens/1';

/** The AES-256 key of a secret (scrypt). */
export function tokenKey(secret: string): Buffer {
  return scryptSync(secret, 'node-red-ms365-events/token-store', 32);
}

/** Tokens sealed with AES-256-GCM under `key`: the text kept in a token file or a shared token record. */
export function sealTokens(key: Buffer, tokens: StoredTokens): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const data = Buffer.concat([cipher.update(JSON.stringify(tokens), 'utf8'), cipher.final()]);
  return JSON.stringify({ format: FORMAT, iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: data.toString('base64') });
}

/** The tokens of a sealed text; undefined when it was sealed with another secret, is damaged or is not one. */
export function openTokens(key: Buffer, text: string): StoredTokens | undefined {
  try {
    const box = JSON.parse(text) as { format?: string; iv?: string; tag?: string; data?: string };
    if (box.format !== FORMAT || !box.iv || !box.tag || !box.data) return undefined;
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(box.iv, 'base64'));
    decipher.setAuthTag(Buffer.from(box.tag, 'base64'));
    const plain = Buffer.concat([decipher.update(Buffer.from(box.data, 'base64')), decipher.final()]);
    return JSON.parse(plain.toString('utf8')) as StoredTokens;
  } catch {
    return undefined;
  }
}

/** Encrypted file store; `secret` is Node-RED's credential secret (or a key kept beside the files). */
export class EncryptedFileTokenStore implements TokenStore {
  private readonly key: Buffer;
  /** Saves are serialized, so the newest rotation is the one on disk. */
  private queue: Promise<void> = Promise.resolve();

  constructor(
    readonly file: string,
    secret: string,
  ) {
    if (!secret) throw new Error('EncryptedFileTokenStore needs a secret');
    this.key = tokenKey(secret);
  }

  /** The file for a connector id under a directory. */
  static fileFor(dir: string, connectorId: string): string {
    return path.join(dir, `${connectorId.replace(/[^A-Za-z0-9_.-]/g, '_')}.json`);
  }

  async load(): Promise<StoredTokens | undefined> {
    await this.queue;
    let text: string;
    try {
      text = await fs.readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    // Another secret, or a damaged file: unusable, as if absent (the user signs in again).
    return openTokens(this.key, text);
  }

  save(tokens: StoredTokens): Promise<void> {
    const run = this.queue.then(() => this.write(tokens));
    this.queue = run.catch(() => undefined);
    return run;
  }

  async clear(): Promise<void> {
    await this.queue;
    await fs.rm(this.file, { force: true });
  }

  private async write(tokens: StoredTokens): Promise<void> {
    await writeFileAtomic(this.file, sealTokens(this.key, tokens), { mode: 0o600 });
  }
}
