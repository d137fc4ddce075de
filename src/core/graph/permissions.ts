/**
 * Which Microsoft Graph permission a request needs (`reference/graph.md` §11.6, from the "Permissions" tables of
 * Microsoft's pages "message: delta", "event: delta", "contact: delta", "driveItem: delta", "Get user" and "Create
 * subscription"): the least privileged delegated permission (work or school account; personal OneDrive where it
 * differs) and application permission. The Graph client names it when Graph answers 403, so a user sees "missing
 * permission Mail.ReadBasic" instead of "Access is denied".
 *
 * And how often to try a resource again while its permission is missing (`PermissionBackoff`): not before
 * 1, 2, 4, … (at most `MAX_SKIPPED_INTERVALS`) poll intervals have passed, so a poller does not hammer Graph
 * with requests that cannot succeed.
 */

export interface RequiredPermission {
  /** What the request does, for messages: "read messages", "subscribe to drive changes". */
  operation: string;
  /** Least privileged delegated permission (work or school account). */
  delegated: string;
  /** Delegated permission on a personal Microsoft account, where it differs. */
  delegatedPersonal?: string;
  /** Least privileged application permission (app-only tokens). */
  application: string;
}

type Family = 'mail' | 'calendars' | 'contacts' | 'files' | 'user';

const READ: Record<Family, RequiredPermission> = {
  mail: { operation: 'read messages', delegated: 'Mail.ReadBasic', application: 'Mail.ReadBasic.All' },
  calendars: { operation: 'read events', delegated: 'Calendars.Read', application: 'Calendars.Read' },
  contacts: { operation: 'read contacts', delegated: 'Contacts.Read', application: 'Contacts.Read' },
  files: { operation: 'read drive items', delegated: 'Files.Read', application: 'Files.Read.All' },
  user: { operation: 'read the user', delegated: 'User.Read', application: 'User.Read.All' },
};

const WRITE: Record<Family, RequiredPermission> = {
  mail: { operation: 'change messages', delegated: 'Mail.ReadWrite', application: 'Mail.ReadWrite' },
  calendars: { operation: 'change events', delegated: 'Calendars.ReadWrite', application: 'Calendars.ReadWrite' },
  contacts: { operation: 'change contacts', delegated: 'Contacts.ReadWrite', application: 'Contacts.ReadWrite' },
  files: { operation: 'change drive items', delegated: 'Files.ReadWrite', application: 'Files.ReadWrite.All' },
  user: { operation: 'change the user', delegated: 'User.ReadWrite', application: 'User.ReadWrite.All' },
};

const SUBSCRIBE: Record<Exclude<Family, 'user'>, RequiredPermission> = {
  mail: { operation: 'subscribe to messages', delegated: 'Mail.ReadBasic', application: 'Mail.Read' },
  calendars: { operation: 'subscribe to events', delegated: 'Calendars.Read', application: 'Calendars.Read' },
  contacts: { operation: 'subscribe to contacts', delegated: 'Contacts.Read', application: 'Contacts.Read' },
  files: { operation: 'subscribe to drive changes', delegated: 'Files.ReadWrite.All', delegatedPersonal: 'Files.ReadWrite', application: 'Files.ReadWrite.All' },
};

/** The family of a Graph path after its owner (`/me`, `/users/{id}`, `/drives/{id}`, `/sites/{id}`, ...). */
function familyOf(path: string): Family | undefined {
  const clean = path.replace(/^\/+/, '').split('?')[0];
  if (/^drives\//i.test(clean) || /^(sites|groups)\/[^/]+\/drives?(\/|$)/i.test(clean)) return 'files';
  const owner = /^(me|users\/[^/]+)(\/(.*))?$/i.exec(clean);
  if (!owner) return undefined;
  const rest = owner[3] ?? '';
  if (rest === '') return 'user';
  const first = rest.split(/[/(]/)[0].toLowerCase();
  if (first === 'messages' || first === 'mailfolders') return 'mail';
  if (['events', 'calendar', 'calendars', 'calendarview', 'calendargroups'].includes(first)) return 'calendars';
  if (first === 'contacts' || first === 'contactfolders') return 'contacts';
  if (first === 'drive' || first === 'drives') return 'files';
  return undefined;
}

/**
 * The permission a request needs: `path` relative to the Graph version root (`/me/messages/delta`), `body` the JSON
 * body (a subscription's `resource`). Undefined for requests this table does not know.
 */
export function permissionFor(method: string, path: string, body?: unknown): RequiredPermission | undefined {
  const verb = method.toUpperCase();
  const clean = path.replace(/^\/+/, '').split('?')[0];
  if (/^subscriptions\/?$/i.test(clean) && verb === 'POST') {
    const resource = typeof body === 'object' && body !== null ? (body as { resource?: unknown }).resource : undefined;
    if (typeof resource !== 'string') return undefined;
    const family = familyOf(resource);
    return family && family !== 'user' ? SUBSCRIBE[family] : undefined;
  }
  if (/^subscriptions(\/|$)/i.test(clean)) return undefined;
  const family = familyOf(clean);
  if (!family) return undefined;
  return verb === 'GET' ? READ[family] : WRITE[family];
}

/** The permission to name for a token: application for app-only, else delegated (work or school). */
export function permissionName(required: RequiredPermission, appOnly: boolean | undefined): string {
  if (appOnly === true) return required.application;
  if (appOnly === false) return required.delegated;
  return `${required.delegated} (delegated) or ${required.application} (application)`;
}

/** At most this many poll intervals are skipped between two tries of a resource whose permission is missing. */
export const MAX_SKIPPED_INTERVALS = 15;

/**
 * Per resource: after the n-th refusal in a row, skip the next 2^n − 1 poll intervals (1, 3, 7, then at most
 * `MAX_SKIPPED_INTERVALS`); a success, or a new node (redeploy), starts again from nothing.
 */
export class PermissionBackoff {
  private readonly state = new Map<string, { failures: number; skipLeft: number; permission: string }>();

  /** Called once per poll interval for `key`: true when this interval must not ask Graph for it. */
  skip(key: string): boolean {
    const entry = this.state.get(key);
    if (!entry || entry.skipLeft <= 0) return false;
    entry.skipLeft -= 1;
    return true;
  }

  /** The permission `key` is missing, if it is in backoff. */
  missing(key: string): string | undefined {
    return this.state.get(key)?.permission;
  }

  refused(key: string, permission: string): void {
    const failures = (this.state.get(key)?.failures ?? 0) + 1;
    this.state.set(key, { failures, skipLeft: Math.min(MAX_SKIPPED_INTERVALS, 2 ** failures - 1), permission });
  }

  succeeded(key: string): void {
    this.state.delete(key);
  }

  clear(): void {
    this.state.clear();
  }
}
