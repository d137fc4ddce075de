/**
 * Drive delta of one folder, on both kinds of OneDrive ("driveItem: delta", `reference/graph.md` §5, §11.5):
 * personal OneDrive answers `/drive/items/{folder}/delta` itself; OneDrive for Business (and SharePoint libraries)
 * support delta on the root only (a folder answers 501 `notSupported` "view.delta can only be called on the root."),
 * so there the root delta is read and narrowed to the folder's subtree here.
 *
 * - The drive type is asked once per resource (`GET {drive}?$select=id,driveType`) and kept in the cursor.
 * - Narrowing: an item is in the subtree when its chain of `parentReference.id` reaches the folder. Delta items carry
 *   their parent's id but no path (§5), so the parents of folders are learnt from the feed itself (folders appear in
 *   it whenever they change) and, for a folder not seen yet, from one `GET {drive}/items/{id}?$select=id,parentReference`
 *   each; they are kept in the cursor (bounded), so deletions inside the subtree are still reported after the
 *   folders themselves are gone. An item moved out of the folder is not reported (it is outside now).
 * - The folder itself is not reported (as the root is not, in a root delta): its eTag changes with every child.
 * - The folder is read once (`?$select=id,folder,root`): one given by path is resolved to its id, and a file is refused
 *   with the limit named (delta tracks the root and folders only, `opencon/graph-limits.ts`).
 */
import type { ResourceConfig } from '../opencon/poller-config';
import { GraphError } from '../graph/client';
import { checkDriveDeltaItem, type DriveItemKind } from '../opencon/graph-limits';
import type { DeltaCursor, RoundResult } from './delta-engine';
import type { EngineContext } from './shared';

/** Folders whose parent is remembered in a cursor, at most (about 60 bytes each). */
export const MAX_REMEMBERED_FOLDERS = 5000;

export interface DriveScope {
  /** The folder as configured (drive path + id or path): another configuration starts afresh. */
  of: string;
  /** The drive's `driveType`: `business`, `personal` or `documentLibrary`. */
  driveType: string;
  /** The folder's item id. */
  folderId: string;
  /** The root delta is narrowed here (every drive type but personal). */
  narrowed: boolean;
  /** `[folderId, parentId | null]` of folders seen (null: the root); newest last. */
  folders?: Array<[string, string | null]>;
}

/** A delta cursor with the folder scope of a drive folder resource. */
export type ScopedDeltaCursor = DeltaCursor & { driveScope?: DriveScope };

interface DriveDeltaUrl {
  /** `/me/drive`, `/users/{id}/drive`, `/drives/{id}`, `/sites/{id}/drive`, `/sites/{id}/drives/{id}`, ... */
  driveBase: string;
  /** The folder's item id (undefined: the root). */
  folderId?: string;
  /** The folder's path below the root (`/Documents/Reports`), when given by path. */
  folderPath?: string;
  /** The query string, without `?`. */
  query: string;
}

const DRIVE_BASE = String.raw`(?:/(?:me|(?:users|sites|groups)/[^/?]+))?(?:/drive|/drives/[^/?]+)`;
const BY_ROOT = new RegExp(String.raw`^(${DRIVE_BASE})/root/delta(?:\(\))?$`, 'i');
const BY_ID = new RegExp(String.raw`^(${DRIVE_BASE})/items/([^/?]+)/delta(?:\(\))?$`, 'i');
const BY_PATH = new RegExp(String.raw`^(${DRIVE_BASE})/root:(/[^:]*):/delta(?:\(\))?$`, 'i');

