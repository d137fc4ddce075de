/**
 * A connector's Graph access for the editor's admin routes (Test connection, pickers): the running connector's
 * token manager, or, for a connector the dialog shows with values not deployed yet, a short-lived one built from the
 * dialog's values as the sign-in route does (delegated: the tokens the sign-in stored for this node id; app-only: a
 * client-credentials token, kept in memory only). Errors become a 4xx with a readable message and never carry a
 * token or secret (`sendRouteError`).
 */
import type { NodeAPI } from 'node-red';
import type { Response } from 'express';
import { ConfigurationError } from '../../core/errors';
import { OAuthError } from '../../core/auth/errors';
import { resolveConnectorConfig, type ConnectorConfig, type GrantType } from '../../core/auth/connector-config';
import { MicrosoftOAuth } from '../../core/auth/oauth';
import { TokenManager } from '../../core/auth/token-manager';
import { MemoryTokenStore, tokenBinding } from '../../core/auth/token-store';
import { GraphClient, GraphError, MissingPermissionError, type TokenSource } from '../../core/graph/client';
import { connectorTokenStore } from './connector-token-store';
import type { LiveConnector } from './connector-auth-routes';
import type { ConnectorNode } from './connector-api';

export const PASSWORD_PLACEHOLDER = '__PWRD__';
/** Node ids as the editor makes them (and nothing that could leave a path segment). */
export const NODE_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** A refusal the route answers as is: HTTP status, a stable code for the editor, a readable message. */
export class RouteError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'RouteError';
  }
}

/**
 * A dialog value the route cannot use, with a `reason` code the editor translates (the message stays for logs and
 * API callers): `client_id_missing`, `client_secret_missing`, `client_secret_again`.
 */
export class DialogSettingError extends ConfigurationError {
  constructor(
    setting: string,
    readonly reason: string,
    message: string,
  ) {
    super(setting, message);
    this.name = 'DialogSettingError';
  }
}

export function text(value: unknown): string {
  return typeof value === 'string' ? value.trim() : '';
}

/** The body of a POST as an object of dialog values. */
export function dialogValues(body: unknown): Record<string, unknown> {
  return body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
}

export interface DialogSettings {
  config: ConnectorConfig;
  clientId: string;
  clientSecret: string;
  /** The request brought the secret itself (not the running or deployed connector's). */
  secretFromDialog: boolean;
}

/** Authority host and Graph base URL of the connector as deployed (running, or deployed with a bad setting). */
function deployedHosts(RED: NodeAPI, live: Map<string, LiveConnector>, id: string): { authorityHost?: string; graphBaseUrl?: string } {
  const running = live.get(id);
  if (running) return { authorityHost: running.config.authorityHost, graphBaseUrl: running.config.graphBaseUrl };
  const node = RED.nodes.getNode(id) as Partial<ConnectorNode> | null;
  return { authorityHost: node?.authorityHost, graphBaseUrl: node?.graph?.baseUrl };
}

/**
 * The connector `id`'s settings: the dialog's values (`body`) over the running connector's, the client id and secret
 * from the dialog, the running connector or the deployed credentials (the editor sends `__PWRD__` for an unchanged
 * secret). `grantType` forces a grant (the sign-in route is always delegated). Throws `ConfigurationError`.
 */
export function dialogSettings(RED: NodeAPI, live: Map<string, LiveConnector>, id: string, body: Record<string, unknown>, grantType?: GrantType): DialogSettings {
  const running = live.get(id);
  const deployed = (RED.nodes.getCredentials(id) ?? {}) as Record<string, unknown>;
  const clientId = text(body.clientId) || running?.clientId || text(deployed.clientId);
  const bodySecret = typeof body.clientSecret === 'string' && body.clientSecret !== PASSWORD_PLACEHOLDER ? body.clientSecret : '';
  const clientSecret = bodySecret || running?.clientSecret || (typeof deployed.clientSecret === 'string' ? deployed.clientSecret : '');
  if (!clientId) throw new DialogSettingError('clientId', 'client_id_missing', 'enter the application (client) id first');
  if (!clientSecret) throw new DialogSettingError('clientSecret', 'client_secret_missing', 'enter the client secret first');
  const base = running?.config;
  const grant = grantType ?? (text(body.grantType) || base?.grantType);
  const sameGrant = base && base.grantType === grant;
  const config = resolveConnectorConfig({
    elementKey: text(body.elementKey) || base?.elementKey,
    tenant: text(body.tenant) || base?.tenant,
    authorityHost: text(body.authorityHost) || base?.authorityHost,
    graphBaseUrl: text(body.graphBaseUrl) || base?.graphBaseUrl,
    scope: text(body.scope) || (sameGrant ? base.scope : ''),
    callbackUrl: text(body.callbackUrl) || base?.callbackUrl,
    userId: text(body.userId) || base?.userId,
    grantType: grant,
  });
  // The deployed secret goes only to the deployed authority host: another host needs the secret typed again.
  const deployedAuthority = deployedHosts(RED, live, id).authorityHost;
  if (!bodySecret && deployedAuthority && deployedAuthority !== config.authorityHost) {
    throw new DialogSettingError('clientSecret', 'client_secret_again', "enter the client secret again: the authority host is not the deployed connector's");
  }
  return { config, clientId, clientSecret, secretFromDialog: Boolean(bodySecret) };
}

