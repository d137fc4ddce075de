/**
 * Drive change notifications name no item (`reference/graph.md` §2.1: "something under the subscribed root
 * changed"); the app asks drive delta what changed (§5). This keeps one delta cursor per drive subscription:
 * started at `token=latest` (nothing old is replayed), then each notification walks the deltaLink and returns one
 * event per changed item (last state wins within a round; `deleted` facet → DELETED; created vs updated from
 * `createdDateTime` against the previous sync, as §5 advises). A 410 restarts from `token=latest`.
 */
import type { DriveItem } from '@microsoft/microsoft-graph-types';
import { GraphClient, GraphError } from '../graph/client';
import { changeEventId, isoDate, type Ms365Event } from '../events';
import type { ElementKey } from '../elements';

export interface DriveCursor {
  deltaLink: string;
  /** When the previous round started (ms). */
  syncedAt: number;
}

interface DeltaPage {
  value?: DriveItem[];
  '@odata.nextLink'?: string;
  '@odata.deltaLink'?: string;
}

/** `me/drive/root` / `drives/{id}/root` / `users/{id}/drive/root` → the delta path. */
export function driveDeltaPath(resource: string): string {
  return `/${resource.replace(/^\/+/, '').replace(/\/+$/, '')}/delta`;
}

/** A cursor at "now": `token=latest` answers no items and a deltaLink (§5). */
export async function latestDriveCursor(graph: GraphClient, resource: string, now = Date.now()): Promise<DriveCursor> {
  const page = await graph.get<DeltaPage>(`${driveDeltaPath(resource)}?token=latest`);
  let link = page['@odata.deltaLink'];
  let next = page['@odata.nextLink'];
  while (!link && next) {
    const more = await graph.get<DeltaPage>(next);
    link = more['@odata.deltaLink'];
    next = more['@odata.nextLink'];
  }
  if (!link) throw new GraphError({ status: 500, graphCode: 'noDeltaLink', message: 'drive delta answered without a deltaLink' });
  return { deltaLink: link, syncedAt: now };
}

export interface DriveChanges {
  events: Ms365Event[];
  cursor: DriveCursor;
  /** True when the cursor had expired (410) and was restarted at `token=latest`. */
  resynced: boolean;
}

/** Everything that changed since `cursor`, as events, and the next cursor (save it after sending the events). */
export async function driveChangesSince(
  graph: GraphClient,
  resource: string,
  cursor: DriveCursor,
  ctx: { elementKey: ElementKey; instanceName: string; now?: number },
): Promise<DriveChanges> {
  const startedAt = ctx.now ?? Date.now();
  const latest = new Map<string, DriveItem>();
  let url: string | undefined = cursor.deltaLink;
  let deltaLink: string | undefined;
  try {
    while (url) {
      const page: DeltaPage = await graph.get<DeltaPage>(url);
      for (const item of page.value ?? []) if (item.id) latest.set(item.id, item);
      deltaLink = page['@odata.deltaLink'] ?? deltaLink;
      url = page['@odata.deltaLink'] ? undefined : page['@odata.nextLink'];
    }
  } catch (err) {
    if (err instanceof GraphError && err.status === 410) {
      return { events: [], cursor: await latestDriveCursor(graph, resource, startedAt), resynced: true };
    }
    throw err;
  }
  const events: Ms365Event[] = [];
  for (const item of latest.values()) {
    if (item.root) continue;
    const deleted = item.deleted !== undefined && item.deleted !== null;
    const created = Date.parse(item.createdDateTime ?? '');
    const modified = Date.parse(item.lastModifiedDateTime ?? '');
    const eventType = deleted ? 'DELETED' : Number.isFinite(created) && created >= cursor.syncedAt - 1000 ? 'CREATED' : 'UPDATED';
    const date = Number.isFinite(modified) ? modified : startedAt;
    events.push({
      eventId: changeEventId('driveItems', item.id, eventType, deleted ? 'deleted' : item.eTag ?? item.cTag ?? String(date)),
      eventType,
      objectType: 'driveItems',
      objectId: String(item.id),
      elementKey: ctx.elementKey,
      instanceName: ctx.instanceName,
      date: isoDate(deleted ? startedAt : date),
      source: 'webhook',
      raw: item,
    });
  }
  return { events, cursor: { deltaLink: deltaLink ?? cursor.deltaLink, syncedAt: startedAt }, resynced: false };
}
