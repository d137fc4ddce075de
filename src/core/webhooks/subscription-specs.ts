/**
 * The `subscriptions` setting of `ms365-webhook-in`, checked at deploy against what Graph accepts, so that a node
 * that cannot subscribe says so before any call (CONTRACT "ms365-webhook-in"; `reference/graph.md` §1.1, §4, §11.4):
 * - "Create subscription" / "Change notifications for OneDrive (driveItem)": a drive root takes only `updated`; a
 *   missing `changeType` means every change type Graph accepts for the resource (drive: `updated`; Outlook and the
 *   rest: `created,updated,deleted`); any other on a drive is refused here.
 * - "Set up change notifications that include resource data": resource data only on Outlook message / event /
 *   contact and Teams resources; Outlook ones need `$select` (not `body` / `uniqueBody`) and no `$top`, `$skip`,
 *   `$orderby`, `$expand`, and live at most 1,440 minutes; drive refuses it ("File Services workload is not enabled
 *   for rich notifications"), so a drive resource is subscribed without resource data, and said so.
 * - `encryptionCertificate` is a base64 DER X.509 certificate: a PEM one is converted, a bare public key refused.
 */
import { X509Certificate } from 'node:crypto';
import { Ms365Error } from '../errors';

export interface ParsedSpec {
  resource: string;
  changeType: string;
  expirationMinutes?: number;
}

/** A drive root (`me/drive/root`, `users/{id}/drive/root`, `drives/{id}/root`) or a folder item of a drive. */
export function isDriveResource(resource: string): boolean {
  const path = resource.replace(/^\/+|\/+$/g, '').split('?')[0]!;
  return /(^|\/)drive\/root$|^drives\/[^/]+\/root$|(^|\/)drives?(\/[^/]+)?\/items\/[^/]+$/i.test(path);
}

const OUTLOOK_RESOURCE = /^(?:me|users\/[^/]+)\/(?:(?:mailFolders|calendars?|contactFolders)(?:\/[^/?]+|\([^)]*\))\/)?(messages|events|contacts)(?:\?|$)/i;
const TEAMS_RESOURCE = /^(?:chats|teams|communications\/onlineMeetings)\b|\/chats\/|\/channels\/|(^|\/)chats(\/|\?|$)/i;

/** Resource data (rich notifications) is offered for this resource (Outlook or Teams). */
export function supportsResourceData(resource: string): boolean {
  const path = resource.replace(/^\/+/, '');
  return OUTLOOK_RESOURCE.test(path) || TEAMS_RESOURCE.test(path);
}

/** `resource` is an Outlook message / event / contact collection (possibly with a query). */
export function isOutlookResource(resource: string): boolean {
  return OUTLOOK_RESOURCE.test(resource.replace(/^\/+/, ''));
}

/** The query options of a resource (`me/messages?$select=subject` → {"$select": "subject"}), names lower-cased. */
function queryOf(resource: string): Map<string, string> {
  const q = resource.indexOf('?');
  const result = new Map<string, string>();
  if (q === -1) return result;
  for (const [name, value] of new URLSearchParams(resource.slice(q + 1))) result.set(name.toLowerCase(), value);
  return result;
}

/**
 * Why Graph would refuse resource data on this Outlook resource (its message, or ours where it names none);
 * undefined when the resource is fine.
 */
export function richOutlookProblem(resource: string): string | undefined {
  const query = queryOf(resource);
  const select = query.get('$select');
  if (!select) return `rich notifications on "${resource}" need a $select in the resource, e.g. "${resource.split('?')[0]}?$select=subject,from,receivedDateTime" (Graph: "select clause should be present in query string to support rich notifications")`;
  if (select.split(',').some((p) => /^(body|uniqueBody)$/i.test(p.trim()))) return `rich notifications cannot $select body or uniqueBody ("${resource}")`;
  for (const option of ['$top', '$skip', '$orderby', '$expand']) {
    if (query.has(option)) return `rich notifications allow no ${option} in the resource ("${resource}")`;
  }
  return undefined;
}

/**
 * Parse and check the `subscriptions` setting: a JSON array (or the array itself) of `{resource, changeType?,
 * expirationMinutes?}`. Throws `Ms365Error('invalid_configuration')` with a readable message.
 */
