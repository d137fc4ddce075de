/**
 * Realistic identifiers of the simulated Graph: long base64-ish Outlook item ids (`AAMkA...AAA=`), Outlook
 * change keys (`CQAAABYAAAD...`), OneDrive item ids (`01` + 32 base32 characters) and drive ids (`b!...`).
 * Ids are URL-safe (`-`, `_`), as Graph's REST ids are.
 */
import { randomBytes, randomUUID } from 'node:crypto';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** An Outlook item id: mailbox part + random item part, about 150 characters as on Graph. */
export function outlookId(mailboxId: string, marker: 'item' | 'folder' = 'item'): string {
  const mailbox = Buffer.from(mailboxId).toString('base64url');
  const kind = marker === 'folder' ? 'AuAAAAAAAiQ8W967B7TKBjgx9rVEURAQ' : 'BGAAAAAAAiQ8W967B7TKBjgx9rVEURBw';
  return `AAMkA${mailbox}A${kind}${randomBytes(36).toString('base64url')}AAA=`;
}

/** An Outlook change key; `@odata.etag` is `W/"<changeKey>"`. A new one on every change. */
export function changeKey(): string {
  return `CQAAABYAAAD${randomBytes(15).toString('base64url')}`;
}

/** A OneDrive for Business item id. */
export function driveItemId(): string {
  const bytes = randomBytes(32);
  let id = '01';
  for (let i = 0; i < 32; i++) id += BASE32[bytes[i] % 32];
  return id;
}

export function driveId(): string {
  return `b!${randomBytes(48).toString('base64url')}`;
}

/** A personal OneDrive's id: 16 hex digits (`D4648F06C91D9D3D`, "driveItem: delta" examples). */
export function personalDriveId(): string {
  return randomBytes(8).toString('hex').toUpperCase();
}

let personalItemCounter = 100;

/** A personal OneDrive item id: `{driveId}!{number}` (`D4648F06C91D9D3D!54927`). */
export function personalDriveItemId(drive: string): string {
  personalItemCounter += 1;
  return `${drive}!${personalItemCounter}`;
}

export function guid(): string {
  return randomUUID().toUpperCase();
}
