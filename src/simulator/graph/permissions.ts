/**
 * Permissions of the simulated Graph, checked as Graph checks them (`reference/graph.md` §11.6): a delegated token
 * needs one of the request's delegated permissions in its scopes (`scp`), an app-only token one of its application
 * permissions in its app roles (`roles`). The accepted permissions per request come from the "Permissions" tables of
 * Microsoft's pages (least privileged first, then the higher ones that also work): "List messages", "message: delta",
 * "List mailFolders", "List calendars", "List drives", "List events", "event: delta", "List contacts", "contact: delta", "Get driveItem",
 * "driveItem: delta", "Get user", "Create subscription". A missing permission is a 403 with the body of the workload
 * that refuses it: Outlook `ErrorAccessDenied` "Access is denied. Check credentials and try again.", OneDrive
 * `accessDenied`, the directory `Authorization_RequestDenied`, subscription creation `ExtensionError`
 * "Operation: Create; Exception: [Status Code: Forbidden; Reason: ...]".
 */
import type { TokenPrincipal } from '../access-tokens';
import type { SimChange } from '../state';
import { SimGraphError } from './errors';

interface Accepted {
  delegated: readonly string[];
  application: readonly string[];
}

type Workload = 'outlook' | 'drive' | 'directory';

const MAIL_READ: Accepted = { delegated: ['Mail.ReadBasic', 'Mail.Read', 'Mail.ReadWrite'], application: ['Mail.ReadBasic.All', 'Mail.Read', 'Mail.ReadWrite'] };
const MAIL_WRITE: Accepted = { delegated: ['Mail.ReadWrite'], application: ['Mail.ReadWrite'] };
const CALENDARS_READ: Accepted = { delegated: ['Calendars.ReadBasic', 'Calendars.Read', 'Calendars.ReadWrite'], application: ['Calendars.ReadBasic.All', 'Calendars.Read', 'Calendars.ReadWrite'] };
/** "event: delta" lists no ReadBasic permission. */
const CALENDARS_DELTA: Accepted = { delegated: ['Calendars.Read', 'Calendars.ReadWrite'], application: ['Calendars.Read', 'Calendars.ReadWrite'] };
const CALENDARS_WRITE: Accepted = { delegated: ['Calendars.ReadWrite'], application: ['Calendars.ReadWrite'] };
const CONTACTS_READ: Accepted = { delegated: ['Contacts.Read', 'Contacts.ReadWrite'], application: ['Contacts.Read', 'Contacts.ReadWrite'] };
const CONTACTS_WRITE: Accepted = { delegated: ['Contacts.ReadWrite'], application: ['Contacts.ReadWrite'] };
const FILES_READ: Accepted = {
  delegated: ['Files.Read', 'Files.ReadWrite', 'Files.Read.All', 'Files.ReadWrite.All', 'Sites.Read.All', 'Sites.ReadWrite.All'],
  application: ['Files.Read.All', 'Files.ReadWrite.All', 'Sites.Read.All', 'Sites.ReadWrite.All'],
};
const FILES_WRITE: Accepted = { delegated: ['Files.ReadWrite', 'Files.ReadWrite.All', 'Sites.ReadWrite.All'], application: ['Files.ReadWrite.All', 'Sites.ReadWrite.All'] };
const USER_READ: Accepted = {
  delegated: ['User.Read', 'User.ReadWrite', 'User.ReadBasic.All', 'User.Read.All', 'User.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
  application: ['User.Read.All', 'User.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
};

/** "Create subscription", permissions per resource (`reference/graph.md` §11.6). */
const SUBSCRIBE: Record<SimChange['kind'], Accepted> = {
  message: { delegated: ['Mail.ReadBasic', 'Mail.Read', 'Mail.ReadWrite'], application: ['Mail.Read', 'Mail.ReadWrite'] },
  event: CALENDARS_DELTA,
  contact: CONTACTS_READ,
  // Work or school drives: Files.ReadWrite.All (personal accounts: Files.ReadWrite), below.
  driveItem: { delegated: ['Files.ReadWrite.All', 'Sites.ReadWrite.All'], application: ['Files.ReadWrite.All', 'Sites.ReadWrite.All'] },
};
const SUBSCRIBE_PERSONAL_DRIVE: Accepted = { delegated: ['Files.ReadWrite', 'Files.ReadWrite.All'], application: ['Files.ReadWrite.All'] };

function holds(principal: TokenPrincipal, accepted: Accepted): boolean {
  const granted = new Set((principal.appOnly ? principal.roles ?? [] : principal.scopes).map((p) => p.toLowerCase()));
  return (principal.appOnly ? accepted.application : accepted.delegated).some((p) => granted.has(p.toLowerCase()));
}

function denied(workload: Workload): SimGraphError {
  switch (workload) {
    case 'outlook':
      return new SimGraphError(403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.');
    case 'drive':
      return new SimGraphError(403, 'accessDenied', 'Access denied');
    default:
      return new SimGraphError(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
  }
}

/** What a request under `/me`, `/users/{id}` or `/drives/{id}` (`rest`: the path after the owner) needs. */
function requirement(method: string, rest: string[]): { workload: Workload; accepted: Accepted } | undefined {
  const write = method !== 'GET';
  const first = rest[0]?.toLowerCase();
  const delta = rest[rest.length - 1]?.toLowerCase() === 'delta';
  switch (first) {
    case undefined:
      return write ? undefined : { workload: 'directory', accepted: USER_READ };
    case 'messages':
    case 'mailfolders':
      return { workload: 'outlook', accepted: write ? MAIL_WRITE : MAIL_READ };
    case 'events':
    case 'calendar':
    case 'calendars':
    case 'calendarview':
      return { workload: 'outlook', accepted: write ? CALENDARS_WRITE : delta ? CALENDARS_DELTA : CALENDARS_READ };
    case 'contacts':
    case 'contactfolders':
      return { workload: 'outlook', accepted: write ? CONTACTS_WRITE : CONTACTS_READ };
    case 'drive':
    case 'drives': // "List drives": Files.Read (delegated), Files.Read.All (application)
      return { workload: 'drive', accepted: write ? FILES_WRITE : FILES_READ };
    default:
      return undefined;
  }
}

/** Throws the workload's 403 when the token holds none of the permissions the request needs. */
export function checkPermission(principal: TokenPrincipal, method: string, rest: string[]): void {
  const need = requirement(method.toUpperCase(), rest);
  if (need && !holds(principal, need.accepted)) throw denied(need.workload);
}

/**
 * The 403 body for a subscription the token may not create, or undefined when it may. The reason inside Graph's
 * `ExtensionError` message as users report it: "Access denied" for a drive root (OneDrive/onedrive-api-docs issue
 * 1398, after a successful validation handshake), "Forbidden" otherwise (microsoftgraph/msgraph-sdk-dotnet issue 365).
 */
export function subscriptionPermissionError(principal: TokenPrincipal | undefined, kind: SimChange['kind'], personalDrive: boolean): { code: string; message: string } | undefined {
  if (!principal) return undefined;
  const accepted = kind === 'driveItem' && personalDrive ? SUBSCRIBE_PERSONAL_DRIVE : SUBSCRIBE[kind];
  if (holds(principal, accepted)) return undefined;
  const reason = kind === 'driveItem' ? 'Access denied' : 'Forbidden';
  return { code: 'ExtensionError', message: `Operation: Create; Exception: [Status Code: Forbidden; Reason: ${reason}]` };
}
