/**
 * Opens the Redis connection of the shared state and checks it before anything relies on it (issue 17 "Done when":
 * bad configuration gives a clear error, never a silent fall-back to single-instance mode):
 * - the URL is `redis://` or `rediss://` (`ConfigurationError`);
 * - the server answers (`RedisUnreachableError`: refused, timeout, DNS, TLS);
 * - it accepts our credentials (`RedisAuthError`: NOAUTH, WRONGPASS);
 * - its `maxmemory-policy` is `noeviction` (`RedisEvictionPolicyError`); when `CONFIG GET` is refused (managed Redis
 *   services rename or forbid it) the policy could not be checked and a warning says so.
 * After the first successful connection the client reconnects by itself (the lease protocol tolerates the gap: a
 * lease not renewed in time is lost, and the fencing number refuses the late writes).
 * No message carries the password: the target is quoted as `redis[s]://host:port`.
 */
import Redis from 'ioredis';
import { ConfigurationError } from '../errors';
import { RedisAuthError, RedisEvictionPolicyError, RedisUnreachableError } from './errors';

export interface RedisConnectionOptions {
  /** `redis://[user[:password]@]host[:port][/db]` or `rediss://...` (TLS). */
  url: string;
  /** Overrides the URL's password (the config node's credential). */
  password?: string;
  /** Connection timeout of the first connection; default 5,000 ms. */
  connectTimeoutMs?: number;
}

export interface RedisConnection {
  client: Redis;
  /** `redis://host:port` without user info. */
  target: string;
  warnings: string[];
}

/** `redis[s]://host:port` of a URL, without its user info, path or query. */
export function redisTarget(url: URL): string {
  return `${url.protocol}//${url.hostname}${url.port ? `:${url.port}` : ''}`;
}

export function parseRedisUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new ConfigurationError('url', 'not a URL (expected redis://host:6379 or rediss://host:6380)');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new ConfigurationError('url', `${url.protocol} is not supported (expected redis:// or rediss://)`);
  }
  if (!url.hostname) throw new ConfigurationError('url', 'no host (expected redis://host:6379)');
  return url;
}

function classify(target: string, err: Error | undefined): Error {
  const message = err?.message ?? 'connection closed';
  if (/^NOAUTH\b/.test(message)) return new RedisAuthError(target, 'NOAUTH', { cause: err });
  if (/^WRONGPASS\b/.test(message) || /invalid password/i.test(message)) return new RedisAuthError(target, 'WRONGPASS', { cause: err });
  return new RedisUnreachableError(target, message.split('\n')[0], { cause: err });
}

export async function openRedisConnection(options: RedisConnectionOptions): Promise<RedisConnection> {
  const url = parseRedisUrl(options.url);
  const target = redisTarget(url);
  let established = false;
  let lastError: Error | undefined;
  const client = new Redis(url.toString(), {
    ...(options.password ? { password: options.password } : {}),
    lazyConnect: true,
    connectTimeout: options.connectTimeoutMs ?? 5_000,
    // The first connection fails fast (the caller reports it); later ones retry with a capped backoff.
    retryStrategy: (times: number) => (established ? Math.min(100 * times, 2_000) : null),
    maxRetriesPerRequest: 3,
  });
  client.on('error', (err: Error) => {
    lastError = err;
  });
  try {
    await client.connect();
  } catch (err) {
    client.disconnect();
    throw classify(target, lastError ?? (err as Error));
  }
  established = true;
  const warnings: string[] = [];
  try {
    let policy: string | undefined;
    try {
      const answer = (await client.call('CONFIG', 'GET', 'maxmemory-policy')) as unknown;
      policy = configValue(answer, 'maxmemory-policy');
    } catch (err) {
      const first = String((err as Error).message).split('\n')[0];
      if (/^(NOAUTH|WRONGPASS)\b/.test(first)) throw classify(target, err as Error);
      warnings.push(`Redis at ${target}: the eviction policy could not be checked (CONFIG GET refused: ${first}); make sure maxmemory-policy is noeviction`);
    }
    if (policy !== undefined && policy !== 'noeviction') throw new RedisEvictionPolicyError(target, policy);
  } catch (err) {
    client.disconnect();
    throw err;
  }
  return { client, target, warnings };
}

/** The value of `name` in a CONFIG GET answer (a flat array in RESP2, a map in RESP3). */
function configValue(answer: unknown, name: string): string | undefined {
  if (Array.isArray(answer)) {
    for (let i = 0; i + 1 < answer.length; i += 2) if (String(answer[i]) === name) return String(answer[i + 1]);
    return undefined;
  }
  if (answer && typeof answer === 'object') {
    const value = (answer as Record<string, unknown>)[name];
    return value === undefined ? undefined : String(value);
  }
  return undefined;
}
