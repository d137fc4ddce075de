/**
 * Catching up an Outlook subscription after a gap (`reference/graph.md` §3: a `missed` lifecycle notification, or a
 * subscription Graph forgot and the node re-created). Graph's advice is a resync; `me/messages` (all folders) and
 * `me/events` have no delta query, so the gap is read with the poller's filter engine: objects whose
 * `lastModifiedDateTime` is at or after the last instant the subscription was known to deliver (a notification
 * received, or a create/renew that succeeded), minus a minute of slack for clocks and in-flight notifications.
 * Deletions inside the gap cannot be seen this way (documented). Versions already delivered by a notification are
 * not emitted twice: within a run by `versionKey` (id + `@odata.etag`), across restarts by the bookmark's `seen`
 * list (the filter engine's own dedupe keys, id + lastModifiedDateTime), kept for the slack window only.
 */
import { MAX_SEEN, dedupeKey, type FilterCursor } from '../changes/filter-engine';
import type { PollerCursor } from '../changes';

/** Subtracted from the last-heard instant: notifications in flight and clock differences between us and Graph. */
export const CATCH_UP_SLACK_MS = 60_000;

const OUTLOOK_COLLECTION = /^(?:me|users\/[^/]+)(?:\/(?:mailFolders|calendars|contactFolders)(?:\/[^/]+|\([^)]*\)))?\/(messages|events|contacts)$/i;

/** The objectType and catch-up URL of an Outlook collection subscription resource; undefined for anything else. */
export function catchUpQuery(resource: string): { objectType: string; url: string } | undefined {
  const path = resource.replace(/^\/+|\/+$/g, '');
  const match = OUTLOOK_COLLECTION.exec(path);
  if (!match) return undefined; // other resources (drive, a query in the resource, Teams…): reported, not caught up
  return {
    objectType: match[1]!.toLowerCase(),
    url: `/${path}?$filter=lastModifiedDateTime ge \${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}`,
  };
}

/**
 * A filter-engine cursor whose window opens at `heardAt` − slack (nothing changed before it is emitted). The first
 * bookmark of a subscription (`first`) opens at its creation: nothing before the subscription existed is owed.
 */
export function catchUpCursor(heardAt: number, first = false): FilterCursor {
  const since = first ? heardAt : heardAt - CATCH_UP_SLACK_MS;
  return { mode: 'filter', watermark: since, seen: [], startedAt: since };
}

/** Identifies one version of one object across a notification and a catch-up read. */
export function versionKey(objectId: string, etag: unknown): string | undefined {
  return typeof etag === 'string' && etag ? `${objectId}\n${etag}` : undefined;
}

/**
 * The bookmark after the subscription on a resource delivered at `at` (ms), optionally a notification of `version`
 * (object id + lastModifiedDateTime in ms): the window start moves forward, never back, and the versions delivered
 * inside the window are remembered so a catch-up does not emit them again.
 */
export function advanceBookmark(current: PollerCursor | undefined, at: number, version?: { objectId: string; updatedMs: number }): FilterCursor {
  const fresh = catchUpCursor(at);
  const base: FilterCursor = current?.mode === 'filter' ? current : catchUpCursor(at, true);
  const moved = fresh.watermark > base.watermark;
  const start = moved ? fresh.startedAt : (base.startedAt ?? base.watermark);
  let seen = base.seen.filter(([, updated]) => updated >= start);
  if (version && Number.isFinite(version.updatedMs) && version.updatedMs >= start) {
    seen.push([dedupeKey(version.objectId, version.updatedMs), version.updatedMs]);
    if (seen.length > MAX_SEEN) seen = seen.slice(seen.length - MAX_SEEN);
  }
  return moved ? { ...fresh, seen } : { ...base, seen };
}
