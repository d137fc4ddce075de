/**
 * Node-RED adapter for `ms365-cluster` (CONTRACT.md "ms365-cluster", issue 17): one checked Redis connection shared
 * by the nodes that name the cluster (as core MQTT's broker node shares its connection, STYLE.md §1). Bad
 * configuration shows a red status and one readable `node.error` at deploy (`core/state/redis-connection`): an
 * invalid URL or prefix, Redis unreachable (retried every 5 s: Redis may start after Node-RED), a missing or wrong
 * password, an eviction policy other than `noeviction`. A warning (e.g. the eviction policy could not be checked)
 * goes to the log. Nothing falls back to single-instance mode. No node uses it yet (docs/cluster.md).
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { ConfigurationError, Ms365Error } from '../core/errors';
import { RedisAuthError, RedisEvictionPolicyError, RedisUnreachableError } from '../core/state/errors';
import { openRedisState } from '../core/state/redis-state';
import type { SharedState } from '../core/state/types';
import type { ClusterNode } from './shared/cluster-api';
import { statusFanOut } from './shared/status-fan-out';

interface ClusterDef extends NodeDef {
  url?: string;
  prefix?: string;
}

interface ClusterCredentials {
  password?: string;
}

const RETRY_MS = 5_000;
const CLOSE_GRACE_MS = 300;

type StatusKey = 'connecting' | 'connected' | 'reconnecting' | 'unreachable' | 'passwordNeeded' | 'wrongPassword' | 'evictionPolicy' | 'invalidConfig' | 'error';

const ENGLISH: Record<StatusKey, string> = {
  connecting: 'connecting',
  connected: 'connected: __target__',
  reconnecting: 'reconnecting',
  unreachable: 'Redis unreachable (retrying)',
  passwordNeeded: 'password needed',
  wrongPassword: 'wrong password',
  evictionPolicy: 'eviction policy __policy__',
  invalidConfig: 'invalid configuration',
  error: 'error',
};

function statusKeyOf(err: unknown): { key: StatusKey; params?: Record<string, string> } {
  if (err instanceof RedisUnreachableError) return { key: 'unreachable' };
  if (err instanceof RedisAuthError) return { key: err.reason === 'NOAUTH' ? 'passwordNeeded' : 'wrongPassword' };
  if (err instanceof RedisEvictionPolicyError) return { key: 'evictionPolicy', params: { policy: err.policy } };
  if (err instanceof ConfigurationError) return { key: 'invalidConfig' };
  return { key: 'error' };
}

export = function register(RED: NodeAPI): void {
  const text = (key: StatusKey, params: Record<string, string> = {}) => {
    const full = `ms365-cluster.status.${key}`;
    let value = '';
    try {
      value = RED._(full, params);
    } catch {
      value = '';
    }
    if (!value || value === full) value = ENGLISH[key].replace(/__(\w+)__/g, (_m, name: string) => params[name] ?? '');
    return value;
  };

  function Ms365ClusterNode(this: ClusterNode & Node<ClusterCredentials>, def: ClusterDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const statuses = statusFanOut(node);
    let closed = false;
    let retryTimer: NodeJS.Timeout | undefined;

    const show = statuses.show;

    const connect = (): Promise<SharedState> => {
      show({ fill: 'yellow', shape: 'ring', text: text('connecting') });
      const attempt = openRedisState({ url: def.url ?? '', prefix: def.prefix, password: node.credentials?.password || undefined });
      attempt.then(
        (state) => {
          if (closed) return;
          for (const warning of state.warnings) node.warn(warning);
          const connected = () => show({ fill: state.warnings.length ? 'yellow' : 'green', shape: 'dot', text: text('connected', { target: state.target }) });
          connected();
          // Later connection losses: the client reconnects by itself; the status says so meanwhile.
          state.client.on('reconnecting', () => {
            if (!closed) show({ fill: 'yellow', shape: 'ring', text: text('reconnecting') });
          });
          state.client.on('ready', () => {
            if (!closed) connected();
          });
        },
        (err: unknown) => {
          if (closed) return;
          const { key, params } = statusKeyOf(err);
          show({ fill: 'red', shape: 'ring', text: text(key, params) });
          node.error(err instanceof Ms365Error ? `ms365-cluster: ${err.message}` : `ms365-cluster: ${(err as Error).message}`);
          if (err instanceof RedisUnreachableError) {
            retryTimer = setTimeout(() => {
              retryTimer = undefined;
              if (!closed) outcome = connect();
            }, RETRY_MS);
          }
        },
      );
      return attempt;
    };
    let outcome = connect();
    // The outcome is reported through status and log; users that ask get it again.
    outcome.catch(() => undefined);

    node.state = () => outcome;
    node.register = statuses.register;
    node.deregister = statuses.deregister;
    node.currentStatus = statuses.current;

    node.on('close', (_removed: boolean, done: () => void) => {
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      statuses.close();
      // An attempt under way ends within its connect timeout; a connection it made is closed, after a moment for
      // the users stopping at the same time to release their leases (the next owner then need not wait for a TTL).
      outcome
        .then(async (state) => {
          await new Promise((resolve) => setTimeout(resolve, CLOSE_GRACE_MS));
          await state.close();
        }, () => undefined)
        .catch(() => undefined)
        .finally(done);
    });
  }

  RED.nodes.registerType('ms365-cluster', Ms365ClusterNode as unknown as (this: Node, def: NodeDef) => void, {
    credentials: {
      password: { type: 'password' },
    },
  });
};
