/**
 * The connector's status, one helper for the connector and every registered user node (STYLE.md §1: one helper
 * sets every user's status at once; texts come from the message catalog `ms365-connector.status.*`).
 */
import type { NodeAPI, NodeStatus } from 'node-red';
import type { AuthStatus } from '../../core/auth/token-manager';

export type ConnectorStatusKey = 'signedInAs' | 'appOnly' | 'refreshing' | 'signInNeeded' | 'notSignedIn' | 'error' | 'invalidConfig' | 'missingClient';

/** English texts, used when the runtime has no catalog for the key (e.g. the test helper's identity `_`). */
const ENGLISH: Record<ConnectorStatusKey, string> = {
  signedInAs: 'signed in as __account__',
  appOnly: 'app-only: __userId__',
  refreshing: 'refreshing',
  signInNeeded: 'sign-in needed',
  notSignedIn: 'not signed in',
  error: 'error',
  invalidConfig: 'invalid configuration',
  missingClient: 'client id/secret missing',
};

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

/** The NodeStatus of a ConnectorStatus, translated with the module's catalog. */
export function renderStatus(RED: NodeAPI, status: ConnectorStatus): NodeStatus {
  const catalogKey = `ms365-connector.status.${status.key}`;
  let text = '';
  try {
    text = RED._(catalogKey, status.params ?? {});
  } catch {
    text = '';
  }
  if (!text || text === catalogKey) {
    text = ENGLISH[status.key].replace(/__(\w+)__/g, (_m, name: string) => status.params?.[name] ?? '');
  }
  return { fill: status.fill, shape: status.shape, text };
}

/** A catalog text of the connector, with an English fallback when the runtime has no catalog for it. */
export function catalogText(RED: NodeAPI, key: string, fallback: string): string {
  const full = `ms365-connector.${key}`;
  try {
    const text = RED._(full);
    if (text && text !== full) return text;
  } catch {
    // no catalog
  }
  return fallback;
}
