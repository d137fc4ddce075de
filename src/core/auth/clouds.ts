/**
 * Microsoft's clouds (CONTRACT.md, `ms365-connector` `authorityHost` / `graphBaseUrl`), from Microsoft's page
 * "Microsoft Graph national cloud deployments" (tables "App registration and token service root endpoints" and
 * "Microsoft Graph and Graph Explorer service root endpoints"): where to sign in (Microsoft Entra ID endpoint) and
 * where Graph is, per cloud. And from "Access national cloud deployments with the Microsoft Graph SDKs"
 * ("Permission scopes"): a scope that names the Graph domain, `.default` included, must use the Graph host of the
 * app's cloud (`https://graph.microsoft.us/.default`).
 */

export const CLOUD_IDS = ['global', 'usgov', 'usgovdod', 'china'] as const;
export type CloudId = (typeof CLOUD_IDS)[number];

export interface Cloud {
  id: CloudId;
  /** English name, as Microsoft's page names it (the editor shows its own translation). */
  name: string;
  /** Microsoft Entra ID endpoint (OAuth authority host). */
  authorityHost: string;
  /** Microsoft Graph service root, with the version. */
  graphBaseUrl: string;
}

export const CLOUDS: Readonly<Record<CloudId, Cloud>> = {
  global: { id: 'global', name: 'Global service', authorityHost: 'https://login.microsoftonline.com', graphBaseUrl: 'https://graph.microsoft.com/v1.0' },
  usgov: { id: 'usgov', name: 'US Government L4', authorityHost: 'https://login.microsoftonline.us', graphBaseUrl: 'https://graph.microsoft.us/v1.0' },
  usgovdod: { id: 'usgovdod', name: 'US Government L5 (DOD)', authorityHost: 'https://login.microsoftonline.us', graphBaseUrl: 'https://dod-graph.microsoft.us/v1.0' },
  china: { id: 'china', name: 'China operated by 21Vianet', authorityHost: 'https://login.chinacloudapi.cn', graphBaseUrl: 'https://microsoftgraph.chinacloudapi.cn/v1.0' },
};

export function isCloudId(value: unknown): value is CloudId {
  return typeof value === 'string' && (CLOUD_IDS as readonly string[]).includes(value);
}

function origin(url: string): string | undefined {
  try {
    return new URL(url).origin.toLowerCase();
  } catch {
    return undefined;
  }
}

/**
 * The cloud whose authority host and Graph host both match these settings, or `custom` (another host: a proxy,
 * the simulator). Only the hosts count: `/beta` and `/v1.0` are the same cloud.
 */
export function cloudOf(authorityHost: string, graphBaseUrl: string): CloudId | 'custom' {
  const auth = origin(authorityHost || CLOUDS.global.authorityHost);
  const graph = origin(graphBaseUrl || CLOUDS.global.graphBaseUrl);
  for (const cloud of Object.values(CLOUDS)) {
    if (origin(cloud.authorityHost) === auth && origin(cloud.graphBaseUrl) === graph) return cloud.id;
  }
  return 'custom';
}

/**
 * The app-only scope for a Graph base URL: `<Graph host of the cloud>/.default`; the global one for hosts that are
 * not one of Microsoft's clouds (a proxy or the simulator answers for the global service).
 */
export function appOnlyScope(graphBaseUrl: string): string {
  const graph = origin(graphBaseUrl);
  const cloud = Object.values(CLOUDS).find((c) => origin(c.graphBaseUrl) === graph);
  return `${new URL((cloud ?? CLOUDS.global).graphBaseUrl).origin}/.default`;
}