/** The parts of a drive delta URL (relative to the Graph version root), or undefined for anything else. */
export function parseDriveDeltaUrl(url: string): DriveDeltaUrl | undefined {
  let text = url;
  const absolute = /^https?:\/\/[^/]+\/(?:v1\.0|beta)(\/.*)$/i.exec(text);
  if (absolute) text = absolute[1];
  if (!text.startsWith('/')) text = `/${text}`;
  const q = text.indexOf('?');
  const path = q < 0 ? text : text.slice(0, q);
  const query = q < 0 ? '' : text.slice(q + 1);
  const root = BY_ROOT.exec(path);
  if (root) return { driveBase: root[1], query };
  const byId = BY_ID.exec(path);
  if (byId) {
    const id = safeDecode(byId[2]);
    return id.toLowerCase() === 'root' ? { driveBase: byId[1], query } : { driveBase: byId[1], folderId: id, query };
  }
  const byPath = BY_PATH.exec(path);
  if (byPath) {
    const folderPath = safeDecode(byPath[2]).replace(/\/+$/, '');
    return folderPath === '' ? { driveBase: byPath[1], query } : { driveBase: byPath[1], folderPath, query };
  }
  return undefined;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function withQuery(path: string, query: string): string {
  return query ? `${path}?${query}` : path;
}

/** `$select` without `parentReference` cannot be narrowed: add it. */
function narrowableQuery(query: string): string {
  return query.replace(/(^|&)(\$select=)([^&]*)/i, (all, lead: string, key: string, value: string) =>
    /(^|,|%2C)parentReference($|,|%2C)/i.test(value) ? all : `${lead}${key}${value}${value ? ',' : ''}parentReference`,
  );
}

/**
 * One round of a drive folder resource: `run` is the delta engine's round (start or poll) for the resource and cursor
 * it is given. Resources that are no drive folder delta go to `run` unchanged.
 */
export async function withDriveScope(
  ctx: EngineContext,
  resource: ResourceConfig,
  cursor: ScopedDeltaCursor | undefined,
  run: (resource: ResourceConfig, cursor: DeltaCursor | undefined) => Promise<RoundResult<DeltaCursor>>,
): Promise<RoundResult<ScopedDeltaCursor>> {
  const target = parseDriveDeltaUrl(resource.url);
  if (!target || (target.folderId === undefined && target.folderPath === undefined)) return run(resource, cursor);
  const of = `${target.driveBase}:${target.folderId ?? `root:${target.folderPath ?? ''}`}`;
  let scope = cursor?.driveScope?.of === of ? cursor.driveScope : undefined;
  let requests = 0;
  if (!scope) {
    const drive = await ctx.graph.get<{ driveType?: string }>(`${target.driveBase}?$select=id,driveType`, undefined, ctx.signal);
    requests += 1;
    // The folder itself, once: its id (when given by path) and that it is a folder, not a file (graph-limits.ts).
    const itemUrl = target.folderId !== undefined ? `${target.driveBase}/items/${encodeURIComponent(target.folderId)}` : `${target.driveBase}/root:${encodeURI(target.folderPath ?? '')}`;
    const folder = await ctx.graph.get<DriveItemKind & { id?: string }>(`${itemUrl}?$select=id,folder,root`, undefined, ctx.signal);
    requests += 1;
    if (typeof folder.id !== 'string') throw new GraphError({ status: 404, graphCode: 'itemNotFound', message: `drive folder ${target.folderPath ?? target.folderId ?? ''} not found` });
    checkDriveDeltaItem(folder, target.folderId !== undefined ? `drive item ${target.folderId}` : `drive item ${target.folderPath ?? ''}`);
    const folderId = folder.id;
    const driveType = drive.driveType ?? 'business';
    scope = { of, driveType, folderId, narrowed: driveType !== 'personal' };
    // A cursor of another folder starts again; one made without a scope (started by the delta engine alone) is kept
    // if it reads the feed this scope reads.
    if (cursor && (cursor.driveScope !== undefined || !readsFeed(cursor.deltaLink, scope.narrowed ? undefined : folderId))) cursor = undefined;
  }
  const folderId = scope.folderId;
  const effective: ResourceConfig = scope.narrowed
    ? { ...resource, url: withQuery(`${target.driveBase}/root/delta`, narrowableQuery(target.query)) }
    : { ...resource, url: withQuery(`${target.driveBase}/items/${encodeURIComponent(folderId)}/delta`, target.query) };
  const result = await run(effective, cursor);
  requests += result.requests;
  let events = result.events.filter((e) => e.objectId !== folderId);
  const folders = new Map<string, string | null>(scope.folders ?? []);
  if (scope.narrowed) {
    const raws = events.map((e) => (e.raw ?? {}) as DriveItemLike);
    // Folders in the feed tell where they are now (a move changes the folder, so it appears); a deleted one
    // without its parent keeps the parent remembered.
    for (const item of raws) {
      if (isFolder(item) && typeof item.id === 'string' && (parentOf(item) !== null || !item.deleted)) remember(folders, item.id, parentOf(item));
    }
    const inside = new Map<string, boolean>();
    const keep: boolean[] = [];
    for (const item of raws) {
      const parent = parentOf(item) ?? (typeof item.id === 'string' ? folders.get(item.id) ?? null : null);
      const { verdict, asked } = await reachesFolder(ctx, target.driveBase, folderId, parent, folders, inside);
      requests += asked;
      keep.push(verdict);
    }
    events = events.filter((_, i) => keep[i]);
    for (const item of raws) if (item.deleted && typeof item.id === 'string') folders.delete(item.id);
  }
  const remembered = [...folders].slice(-MAX_REMEMBERED_FOLDERS);
  const driveScope: DriveScope = remembered.length > 0 ? { ...scope, folders: remembered } : { of, driveType: scope.driveType, folderId, narrowed: scope.narrowed };
  return { ...result, events, requests, cursor: { ...result.cursor, driveScope } };
}

/** Does `deltaLink` read the root delta (`folderId` undefined) or that folder's delta? */
function readsFeed(deltaLink: string, folderId: string | undefined): boolean {
  let path: string;
  try {
    path = new URL(deltaLink, 'https://graph.invalid').pathname.replace(/\/delta\(.*$/i, '/delta');
  } catch {
    return false;
  }
  const parsed = parseDriveDeltaUrl(path.replace(/^\/(?:v1\.0|beta)(?=\/)/i, ''));
  return parsed !== undefined && parsed.folderPath === undefined && parsed.folderId === folderId;
}

interface DriveItemLike {
  id?: unknown;
  folder?: unknown;
  deleted?: unknown;
  root?: unknown;
  parentReference?: { id?: unknown } | null;
}

function isFolder(item: DriveItemLike): boolean {
  return item.folder !== undefined && item.folder !== null;
}

function parentOf(item: DriveItemLike): string | null {
  const id = item.parentReference?.id;
  return typeof id === 'string' && id !== '' ? id : null;
}

function remember(folders: Map<string, string | null>, id: string, parent: string | null): void {
  folders.delete(id); // newest last: the oldest are dropped first
  folders.set(id, parent);
}

/**
 * Does the chain of parents from `start` reach `folderId`? Unknown links are fetched (`asked` requests) and
 * remembered; a folder Graph no longer has (404) is outside.
 */
async function reachesFolder(
  ctx: EngineContext,
  driveBase: string,
  folderId: string,
  start: string | null,
  folders: Map<string, string | null>,
  memo: Map<string, boolean>,
): Promise<{ verdict: boolean; asked: number }> {
  const chain: string[] = [];
  let asked = 0;
  let current = start;
  let verdict = false;
  for (let depth = 0; current !== null && depth < 500; depth += 1) {
    if (current === folderId) {
      verdict = true;
      break;
    }
    const known = memo.get(current);
    if (known !== undefined) {
      verdict = known;
      break;
    }
    chain.push(current);
    if (!folders.has(current)) {
      asked += 1;
      try {
        const item = await ctx.graph.get<DriveItemLike>(`${driveBase}/items/${encodeURIComponent(current)}?$select=id,parentReference,root`, undefined, ctx.signal);
        remember(folders, current, item.root !== undefined && item.root !== null ? null : parentOf(item));
      } catch (err) {
        if (!(err instanceof GraphError && err.status === 404)) throw err;
        break; // gone, and not remembered as inside
      }
    }
    current = folders.get(current) ?? null;
  }
  for (const id of chain) memo.set(id, verdict);
  return { verdict, asked };
}
