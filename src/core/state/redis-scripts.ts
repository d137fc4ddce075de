/**
 * The Lua scripts of the Redis shared state (docs/cluster.md "Leases and fencing"). Each runs atomically on the
 * server: a check and the write it guards can never be separated by another client's command.
 *
 * A lease key holds `<fence>:<owner>` with a TTL (PX); its fence counter (no TTL) is INCR'd at every acquisition, so
 * fencing numbers only grow. Every key a script touches shares the lease name's hash tag (Redis Cluster slots).
 */
import { createHash } from 'node:crypto';
import type Redis from 'ioredis';

export interface LuaScript {
  source: string;
  sha: string;
  keys: number;
}

function script(keys: number, source: string): LuaScript {
  return { source, keys, sha: createHash('sha1').update(source).digest('hex') };
}

/**
 * KEYS: lease, fence counter. ARGV: owner, ttl ms.
 * {1, fence}: acquired (or extended: same owner); {0, fence, pttl}: held by another.
 */
export const ACQUIRE = script(
  2,
  `local cur = redis.call('GET', KEYS[1])
if cur then
  local f, o = string.match(cur, '^(%d+):(.*)$')
  if o == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return {1, tonumber(f)}
  end
  return {0, tonumber(f), redis.call('PTTL', KEYS[1])}
end
local f = redis.call('INCR', KEYS[2])
if not redis.call('SET', KEYS[1], f .. ':' .. ARGV[1], 'NX', 'PX', ARGV[2]) then return {0, 0, 0} end
return {1, f}`,
);

/** KEYS: lease. ARGV: holder (`<fence>:<owner>`), ttl ms. 1 renewed, 0 not held. */
export const RENEW = script(
  1,
  `if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0`,
);

/** KEYS: lease. ARGV: holder. 1 released, 0 not held. */
export const RELEASE = script(
  1,
  `if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0`,
);

/**
 * Fenced write of a record (a hash: `fence`, `value`). KEYS: lease, record. ARGV: holder, fence, value ('' with
 * ARGV[4] = 'del': delete the record).
 * {1}: written; {0, reason, fence}: refused: 'expired' (no lease), 'superseded' (another holder, its fence),
 * 'older' (the record carries a higher fence), 'reset' (the same, written by `RESET_RECORD`).
 */
export const FENCED_WRITE = script(
  2,
  `local cur = redis.call('GET', KEYS[1])
if cur ~= ARGV[1] then
  if not cur then return {0, 'expired', 0} end
  return {0, 'superseded', tonumber(string.match(cur, '^(%d+):'))}
end
local stored = tonumber(redis.call('HGET', KEYS[2], 'fence') or '0')
if stored > tonumber(ARGV[2]) then
  if redis.call('HGET', KEYS[2], 'reset') == '1' then return {0, 'reset', stored} end
  return {0, 'older', stored}
end
if ARGV[4] == 'del' then
  redis.call('DEL', KEYS[2])
else
  redis.call('HSET', KEYS[2], 'fence', ARGV[2], 'value', ARGV[3])
  redis.call('HDEL', KEYS[2], 'reset')
end
return {1}`,
);

/**
 * Compare-and-set of a versioned record (a hash: `version`, `value`). KEYS: record, lease. ARGV: expected version,
 * value, holder ('' = unfenced).
 * {1, version}: written; {0, version, value}: another version is stored; {-1, reason, fence}: fenced and refused.
 */
export const VERSION_CAS = script(
  2,
  `if ARGV[3] ~= '' then
  local cur = redis.call('GET', KEYS[2])
  if cur ~= ARGV[3] then
    if not cur then return {-1, 'expired', 0} end
    return {-1, 'superseded', tonumber(string.match(cur, '^(%d+):'))}
  end
end
local v = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if v ~= tonumber(ARGV[1]) then return {0, v, redis.call('HGET', KEYS[1], 'value') or false} end
redis.call('HSET', KEYS[1], 'version', v + 1, 'value', ARGV[2])
return {1, v + 1}`,
);

/**
 * Resets a record from any instance (`msg.reset` in a cluster): written with a fresh fencing number taken from the
 * lease's counter, above the holder's, so the holder's next write is refused ('reset'): it stops, acquires the lease
 * again (a higher number) and re-reads the record. KEYS: fence counter, record. ARGV: value. Returns the fence.
 */
export const RESET_RECORD = script(
  2,
  `local f = redis.call('INCR', KEYS[1])
redis.call('HSET', KEYS[2], 'fence', f, 'value', ARGV[1], 'reset', '1')
return f`,
);

/**
 * Advances a catch-up bookmark (a hash: `watermark`) and its delivered versions (a sorted set: member = version key,
 * score = updatedMs). KEYS: bookmark, versions. ARGV: watermark, max versions kept, then key/updatedMs pairs.
 * The watermark only grows; versions dated before the watermark's second are dropped, the oldest beyond the cap too.
 */
export const ADVANCE_BOOKMARK = script(
  2,
  `local w = tonumber(ARGV[1])
local stored = tonumber(redis.call('HGET', KEYS[1], 'watermark') or '-1')
if w > stored then
  redis.call('HSET', KEYS[1], 'watermark', ARGV[1])
else
  w = stored
end
for i = 3, #ARGV, 2 do
  redis.call('ZADD', KEYS[2], ARGV[i + 1], ARGV[i])
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. tostring(w - (w % 1000)))
local n = redis.call('ZCARD', KEYS[2])
local cap = tonumber(ARGV[2])
if n > cap then redis.call('ZREMRANGEBYRANK', KEYS[2], 0, n - cap - 1) end
return w`,
);

/** Drains a list while a lease holds. KEYS: lease, list. ARGV: holder. {1, items...} or {0} (not held). */
export const DRAIN_IF_HOLDER = script(
  2,
  `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {0} end
local items = redis.call('LRANGE', KEYS[2], 0, -1)
redis.call('DEL', KEYS[2])
table.insert(items, 1, 1)
return items`,
);

/** Runs a script by its SHA1, loading it on NOSCRIPT (after a Redis restart or SCRIPT FLUSH). */
export async function runScript(client: Redis, lua: LuaScript, keys: string[], args: Array<string | number>): Promise<unknown> {
  if (keys.length !== lua.keys) throw new Error(`script expects ${lua.keys} keys, got ${keys.length}`);
  try {
    return await client.evalsha(lua.sha, lua.keys, ...keys, ...args);
  } catch (err) {
    if (!/^NOSCRIPT\b/.test(String((err as Error).message))) throw err;
    return client.eval(lua.source, lua.keys, ...keys, ...args);
  }
}
