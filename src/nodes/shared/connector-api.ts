/**
 * What an `ms365-connector` config node offers the nodes that use it (as core MQTT's broker node offers its
 * connection, STYLE.md §1): one shared Graph client and token manager, and status fan-out to registered users.
 * User nodes get it with `RED.nodes.getNode(config.connector) as ConnectorNode | null`.
 */
import type { Node, NodeStatus } from 'node-red';
import type { ElementKey } from '../../core/elements';
import type { GraphClient } from '../../core/graph/client';
import type { AuthStatus } from '../../core/auth/token-manager';
import type { ClusterNode } from './cluster-api';

export interface ConnectorNode extends Node {
  readonly elementKey: ElementKey;
  /** The connector's `name` (copied into events as `instanceName`). */
  readonly instanceName: string;
  readonly graph: GraphClient;
  /** `/me` for delegated sign-in, `/users/{userId}` for client credentials (CONTRACT: `/me/` is rewritten). */
  readonly mePath: string;
  /** Start sharing: the user node receives the connector's status changes (signed in, sign-in needed, ...). */
  register(user: Node): void;
  /** Stop sharing (call from the user's close handler). */
  deregister(user: Node): void;
  /** The connector's current status, to show on a newly registered user. */
  currentStatus(): NodeStatus;
  /** `authorization_code` (delegated) or `client_credentials` (app-only). */
  readonly grantType: 'authorization_code' | 'client_credentials';
  /** The app (client) id (not a secret): the `aud` of rich-notification validation tokens (graph.md §4). */
  readonly clientId?: string;
  /** The identity platform host (`https://login.microsoftonline.com`): where its JWKS lives. */
  readonly authorityHost?: string;
  /** Sign-in state (state, account, access token expiry, last error); never a token. */
  authStatus(): AuthStatus;
  /**
   * The `ms365-cluster` config node this connector names (CONTRACT "ms365-connector" field `cluster`): its users keep
   * their state in Redis and share the work with the other instances. Undefined: single-instance file mode.
   */
  readonly cluster?: ClusterNode;
  /** The cluster id the connector names, also when that node is missing (users then refuse to start: no fall-back). */
  readonly clusterId?: string;
}
