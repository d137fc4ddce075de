/**
 * Where an `ms365-connector` keeps its tokens (`reference/node-red.md` §3, "Runtime facts"): in Node-RED's
 * credentials of the node (undeclared key `ms365Tokens`: never sent to the editor, saved encrypted in
 * `flows_cred.json` on the next deploy) AND, at once on every rotation, in an AES-256-GCM file under
 * `<userDir>/.ms365-events/tokens/`, keyed from Node-RED's credential secret, so that a restart without a
 * redeploy still has the newest refresh token. On load, the newer of the two wins.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { NodeAPI } from 'node-red';
import { stateDirectory } from './state-dir';
import { EncryptedFileTokenStore, type StoredTokens, type TokenStore } from '../../core/auth/token-store';

/** The credentials key holding the serialized StoredTokens. */
export const TOKEN_CREDENTIAL_KEY = 'ms365Tokens';

/** Node-RED's credential secret (settings `credentialSecret`, else the generated `_credentialSecret`). */
function credentialSecretOf(RED: NodeAPI): string | undefined {
  const settings = RED.settings as unknown as { credentialSecret?: unknown; get?: (k: string) => unknown };
  if (typeof settings.credentialSecret === 'string' && settings.credentialSecret) return settings.credentialSecret;
  try {
    const generated = settings.get?.('_credentialSecret');
    if (typeof generated === 'string' && generated) return generated;
  } catch {
    // settings not available (test runtime)
  }
  return undefined;
}

/** The secret for the token files: the credential secret, else a random key kept (0600) beside the files. */
function fileSecret(RED: NodeAPI, dir: string): string {
  const secret = credentialSecretOf(RED);
  if (secret) return secret;
  const keyFile = path.join(dir, '.key');
  try {
    return readFileSync(keyFile, 'utf8').trim();
  } catch {
    const key = randomBytes(32).toString('base64url');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(keyFile, key, { mode: 0o600 });
    return key;
  }
}

export function tokenDirectory(RED: NodeAPI): string | undefined {
  const dir = stateDirectory(RED);
  return dir ? path.join(dir, 'tokens') : undefined;
}

class NodeRedCredentialTokenStore implements TokenStore {
  constructor(
    private readonly RED: NodeAPI,
    private readonly id: string,
  ) {}

  private current(): Record<string, unknown> {
    return ((this.RED.nodes.getCredentials(this.id) as Record<string, unknown> | undefined) ?? {}) as Record<string, unknown>;
  }

  async load(): Promise<StoredTokens | undefined> {
    const raw = this.current()[TOKEN_CREDENTIAL_KEY];
    if (typeof raw !== 'string') return undefined;
    try {
      return JSON.parse(raw) as StoredTokens;
    } catch {
      return undefined;
    }
  }

  async save(tokens: StoredTokens): Promise<void> {
    await this.RED.nodes.addCredentials(this.id, { ...this.current(), [TOKEN_CREDENTIAL_KEY]: JSON.stringify(tokens) });
  }

  async clear(): Promise<void> {
    const { [TOKEN_CREDENTIAL_KEY]: _dropped, ...rest } = this.current();
    await this.RED.nodes.addCredentials(this.id, rest);
  }
}

class BothStores implements TokenStore {
  constructor(private readonly stores: TokenStore[]) {}

  async load(): Promise<StoredTokens | undefined> {
    let newest: StoredTokens | undefined;
    for (const store of this.stores) {
      const value = await store.load().catch(() => undefined);
      if (value && (!newest || (value.savedAt ?? 0) > (newest.savedAt ?? 0))) newest = value;
    }
    return newest;
  }

  async save(tokens: StoredTokens): Promise<void> {
    await Promise.all(this.stores.map((s) => s.save(tokens)));
  }

  async clear(): Promise<void> {
    await Promise.all(this.stores.map((s) => s.clear()));
  }
}

/** The token store of connector `id`. */
export function connectorTokenStore(RED: NodeAPI, id: string): TokenStore {
  const stores: TokenStore[] = [new NodeRedCredentialTokenStore(RED, id)];
  const dir = tokenDirectory(RED);
  if (dir) stores.push(new EncryptedFileTokenStore(EncryptedFileTokenStore.fileFor(dir, id), fileSecret(RED, dir)));
  return new BothStores(stores);
}

/** Remove the token file of a deleted connector. */
export async function removeTokenFile(RED: NodeAPI, id: string): Promise<void> {
  const dir = tokenDirectory(RED);
  if (dir) await fs.rm(EncryptedFileTokenStore.fileFor(dir, id), { force: true });
}

/**
 * A secret stable across restarts for this Node-RED installation (the credential secret, else the key kept beside
 * the token files). Used to derive values that must survive a restart without being stored, such as a
 * webhook-in's generated `clientState`.
 */
export function installationSecret(RED: NodeAPI): string {
  const secret = credentialSecretOf(RED);
  if (secret) return secret;
  const dir = tokenDirectory(RED);
  return dir ? fileSecret(RED, dir) : 'ms365-events-no-user-directory';
}
