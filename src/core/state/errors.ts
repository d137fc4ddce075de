/**
 * Errors of the shared state (cluster mode, issue 17). Each has a stable `code` and a message a user can act on;
 * none carries a password (Redis URLs are quoted without their user info).
 */
import { Ms365Error } from '../errors';

/** The Redis server cannot be reached (refused, timed out, DNS, TLS): nothing falls back to single-instance mode. */
export class RedisUnreachableError extends Ms365Error {
  constructor(readonly target: string, detail: string, options?: { cause?: unknown }) {
    super('redis_unreachable', `Redis at ${target} is unreachable: ${detail}`, options);
    this.name = 'RedisUnreachableError';
  }
}

/** Redis refused our credentials: `NOAUTH` (a password is needed, none was given) or `WRONGPASS`. */
export class RedisAuthError extends Ms365Error {
  constructor(
    readonly target: string,
    readonly reason: 'NOAUTH' | 'WRONGPASS',
    options?: { cause?: unknown },
  ) {
    super(
      'redis_auth_failed',
      reason === 'NOAUTH'
        ? `Redis at ${target} needs a password (NOAUTH): set the cluster node's password`
        : `Redis at ${target} refused the password (WRONGPASS): check the cluster node's password (and user name in the URL)`,
      options,
    );
    this.name = 'RedisAuthError';
  }
}

/**
 * Redis may evict keys (`maxmemory-policy` other than `noeviction`): a lease, a fencing counter, a cursor or a queued
 * delivery could vanish under memory pressure, so the cluster refuses to run on it.
 */
export class RedisEvictionPolicyError extends Ms365Error {
  constructor(
    readonly target: string,
    readonly policy: string,
  ) {
    super(
      'redis_eviction_policy',
      `Redis at ${target} has maxmemory-policy ${policy}: it may evict leases, cursors or tokens under memory pressure; set maxmemory-policy noeviction`,
    );
    this.name = 'RedisEvictionPolicyError';
  }
}

export type StaleFenceReason = 'expired' | 'superseded' | 'older' | 'reset';

/**
 * A write under a lease the caller no longer holds: the lease expired (`expired`), another instance took it over
 * (`superseded`), the record was already written under a newer fencing number (`older`), or another instance reset
 * the record (`reset`, `msg.reset` in a cluster: written with a fresh fencing number). The write was refused;
 * the caller must stop acting as owner, acquire the lease again and re-read.
 */
export class StaleFenceError extends Ms365Error {
  constructor(
    readonly lease: string,
    readonly fence: number,
    readonly reason: StaleFenceReason,
    /** The fencing number of the current holder (or of the record's last write), when there is one. */
    readonly currentFence?: number,
  ) {
    super(
      'stale_fence',
      `write under lease ${lease} refused: fencing number ${fence} is stale (${reason === 'expired' ? 'the lease expired' : reason === 'superseded' ? `another instance holds it with fencing number ${currentFence}` : reason === 'reset' ? `another instance reset the record (fencing number ${currentFence})` : `the record was written with fencing number ${currentFence}`})`,
    );
    this.name = 'StaleFenceError';
  }
}