export function parseSubscriptionSpecs(value: unknown): ParsedSpec[] {
  if (value === undefined || value === null || value === '') return [];
  let parsed: unknown;
  try {
    parsed = typeof value === 'string' ? JSON.parse(value) : value;
  } catch {
    throw invalid('subscriptions is not JSON: give an array of {resource, changeType, expirationMinutes}');
  }
  if (!Array.isArray(parsed)) throw invalid('subscriptions must be a JSON array of {resource, changeType, expirationMinutes}');
  return parsed.map((s: unknown, i) => {
    const spec = (typeof s === 'object' && s !== null ? s : {}) as Record<string, unknown>;
    if (typeof spec.resource !== 'string' || !spec.resource.trim()) throw invalid(`subscriptions[${i}] needs a "resource" (e.g. "me/messages")`);
    const resource = spec.resource.trim().replace(/^\/+/, '');
    const drive = isDriveResource(resource);
    let changeType = typeof spec.changeType === 'string' ? spec.changeType.replace(/\s+/g, '') : '';
    if (!changeType) changeType = drive ? 'updated' : 'created,updated,deleted';
    const types = changeType.split(',');
    if (!types.every((t) => ['created', 'updated', 'deleted'].includes(t))) {
      throw invalid(`subscriptions[${i}] ("${resource}"): changeType "${changeType}" must be a comma list of created, updated, deleted`);
    }
    if (drive && changeType !== 'updated') {
      throw invalid(`subscriptions[${i}] ("${resource}"): a OneDrive subscription takes only changeType "updated" (Graph refuses "${changeType}"); leave changeType out or set it to "updated"`);
    }
    const minutes = spec.expirationMinutes;
    if (minutes !== undefined && !(typeof minutes === 'number' && Number.isFinite(minutes) && minutes > 0)) {
      throw invalid(`subscriptions[${i}] ("${resource}"): expirationMinutes must be a positive number`);
    }
    return { resource, changeType, expirationMinutes: minutes as number | undefined };
  });
}

/**
 * Whether each resource asks for resource data when the node has a certificate: Outlook resources must then be
 * acceptable (else throws, at deploy); drive and other resources without support are subscribed without it, with
 * the reason (reported on output 2).
 */
export function resourceDataPlan(resource: string): { include: true } | { include: false; reason: string } {
  if (isOutlookResource(resource)) {
    const problem = richOutlookProblem(resource);
    if (problem) throw invalid(problem);
    return { include: true };
  }
  if (supportsResourceData(resource)) return { include: true };
  if (isDriveResource(resource)) return { include: false, reason: 'Graph offers no resource data on OneDrive ("File Services workload is not enabled for rich notifications"): subscribed without it' };
  return { include: false, reason: 'Graph offers resource data on Outlook and Teams resources only: subscribed without it' };
}

/**
 * The `encryptionCertificate` Graph wants: base64 DER of an X.509 certificate with an RSA key of 2048 to 4096 bits.
 * PEM (`-----BEGIN CERTIFICATE-----`) is converted; a bare public key or anything else is refused.
 */
export function certificateForGraph(text: string): string {
  const value = text.trim();
  if (/-----BEGIN (RSA )?PUBLIC KEY-----/.test(value)) {
    throw invalid('encryptionCertificate is a bare public key: Graph wants an X.509 certificate (PEM "-----BEGIN CERTIFICATE-----" or its base64 DER)');
  }
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(value)) {
    throw invalid('encryptionCertificate holds a private key: put the certificate here and its private key in the encryptionPrivateKey credential');
  }
  const pem = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(value);
  const base64 = (pem ? pem[1]! : value).replace(/\s+/g, '');
  let cert: X509Certificate;
  try {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) throw new Error('not base64');
    cert = new X509Certificate(Buffer.from(base64, 'base64'));
  } catch {
    throw invalid('encryptionCertificate is not an X.509 certificate (PEM "-----BEGIN CERTIFICATE-----" or its base64 DER)');
  }
  const bits = cert.publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
  if (cert.publicKey.asymmetricKeyType !== 'rsa' || bits < 2048 || bits > 4096) {
    throw invalid('encryptionCertificate must carry an RSA key of 2048 to 4096 bits (Graph encrypts the notification key with RSA-OAEP)');
  }
  return base64;
}

function invalid(message: string): Ms365Error {
  return new Ms365Error('invalid_configuration', message);
}

/** `me/...` → `users/{userId}/...` when the connector signs in as an app (`mePath` `/users/{id}`; CONTRACT). */
export function resourceForMePath(mePath: string, resource: string): string {
  const clean = resource.replace(/^\/+/, '');
  return mePath === '/me' ? clean : clean.replace(/^me\//i, `${mePath.replace(/^\//, '')}/`);
}

/**
 * The specs as they are subscribed: `me/` rewritten for `mePath`, and with a certificate (`rich`) resource data
 * asked where Graph offers it (`resourceDataPlan`: throws for an Outlook resource Graph would refuse).
 */
export function resolveSpecs(
  specs: readonly ParsedSpec[],
  mePath: string,
  rich: boolean,
): Array<ParsedSpec & { includeResourceData?: boolean; note?: string }> {
  return specs.map((spec) => {
    const resource = resourceForMePath(mePath, spec.resource);
    if (!rich) return { ...spec, resource };
    const plan = resourceDataPlan(resource);
    return plan.include ? { ...spec, resource, includeResourceData: true } : { ...spec, resource, includeResourceData: false, note: plan.reason };
  });
}
