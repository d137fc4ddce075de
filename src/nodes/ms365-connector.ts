/**
 * Node-RED adapter for `ms365-connector` (CONTRACT.md): one authenticated connector shared by the nodes that use
 * it, as core MQTT's broker node shares its connection (STYLE.md §1). It wires the pure core (connector config,
 * token manager, Graph client) to Node-RED: credentials, token store, status fan-out, admin routes.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { ConfigurationError, Ms365Error } from '../core/errors';
import { DEFAULT_GRAPH_BASE_URL } from '../core/elements';
import { resolveConnectorConfig, type ConnectorConfig, type ConnectorProperties } from '../core/auth/connector-config';
import { MicrosoftOAuth } from '../core/auth/oauth';
import { TokenManager, type AuthStatus } from '../core/auth/token-manager';
import { tokenBinding } from '../core/auth/token-store';
import { GraphClient, type TokenSource } from '../core/graph/client';
import type { ConnectorNode } from './shared/connector-api';
import { text } from './shared/i18n';
import { catalogText, renderStatus, statusOf, type ConnectorStatus } from './shared/connector-status';
import { connectorTokenStore, installationSecret, removeTokenFile } from './shared/connector-token-store';
import type { ClusterNode } from './shared/cluster-api';
import { clusterTokens, moveFileSignIn } from './shared/cluster-tokens';
import { registerConnectorRoutes, type LiveConnector } from './shared/connector-auth-routes';
import { registerImportRoute } from './shared/import-route';
import { registerConnectorTestRoute } from './shared/connector-check-route';
import { registerBrowseRoutes } from './shared/browse-routes';
import { statusFanOut } from './shared/status-fan-out';

type ConnectorDef = NodeDef & Omit<ConnectorProperties, 'name'> & { cluster?: string };

interface ConnectorCredentials {
  clientId?: string;
  clientSecret?: string;
}

type ConnectorNodeImpl = Node<ConnectorCredentials> & {
  -readonly [K in keyof Omit<ConnectorNode, keyof Node>]: ConnectorNode[K];
};

/** A token source for a connector that cannot get tokens (bad configuration): every call says why. */
function failingTokens(error: Ms365Error): TokenSource {
  return {
    getAccessToken: () => Promise.reject(error),
    onUnauthorized: () => Promise.reject(error),
  };
}

