/**
 * What the editor's pickers list (issue 16, item 2): mail folders, calendars, drives and the children of a drive
 * folder of the connector's mailbox/drive, each trimmed to what a picker shows (id, name, a little more). Graph
 * shapes from `@microsoft/microsoft-graph-types`; reads from Microsoft's pages "List mailFolders", "List child
 * folders", "List calendars", "List drives" and "List children of a driveItem". At most `MAX_ITEMS` per answer
 * (`more: true` when Graph had more).
 */
import type { Calendar, Drive, DriveItem, MailFolder } from '@microsoft/microsoft-graph-types';
import type { GraphClient } from './client';

export const MAX_ITEMS = 500;
const PAGE = 100;

export interface BrowseItem {
  id: string;
  name: string;
  /** Mail folders: child folder count; drive items: children count (folders only). */
  childCount?: number;
  /** Drive items: is it a folder. */
  folder?: boolean;
  /** Calendars: the default calendar. Drives: the drive type (personal, business, documentLibrary). */
  isDefault?: boolean;
  driveType?: string;
  /** Drive items: the drive they are in. */
  driveId?: string;
}

export interface BrowseResult {
  value: BrowseItem[];
  more: boolean;
}

interface Page<T> {
  value?: T[];
  '@odata.nextLink'?: string;
}

async function collect<T>(graph: GraphClient, url: string, map: (item: T) => BrowseItem | undefined): Promise<BrowseResult> {
  const value: BrowseItem[] = [];
  let next: string | undefined = url;
  while (next) {
    const page: Page<T> = await graph.get<Page<T>>(next);
    for (const item of page.value ?? []) {
      const mapped = map(item);
      if (mapped) value.push(mapped);
    }
    next = page['@odata.nextLink'];
    if (value.length >= MAX_ITEMS) return { value: value.slice(0, MAX_ITEMS), more: Boolean(next) || value.length > MAX_ITEMS };
  }
  return { value, more: false };
}

/** Graph ids are opaque strings: anything that could break out of a path segment is refused by the caller. */
export function isSafeId(id: string): boolean {
  return /^[A-Za-z0-9!._=+\-$,;@~%]{1,512}$/.test(id);
}

/** Mail folders at the top of the mailbox, or the child folders of `parent`. */
export function listMailFolders(graph: GraphClient, mePath: string, parent?: string): Promise<BrowseResult> {
  const base = parent ? `${mePath}/mailFolders/${encodeURIComponent(parent)}/childFolders` : `${mePath}/mailFolders`;
  return collect<MailFolder>(graph, `${base}?$top=${PAGE}&$select=id,displayName,childFolderCount`, (f) =>
    f.id ? { id: f.id, name: f.displayName ?? f.id, childCount: f.childFolderCount ?? 0 } : undefined,
  );
}

export function listCalendars(graph: GraphClient, mePath: string): Promise<BrowseResult> {
  return collect<Calendar>(graph, `${mePath}/calendars?$top=${PAGE}&$select=id,name,isDefaultCalendar`, (c) =>
    c.id ? { id: c.id, name: c.name ?? c.id, isDefault: c.isDefaultCalendar === true } : undefined,
  );
}

export function listDrives(graph: GraphClient, mePath: string): Promise<BrowseResult> {
  return collect<Drive>(graph, `${mePath}/drives?$select=id,name,driveType`, (d) =>
    d.id ? { id: d.id, name: d.name ?? d.id, driveType: d.driveType ?? undefined } : undefined,
  );
}

/** Children of a drive folder (`parent`: an item id, default the root) of `drive` (default the user's drive). */
export function listChildren(graph: GraphClient, mePath: string, parent?: string, drive?: string): Promise<BrowseResult> {
  const owner = drive ? `/drives/${encodeURIComponent(drive)}` : `${mePath}/drive`;
  const item = parent ? `items/${encodeURIComponent(parent)}` : 'root';
  return collect<DriveItem>(graph, `${owner}/${item}/children?$top=${PAGE}&$select=id,name,folder,file,parentReference`, (i) =>
    i.id
      ? { id: i.id, name: i.name ?? i.id, folder: Boolean(i.folder), childCount: i.folder?.childCount ?? undefined, driveId: i.parentReference?.driveId ?? undefined }
      : undefined,
  );
}
