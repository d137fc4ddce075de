/**
 * Where a poller keeps its cursors and the events of the round being sent (the interface the node chooses an
 * implementation of, issue 17): one instance's state file (`nodes/shared/poller-cursors` on `durable-cursors`), or
 * the cluster's Redis with one owner per resource (`core/state/cluster-cursors`). Either way the new cursor and the
 * round's events are stored BEFORE they are sent, and whoever resumes sends the pending ones again (same eventIds).
 */
import type { Ms365Event } from '../events';
import type { PollerCursor } from './index';

export interface PollerCursorStore {
  /** Grows with every `restart`: a round that began before it must not store its cursor. */
  readonly epoch: number;
  get(key: string): PollerCursor | undefined;
  /** Records the starting point `at` of every key that has none yet, at once (before any Graph call). */
  begin(keys: string[], at: number): Promise<void>;
  /** `msg.reset`: the keys start again at `at`, recorded at once. */
  restart(keys: string[], at: number): Promise<void>;
  /** Whether this instance polls `key` now (one instance: always; a cluster: while it holds the key's lease). */
  owns(key: string): boolean;
  /** A poll round begins. */
  startRound(): void;
  /**
   * Before `events` of `key` are sent: stored with the new `cursor` (undefined: unchanged). False: this instance no
   * longer owns `key` (its write was refused): it must not send them.
   */
  beforeSend(key: string, cursor: PollerCursor | undefined, events: Ms365Event[]): Promise<boolean>;
  /** After the send. */
  afterSend(key: string): Promise<void>;
  /**
   * Who polls instead of this instance when it owns none of its keys (a cluster's standby); else undefined. Rejects
   * while the shared state cannot be used (a cluster's Redis unreachable).
   */
  standbyOwner(): Promise<string | undefined>;
  /** Graceful close (removed: the node was deleted from the flows). */
  close(removed: boolean): Promise<void>;
}
