/**
 * Bad cluster configuration gives a clear typed error, never a silent fall-back (issue 17 "Done when"), against real
 * redis-servers: unreachable, NOAUTH, WRONGPASS, an eviction policy that may lose keys; CONFIG refused is a warning
 * that says the policy could not be checked. No message carries the password.
 */
import assert from 'node:assert/strict';
import { ConfigurationError } from '../../../src/core/errors';
import { RedisAuthError, RedisEvictionPolicyError, RedisUnreachableError, openRedisState } from '../../../src/core/state';
import { freePort, redisServerPath, startRedisServer, type RedisServer } from '../../support/redis';

describe('state: Redis connection checks', function () {
  const servers: RedisServer[] = [];
  const start = async (options: Parameters<typeof startRedisServer>[0]) => {
    const server = await startRedisServer(options);
    servers.push(server);
    return server;
  };

  before(function () {
    if (!redisServerPath()) {
      const message = 'redis-server not found (apt-get install redis-server, or set REDIS_SERVER_PATH)';
      if (process.env.CI === 'true') throw new Error(`${message}: the cluster tests cannot run in CI without it`);
      console.warn(`      skipped: ${message}`);
      this.skip();
    }
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.dispose()));
  });

  it('refuses a URL that is not redis:// or rediss://, and a bad prefix', async () => {
    await assert.rejects(openRedisState({ url: 'http://127.0.0.1:6379' }), (err: unknown) => err instanceof ConfigurationError && err.setting === 'url' && /redis:\/\/ or rediss:\/\//.test(err.message));
    await assert.rejects(openRedisState({ url: 'not a url' }), (err: unknown) => err instanceof ConfigurationError && err.setting === 'url');
    await assert.rejects(openRedisState({ url: 'redis://127.0.0.1:1', prefix: 'has space' }), (err: unknown) => err instanceof ConfigurationError && err.setting === 'prefix');
  });

  it('says Redis is unreachable when nothing listens', async () => {
    const port = await freePort();
    await assert.rejects(
      openRedisState({ url: `redis://:pw-in-url@127.0.0.1:${port}`, connectTimeoutMs: 2_000 }),
      (err: unknown) =>
        err instanceof RedisUnreachableError &&
        err.code === 'redis_unreachable' &&
        err.message.startsWith(`Redis at redis://127.0.0.1:${port} is unreachable: `) &&
        /ECONNREFUSED/.test(err.message) &&
        !err.message.includes('pw-in-url'),
    );
  });

  it('says Redis is unreachable for an unknown host, and for rediss:// to a server without TLS', async () => {
    await assert.rejects(
      openRedisState({ url: 'redis://no-such-host.invalid:6379', connectTimeoutMs: 2_000 }),
      (err: unknown) => err instanceof RedisUnreachableError && /^Redis at redis:\/\/no-such-host\.invalid:6379 is unreachable: .*ENOTFOUND/.test(err.message),
    );
    const plain = await start({});
    await assert.rejects(
      openRedisState({ url: `rediss://127.0.0.1:${plain.port}`, connectTimeoutMs: 2_000 }),
      (err: unknown) => err instanceof RedisUnreachableError && err.message.startsWith(`Redis at rediss://127.0.0.1:${plain.port} is unreachable: `),
    );
  });

  it('says a password is needed (NOAUTH) or wrong (WRONGPASS), without quoting it', async () => {
    const server = await start({ password: 'right-secret' });
    await assert.rejects(openRedisState({ url: server.url }), (err: unknown) => err instanceof RedisAuthError && err.code === 'redis_auth_failed' && err.reason === 'NOAUTH' && /needs a password/.test(err.message));
    await assert.rejects(
      openRedisState({ url: server.url, password: 'wrong-secret' }),
      (err: unknown) => err instanceof RedisAuthError && err.reason === 'WRONGPASS' && !err.message.includes('wrong-secret'),
    );
    await assert.rejects(
      openRedisState({ url: `redis://:wrong-secret@127.0.0.1:${server.port}` }),
      (err: unknown) => err instanceof RedisAuthError && err.reason === 'WRONGPASS' && !err.message.includes('wrong-secret'),
    );
    const state = await openRedisState({ url: server.url, password: 'right-secret' });
    try {
      assert.deepEqual(state.warnings, []);
      assert.ok(await state.leases.acquire('ok', 1_000));
    } finally {
      await state.close();
    }
    const viaUrl = await openRedisState({ url: `redis://:right-secret@127.0.0.1:${server.port}` });
    await viaUrl.close();
  });

  it('refuses an eviction policy other than noeviction', async () => {
    const server = await start({ maxmemoryPolicy: 'allkeys-lru' });
    await assert.rejects(
      openRedisState({ url: server.url }),
      (err: unknown) => err instanceof RedisEvictionPolicyError && err.code === 'redis_eviction_policy' && err.policy === 'allkeys-lru' && /set maxmemory-policy noeviction/.test(err.message),
    );
  });

  it('says the eviction policy could not be checked when CONFIG is refused (and still connects)', async () => {
    const server = await start({ disableConfig: true, maxmemoryPolicy: 'volatile-lru' });
    const state = await openRedisState({ url: server.url });
    try {
      assert.equal(state.warnings.length, 1);
      assert.match(state.warnings[0], /^Redis at redis:\/\/127\.0\.0\.1:\d+: the eviction policy could not be checked \(CONFIG GET refused: .*\); make sure maxmemory-policy is noeviction$/);
    } finally {
      await state.close();
    }
  });
});
