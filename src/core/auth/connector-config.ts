/**
 * The settings of one `ms365-connector` (CONTRACT.md, "ms365-connector"), checked and completed with defaults:
 * default scopes per element key, `offline_access` always added for `authorization_code`, the app-only
 * `.default` scope for `client_credentials`, `/users/{userId}` in place of `/me` for app-only access.
 */
import { DEFAULT_AUTHORITY_HOST, DEFAULT_GRAPH_BASE_URL, DEFAULT_SCOPES, isElementKey, type ElementKey } from '../elements';
import { ConfigurationError } from '../errors';
import { checkOAuthSettings } from './oauth';
import { appOnlyScope } from './clouds';

export type GrantType = 'authorization_code' | 'client_credentials';

/** The node's properties as the editor saves them (all strings, possibly empty). */
export interface ConnectorProperties {
  name?: string;
  elementKey?: string;
  tenant?: string;
  grantType?: string;
  scope?: string;
  callbackUrl?: string;
  authorityHost?: string;
  graphBaseUrl?: string;
  userId?: string;
  tags?: string;
}

export interface ConnectorConfig {
  name: string;
  elementKey: ElementKey;
  tenant: string;
  grantType: GrantType;
  /** The scopes to request, space-separated, complete. */
  scope: string;
  callbackUrl?: string;
  authorityHost: string;
  graphBaseUrl: string;
  userId?: string;
  /** `/me`, or `/users/{userId}` for client credentials. */
  mePath: string;
  tags: string;
}

function text(value: unknown): string {
  return typeof value === 'string' ? value.trim() : '';
}

/**
 * The scopes to request for a grant type (`reference/graph.md` §8). App-only: the given `.default` scope, else the
 * `.default` scope of the Graph host of `graphBaseUrl`'s cloud (`clouds.ts`: national clouds need their own).
 */
export function effectiveScope(grantType: GrantType, elementKey: ElementKey, scope: string, graphBaseUrl = DEFAULT_GRAPH_BASE_URL): string {
  if (grantType === 'client_credentials') {
    return scope.split(/\s+/).find((s) => s.endsWith('/.default')) ?? appOnlyScope(graphBaseUrl);
  }
  // Space-separated: commas work for personal accounts but fail for work accounts (§8).
  const scopes = (scope || DEFAULT_SCOPES[elementKey]).split(/[\s,]+/).filter((s) => s.length > 0);
  if (!scopes.includes('offline_access')) scopes.push('offline_access');
  return scopes.join(' ');
}

/** Check and complete the properties; throws `ConfigurationError` naming the first bad setting. */
export function resolveConnectorConfig(props: ConnectorProperties): ConnectorConfig {
  const elementKey = text(props.elementKey) || 'outlookemail';
  if (!isElementKey(elementKey)) throw new ConfigurationError('elementKey', `'${elementKey}' is not one of microsoftgraph, office365, outlookemail, onedrivev2`);
  const grantType = text(props.grantType) || 'authorization_code';
  if (grantType !== 'authorization_code' && grantType !== 'client_credentials') {
    throw new ConfigurationError('grantType', 'must be authorization_code or client_credentials');
  }
  const tenant = text(props.tenant) || 'common';
  const authorityHost = (text(props.authorityHost) || DEFAULT_AUTHORITY_HOST).replace(/\/+$/, '');
  checkOAuthSettings({ authorityHost, tenant, clientId: 'x' });
  const graphBaseUrl = (text(props.graphBaseUrl) || DEFAULT_GRAPH_BASE_URL).replace(/\/+$/, '');
  let graphUrl: URL;
  try {
    graphUrl = new URL(graphBaseUrl);
  } catch {
    throw new ConfigurationError('graphBaseUrl', 'is not a URL');
  }
  if (graphUrl.protocol !== 'https:' && !(graphUrl.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(graphUrl.hostname))) {
    throw new ConfigurationError('graphBaseUrl', 'must be https (http only on loopback)');
  }
  const userId = text(props.userId);
  if (grantType === 'client_credentials') {
    if (!userId) throw new ConfigurationError('userId', 'is required for client credentials (whose mailbox or drive to read)');
    if (['common', 'organizations', 'consumers'].includes(tenant.toLowerCase())) {
      throw new ConfigurationError('tenant', 'client credentials need a tenant id or domain, not common/organizations/consumers');
    }
  }
  const callbackUrl = text(props.callbackUrl);
  if (callbackUrl) checkCallbackUrl(callbackUrl);
  return {
    name: text(props.name),
    elementKey,
    tenant,
    grantType,
    scope: effectiveScope(grantType, elementKey, text(props.scope), graphBaseUrl),
    callbackUrl: callbackUrl || undefined,
    authorityHost,
    graphBaseUrl,
    userId: userId || undefined,
    mePath: grantType === 'client_credentials' ? `/users/${encodeURIComponent(userId)}` : '/me',
    tags: text(props.tags),
  };
}

/** A redirect URI must be an absolute http(s) URL without a fragment. */
export function checkCallbackUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigurationError('callbackUrl', 'is not an absolute URL');
  }
  if ((parsed.protocol !== 'https:' && parsed.protocol !== 'http:') || parsed.hash) {
    throw new ConfigurationError('callbackUrl', 'must be an http(s) URL without a fragment');
  }
}
