/**
 * The four Open Connectors element keys and what follows from each: default OAuth scopes, default poller
 * resources and default webhook subscriptions (`../shared/CONTRACT.md`, `reference/open-connectors.md` §3.5).
 */
export const ELEMENT_KEYS = ['microsoftgraph', 'office365', 'outlookemail', 'onedrivev2'] as const;
export type ElementKey = (typeof ELEMENT_KEYS)[number];

export function isElementKey(value: unknown): value is ElementKey {
  return typeof value === 'string' && (ELEMENT_KEYS as readonly string[]).includes(value);
}

/** Delegated Graph scopes per element key (`offline_access` is added by the connector for authorization_code). */
export const DEFAULT_SCOPES: Record<ElementKey, string> = {
  microsoftgraph: 'openid profile User.Read Calendars.Read',
  office365: 'openid profile User.Read Mail.Read Calendars.Read Contacts.Read',
  outlookemail: 'openid profile User.Read Mail.Read',
  // Files.ReadWrite.All: subscribing to a work or school drive root needs it (`reference/graph.md` §11.6; user-consentable).
  onedrivev2: 'openid profile User.Read Files.ReadWrite.All',
};

/** App-only scope for client_credentials (`reference/graph.md` §8). */
export const APP_ONLY_SCOPE = 'https://graph.microsoft.com/.default';

export const DEFAULT_AUTHORITY_HOST = 'https://login.microsoftonline.com';
export const DEFAULT_GRAPH_BASE_URL = 'https://graph.microsoft.com/v1.0';
