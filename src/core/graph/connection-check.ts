/**
 * "Test connection" of a connector (issue 16, item 4): who the token signs in as, and for the connector's element
 * key, each Graph permission the triggers need that the token has or lacks. Each permission is tried with one small
 * documented read whose permission (`permissions.ts`, least privileged first) is the one the trigger's own reads
 * need; a 403 from Graph (`MissingPermissionError`) means it is missing. Never a token in the result.
 */
import type { User } from '@microsoft/microsoft-graph-types';
import type { ElementKey } from '../elements';
import { GraphError, MissingPermissionError, type GraphClient } from './client';
import { permissionFor, permissionName } from './permissions';

export type CheckedFamily = 'mail' | 'calendars' | 'contacts' | 'files';

/** What each element key's triggers read (CONTRACT.md, element keys; `microsoftgraph` may read any of them). */
export const FAMILIES_OF: Readonly<Record<ElementKey, readonly CheckedFamily[]>> = {
  outlookemail: ['mail'],
  office365: ['mail', 'calendars', 'contacts'],
  onedrivev2: ['files'],
  microsoftgraph: ['mail', 'calendars', 'contacts', 'files'],
};

export interface PermissionCheck {
  family: CheckedFamily;
  /** The permission name (application for app-only tokens, else delegated). */
  permission: string;
  /** What it allows ("read messages"). */
  operation: string;
  granted: boolean;
  /** Why it could not be told (an error other than 403), when `granted` is false for another reason. */
  error?: string;
}

export interface ConnectionReport {
  grantType: 'authorization_code' | 'client_credentials';
  /** Delegated: the signed-in account (`userPrincipalName`); undefined when Graph would not say. */
  account?: string;
  displayName?: string;
  /** App-only: the application (client) id, and the mailbox/drive owner the connector reads (`userId`). */
  clientId?: string;
  userId?: string;
  permissions: PermissionCheck[];
  /** Permissions the triggers of this element key need and the token lacks. */
  missing: string[];
}

/**
 * The read that tries one family's permission (relative to the owner path, `/me` or `/users/{id}`), from the
 * "Permissions" tables of "List mailFolders", "event: delta" (calendarView delta: Calendars.Read, no ReadBasic),
 * "List contacts" and "Get driveItem".
 */
function probe(family: CheckedFamily, mePath: string, now: number): string {
  switch (family) {
    case 'mail':
      return `${mePath}/mailFolders?$top=1&$select=id`;
    case 'calendars': {
      const start = new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z');
      const end = new Date(now + 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
      return `${mePath}/calendarView/delta?startDateTime=${start}&endDateTime=${end}`;
    }
    case 'contacts':
      return `${mePath}/contacts?$top=1&$select=id`;
    case 'files':
      return `${mePath}/drive/root?$select=id`;
  }
}

export async function checkConnection(
  graph: GraphClient,
  options: { elementKey: ElementKey; mePath: string; grantType: 'authorization_code' | 'client_credentials'; clientId?: string; userId?: string; now?: number },
): Promise<ConnectionReport> {
  const appOnly = options.grantType === 'client_credentials';
  const report: ConnectionReport = { grantType: options.grantType, permissions: [], missing: [] };
  if (appOnly) {
    report.clientId = options.clientId;
    report.userId = options.userId;
  } else {
    // "Get user" (User.Read): who signed in. Any failure here is reported by the permission checks below.
    try {
      const me = await graph.get<User>('/me?$select=displayName,userPrincipalName');
      report.account = me.userPrincipalName ?? undefined;
      report.displayName = me.displayName ?? undefined;
    } catch (err) {
      if (!(err instanceof GraphError)) throw err;
    }
  }
  const now = options.now ?? graph.serverNow();
  for (const family of FAMILIES_OF[options.elementKey]) {
    const url = probe(family, options.mePath, now);
    const required = permissionFor('GET', url)!;
    const check: PermissionCheck = { family, permission: permissionName(required, appOnly), operation: required.operation, granted: true };
    try {
      await graph.request({ method: 'GET', url, headers: family === 'calendars' ? { Prefer: 'odata.maxpagesize=1' } : undefined });
    } catch (err) {
      if (!(err instanceof GraphError)) throw err;
      check.granted = false;
      if (err instanceof MissingPermissionError) report.missing.push(check.permission);
      else check.error = err.message;
    }
    report.permissions.push(check);
  }
  return report;
}