/** Graph access for one admin request; `close()` when done. */
export interface ConnectorSession {
  config: ConnectorConfig;
  clientId: string;
  graph: GraphClient;
  close(): void;
}

const SIGN_IN_FIRST = 'sign in first: click "Sign in with Microsoft" in the connector dialog';

function graphFor(config: ConnectorConfig, tokens: TokenSource): GraphClient {
  // An editor is waiting: no long backoff (one retry, 15 s per request).
  return new GraphClient({ baseUrl: config.graphBaseUrl, tokens, appOnly: config.grantType === 'client_credentials', maxRetries: 1, timeoutMs: 15_000, maxRetryDelayMs: 5_000 });
}

function signedIn(manager: TokenManager): boolean {
  const state = manager.status().state;
  return state === 'signed_in' || state === 'refreshing';
}

/**
 * Opens Graph access for connector `id`. `body` undefined (a GET): the running connector only (409 when it is not
 * deployed). `body` given (a POST from the dialog): its values, as `dialogSettings`.
 */
export async function openSession(RED: NodeAPI, live: Map<string, LiveConnector>, id: string, body?: Record<string, unknown>): Promise<ConnectorSession> {
  if (!NODE_ID.test(id)) throw new RouteError(400, 'invalid_id', 'invalid connector id');
  const running = live.get(id);
  if (!body) {
    if (!running) throw new RouteError(409, 'not_deployed', 'the connector is not deployed (or its configuration is invalid): deploy it, or use the connector dialog');
    if (running.config.grantType === 'authorization_code' && !signedIn(running.manager)) throw new RouteError(409, 'sign_in_needed', SIGN_IN_FIRST);
    return { config: running.config, clientId: running.clientId, graph: graphFor(running.config, running.manager), close: () => undefined };
  }
  const { config, clientId, clientSecret, secretFromDialog } = dialogSettings(RED, live, id, body);
  // A token got with the deployed secret or a stored sign-in goes only to the deployed Graph host.
  const deployedGraph = deployedHosts(RED, live, id).graphBaseUrl;
  if ((!secretFromDialog || config.grantType === 'authorization_code') && deployedGraph && deployedGraph !== config.graphBaseUrl) {
    throw new RouteError(400, 'graph_host_changed', "graphBaseUrl: not the deployed connector's; deploy the change first (its token goes only to the deployed Graph host)");
  }
  const binding = tokenBinding(clientId, config.tenant, config.authorityHost);
  if (running && running.binding === binding && running.config.grantType === config.grantType && (config.grantType === 'client_credentials' || signedIn(running.manager))) {
    return { config, clientId, graph: graphFor(config, running.manager), close: () => undefined };
  }
  const oauth = new MicrosoftOAuth({ authorityHost: config.authorityHost, tenant: config.tenant, clientId, clientSecret });
  const manager = new TokenManager({
    grantType: config.grantType,
    oauth,
    scope: config.scope,
    // Delegated: the tokens the sign-in route stored for this node (rotated refresh tokens are saved back there).
    store: config.grantType === 'client_credentials' ? new MemoryTokenStore() : connectorTokenStore(RED, id),
    binding,
    transientRetries: 1,
    backoffBaseMs: 200,
    backoffMaxMs: 1000,
  });
  const status = await manager.init();
  if (config.grantType === 'authorization_code' && status.state !== 'signed_in') {
    manager.close();
    throw new RouteError(409, 'sign_in_needed', SIGN_IN_FIRST);
  }
  return { config, clientId, graph: graphFor(config, manager), close: () => manager.close() };
}

/**
 * Answers an error of an admin route: 4xx with `{error, code[, permission]}`, never a token or secret. For the editor
 * to say it in its language, a bad setting also names it (`setting`, and `reason` for a value the dialog must give),
 * a sign-in failure its OAuth error code (`oauthError`, `aadsts`), a Graph error its HTTP status and Graph code.
 */
export function sendRouteError(RED: NodeAPI, res: Response, what: string, err: unknown): void {
  res.set('Cache-Control', 'no-store');
  if (err instanceof RouteError) {
    res.status(err.status).json({ error: err.message, code: err.code });
  } else if (err instanceof ConfigurationError) {
    res.status(400).json({ error: err.message, code: 'invalid_configuration', setting: err.setting, ...(err instanceof DialogSettingError ? { reason: err.reason } : {}) });
  } else if (err instanceof OAuthError) {
    const signIn = err.kind === 'sign_in_needed';
    res.status(signIn ? 409 : 400).json({ error: signIn ? `${SIGN_IN_FIRST} (${err.message})` : err.message, code: signIn ? 'sign_in_needed' : 'sign_in_failed', oauthError: err.error, aadsts: err.aadsts ?? null });
  } else if (err instanceof MissingPermissionError) {
    res.status(403).json({ error: err.message, code: 'missing_permission', permission: err.permission ?? null });
  } else if (err instanceof GraphError) {
    const status = err.status === 404 || err.status === 400 ? err.status : 502;
    res.status(status).json({ error: `Microsoft Graph answered ${err.status}: ${err.message}`, code: 'graph_error', status: err.status, graphCode: err.graphCode });
  } else {
    RED.log.error(`ms365-connector ${what}: ${(err as Error).message}`);
    res.status(500).json({ error: `${what} failed`, code: 'internal' });
  }
}
