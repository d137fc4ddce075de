/**
 * Simulated OneDrive: one drive per user, OneDrive for Business (`driveType` "business") or personal OneDrive
 * ("personal", the user's `driveType`), with a root folder, folders and files in Graph's `driveItem` shape (eTag
 * `"{GUID},N"` and cTag `"c:{GUID},N"` bumped on change, `file`/`folder`/`root` facets, `parentReference`,
 * `fileSystemInfo`).
 */
import type { DriveItem, Identity } from '@microsoft/microsoft-graph-types';
import { createHash } from 'node:crypto';
import { guid } from './ids';

export interface DriveItemInput {
  name?: string;
  /** Parent folder id; default the root. */
  parentId?: string;
  /** Create a folder instead of a file. */
  folder?: boolean;
  /** File content (text); default empty. */
  content?: string;
  mimeType?: string;
}

export type DriveItemPatch = Pick<DriveItemInput, 'name' | 'content'>;

export interface SimDriveItem extends DriveItem {
  /** Not sent to clients: the version behind eTag/cTag. */
  _version?: number;
  _guid?: string;
}

export interface DriveOwner {
  driveId: string;
  driveType: 'business' | 'personal';
  userId: string;
  displayName: string;
  email: string;
}

function identitySet(owner: DriveOwner): DriveItem['createdBy'] {
  // "identity resource type" has id and displayName; the "Get driveItem" / "Get Drive" examples show no email.
  const user: Identity = { id: owner.userId, displayName: owner.displayName };
  return { user };
}

function tags(item: SimDriveItem): void {
  item.eTag = `"{${item._guid}},${item._version}"`;
  item.cTag = `"c:{${item._guid}},${item._version}"`;
}

export function buildRoot(id: string, owner: DriveOwner, nowIso: string, webBase: string): SimDriveItem {
  const item: SimDriveItem = {
    _guid: guid(),
    _version: 1,
    id,
    name: 'root',
    createdDateTime: nowIso,
    lastModifiedDateTime: nowIso,
    webUrl: `${webBase}/Documents`,
    size: 0,
    createdBy: identitySet(owner),
    lastModifiedBy: identitySet(owner),
    parentReference: { driveId: owner.driveId, driveType: owner.driveType },
    fileSystemInfo: { createdDateTime: nowIso, lastModifiedDateTime: nowIso },
    folder: { childCount: 0 },
    root: {},
  };
  tags(item);
  return item;
}

export function buildDriveItem(id: string, parent: SimDriveItem, input: DriveItemInput, owner: DriveOwner, nowIso: string): SimDriveItem {
  const content = input.content ?? '';
  const name = input.name ?? (input.folder ? 'New folder' : 'Document.txt');
  const parentPath = parent.root ? '/drive/root:' : `${parent.parentReference?.path ?? '/drive/root:'}/${parent.name ?? ''}`;
  const item: SimDriveItem = {
    _guid: guid(),
    _version: 1,
    id,
    name,
    createdDateTime: nowIso,
    lastModifiedDateTime: nowIso,
    webUrl: `${parent.webUrl}/${encodeURIComponent(name)}`,
    size: input.folder ? 0 : Buffer.byteLength(content),
    createdBy: identitySet(owner),
    lastModifiedBy: identitySet(owner),
    parentReference: { driveId: owner.driveId, driveType: owner.driveType, id: parent.id, path: parentPath },
    fileSystemInfo: { createdDateTime: nowIso, lastModifiedDateTime: nowIso },
  };
  if (input.folder) item.folder = { childCount: 0 };
  else item.file = { mimeType: input.mimeType ?? 'text/plain', hashes: { quickXorHash: createHash('sha1').update(content).digest('base64') } };
  tags(item);
  return item;
}

/** A new version of an item: new eTag/cTag and modification times. */
export function touchDriveItem(item: SimDriveItem, nowIso: string, patch: DriveItemPatch = {}): SimDriveItem {
  const next: SimDriveItem = { ...item, _version: (item._version ?? 1) + 1, lastModifiedDateTime: nowIso };
  next.fileSystemInfo = { ...item.fileSystemInfo, lastModifiedDateTime: nowIso };
  if (patch.name !== undefined) next.name = patch.name;
  if (patch.content !== undefined && next.file) {
    next.size = Buffer.byteLength(patch.content);
    next.file = { ...next.file, hashes: { quickXorHash: createHash('sha1').update(patch.content).digest('base64') } };
  }
  tags(next);
  return next;
}

/** The item as clients see it (internal fields dropped); `parentReference.path` is absent in delta (§5). */
export function publicDriveItem(item: SimDriveItem, inDelta = false): DriveItem {
  const { _version: _v, _guid: _g, ...rest } = item;
  if (inDelta && rest.parentReference?.path) {
    const { path: _p, ...parentReference } = rest.parentReference;
    return { ...rest, parentReference };
  }
  return rest;
}

/**
 * A deleted item in a delta feed: the `deleted` facet, never `cTag`; OneDrive for Business also omits `name`,
 * personal OneDrive omits `size` ("driveItem: delta", remarks; `reference/graph.md` §11.5).
 */
export function deletedDriveItem(item: SimDriveItem): Record<string, unknown> {
  const parentReference = item.parentReference ? { driveId: item.parentReference.driveId, driveType: item.parentReference.driveType, id: item.parentReference.id } : undefined;
  const facet = item.folder ? { folder: {} } : { file: {} };
  if (item.parentReference?.driveType === 'personal') return { id: item.id, name: item.name, parentReference, ...facet, deleted: {} };
  return { id: item.id, parentReference, ...facet, deleted: {} };
}