export = function register(RED: NodeAPI): void {
  /** Running connectors by node id (the admin routes find them here); deleted on close. */
  const live = new Map<string, LiveConnector>();
  registerConnectorRoutes(RED, live);
  registerConnectorTestRoute(RED, live);
  registerBrowseRoutes(RED, live);
  registerImportRoute(RED);

  function Ms365ConnectorNode(this: ConnectorNodeImpl, def: ConnectorDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const statuses = statusFanOut(node);
    const show = (status: ConnectorStatus) => statuses.show(renderStatus(RED, status));

    let config: ConnectorConfig | undefined;
    let configError: ConfigurationError | undefined;
    try {
      config = resolveConnectorConfig(def);
    } catch (err) {
      if (!(err instanceof ConfigurationError)) throw err;
      configError = err;
    }
    const clientId = (node.credentials?.clientId ?? '').trim();
    const clientSecret = node.credentials?.clientSecret ?? '';
    node.clientId = clientId;
    node.authorityHost = config?.authorityHost;
    if (config && !configError && (!clientId || !clientSecret)) {
      configError = new ConfigurationError(clientId ? 'clientSecret' : 'clientId', 'is missing: open the connector and enter it');
    }

    node.elementKey = config?.elementKey ?? 'outlookemail';
    node.instanceName = config?.name || def.name || '';
    node.mePath = config?.mePath ?? '/me';
    node.grantType = config?.grantType ?? 'authorization_code';
    node.register = statuses.register;
    node.deregister = statuses.deregister;
    node.currentStatus = statuses.current;
    // Cluster mode: a named cluster node that is not deployed is an error, never a fall-back to the token file.
    const clusterId = typeof def.cluster === 'string' ? def.cluster.trim() : '';
    node.clusterId = clusterId || undefined;
    node.cluster = clusterId ? ((RED.nodes.getNode(clusterId) as ClusterNode | null) ?? undefined) : undefined;
    if (!configError && clusterId && !node.cluster) configError = new ConfigurationError('cluster', text(RED, 'ms365-connector.errors.clusterMissing', { cluster: clusterId }));
    let closed = false;

    let manager: TokenManager | undefined;
    if (!config || configError) {
      const error = configError ?? new ConfigurationError('connector', 'invalid');
      node.graph = new GraphClient({ baseUrl: config?.graphBaseUrl ?? DEFAULT_GRAPH_BASE_URL, tokens: failingTokens(error), logger: node });
      node.authStatus = () => ({ state: 'error', error: error.message });
      const missing = error.setting === 'clientId' || error.setting === 'clientSecret';
      show({ fill: 'red', shape: 'ring', key: missing ? 'missingClient' : error.setting === 'cluster' ? 'clusterMissing' : 'invalidConfig' });
      node.error(error.message);
    } else {
      const oauth = new MicrosoftOAuth({ authorityHost: config.authorityHost, tenant: config.tenant, clientId, clientSecret });
      const binding = tokenBinding(clientId, config.tenant, config.authorityHost);
      const shared = node.cluster ? clusterTokens(node.cluster, node.id, installationSecret(RED)) : undefined;
      manager = new TokenManager({
        grantType: config.grantType,
        oauth,
        scope: config.scope,
        store: shared?.store ?? connectorTokenStore(RED, node.id),
        gate: shared?.gate,
        binding,
        autoRefresh: true,
        logger: node,
      });
      const tokens = manager;
      const cfg = config;
      node.graph = new GraphClient({ baseUrl: config.graphBaseUrl, tokens, logger: node, appOnly: config.grantType === 'client_credentials' });
      node.authStatus = () => tokens.status();
      tokens.onChange((status: AuthStatus) => show(statusOf(status, cfg.grantType, cfg.userId)));
      live.set(node.id, { id: node.id, config: cfg, binding, manager: tokens, clientId, clientSecret });
      show(statusOf(tokens.status(), cfg.grantType, cfg.userId));
      const clusterReady = shared
        ? shared.ready((err) => {
            show({ fill: 'red', shape: 'ring', key: 'clusterUnavailable' });
            node.error(text(RED, 'ms365-connector.errors.clusterUnavailable', { error: err.message }));
          }, () => closed)
        : Promise.resolve(true);
      clusterReady
        .then(async (usable) => {
          if (!usable) return undefined;
          // A sign-in made before the connector was deployed with its cluster is in this instance's file: into Redis.
          if (shared && cfg.grantType === 'authorization_code') {
            await moveFileSignIn(shared.store, connectorTokenStore(RED, node.id), binding)
              .then((moved) => moved && node.log(text(RED, 'ms365-connector.errors.signInMoved')))
              .catch((err: Error) => node.warn(text(RED, 'ms365-connector.errors.signInMoveFailed', { error: err.message })));
          }
          return tokens.init();
        })
        .then(async (status) => {
          if (!status) return;
          show(statusOf(status, cfg.grantType, cfg.userId));
          if (cfg.grantType === 'client_credentials') await tokens.getAccessToken();
          else if (status.state === 'signed_out') node.warn(catalogText(RED, 'errors.signInNeeded', 'Sign-in needed: open the connector, click "Sign in with Microsoft" and deploy.'));
        })
        .catch((err: Error) => node.error(err.message));
    }

    node.on('close', (removed: boolean, done: () => void) => {
      closed = true;
      manager?.close();
      if (live.get(node.id)?.manager === manager) live.delete(node.id);
      statuses.close();
      // Cluster mode: the shared record stays (the other instances still use it).
      if (removed && !node.cluster) {
        removeTokenFile(RED, node.id)
          .catch((err: Error) => node.warn(err.message))
          .finally(done);
      } else {
        done();
      }
    });
  }

  RED.nodes.registerType('ms365-connector', Ms365ConnectorNode as unknown as (this: Node, def: NodeDef) => void, {
    credentials: {
      clientId: { type: 'text' },
      clientSecret: { type: 'password' },
    },
  });
};
