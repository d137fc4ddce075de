/**
 * The connector's status, one helper for the connector and every registered user node (STYLE.md §1: one helper
 * sets every user's status at once; texts come from the message catalog `ms365-connector.status.*`).
 */
import type { NodeAPI, NodeStatus } from 'node-red';
import type { AuthStatus } from '../../core/auth/token-manager';
import { text } from './i18n';

export type ConnectorStatusKey = 'signedInAs' | 'appOnly' | 'refreshing' | 'signInNeeded' | 'notSignedIn' | 'error' | 'invalidConfig' | 'missingClient' | 'clusterMissing' | 'clusterUnavailable';


export interface ConnectorStatus {
  fill: 'green' | 'yellow' | 'red' | 'grey';
  shape: 'dot' | 'ring';
  key: ConnectorStatusKey;
  params?: Record<string, string>;
}

/** The status that shows an auth state. */
export function statusOf(auth: AuthStatus, grantType: string, userId?: string): ConnectorStatus {
  switch (auth.state) {
    case 'signed_in':
      return grantType === 'client_credentials'
        ? { fill: 'green', shape: 'dot', key: 'appOnly', params: { userId: userId ?? '' } }
        : { fill: 'green', shape: 'dot', key: 'signedInAs', params: { account: auth.account ?? '?' } };
    case 'refreshing':
      return { fill: 'yellow', shape: 'ring', key: 'refreshing' };
    case 'sign_in_needed':
      return { fill: 'red', shape: 'ring', key: 'signInNeeded' };
    case 'error':
      return { fill: 'red', shape: 'dot', key: 'error' };
    default:
      return grantType === 'client_credentials' ? { fill: 'grey', shape: 'ring', key: 'appOnly', params: { userId: userId ?? '' } } : { fill: 'yellow', shape: 'ring', key: 'notSignedIn' };
  }
}

/** The NodeStatus of a ConnectorStatus, translated with the module's catalog (shared/i18n). */
export function renderStatus(RED: NodeAPI, status: ConnectorStatus): NodeStatus {
  return { fill: status.fill, shape: status.shape, text: text(RED, `ms365-connector.status.${status.key}`, status.params ?? {}) };
}

/** A catalog text of the connector (English from the en-US catalog when the runtime has none, else `fallback`). */
export function catalogText(RED: NodeAPI, key: string, fallback: string): string {
  const full = `ms365-connector.${key}`;
  const found = text(RED, full);
  return found === full ? fallback : found;
}
