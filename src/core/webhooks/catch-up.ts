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
import { atOrAfter } from '../changes/shared';
import type { HeardBookmark } from '../state/types';

/** Subtracted from the last-heard instant: notifications in flight and clock differences between us and Graph. */
export const CATCH_UP_SLACK_MS = 60_000;

const OUTLOOK_COLLECTION = /^(?:me|users\/[^/]+)(?:\/(?:mailFolders|calendars?|contactFolders)(?:\/[^/]+|\([^)]*\)))?\/(messages|events|contacts)$/i;

/**
 * The objectType and catch-up URL of an Outlook collection subscription resource; undefined for anything else. Every
 * form a subscription takes maps to its query ("Outlook change notifications" resources): `me/messages`,
 * `users/{id}/events`, `me/mailFolders('Inbox')/messages`, `me/mailFolders/{id}/messages`, and each of them with a
 * query (`?$select=...` of rich notifications, `?$filter=...`): the subscription's `$filter` is kept (and-ed with the
 * catch-up window), its `$select` too, widened by the fields the filter engine reads (`id`, `lastModifiedDateTime`,
 * `createdDateTime`).
 */
export function catchUpQuery(resource: string): { objectType: string; url: string } | undefined {
  const trimmed = resource.replace(/^\/+/, '');
  const q = trimmed.indexOf('?');
  const path = (q === -1 ? trimmed : trimmed.slice(0, q)).replace(/\/+$/, '');
  const match = OUTLOOK_COLLECTION.exec(path);
  if (!match) return undefined; // other resources (drive, Teams…): reported, not caught up
  const options = new Map<string, string>();
  if (q !== -1) for (const [name, value] of new URLSearchParams(trimmed.slice(q + 1))) options.set(name.toLowerCase(), value);
  const window = "lastModifiedDateTime ge ${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}";
  const filter = options.get('$filter');
  const parts = [`$filter=${filter ? `(${filter}) and ${window}` : window}`];
  const select = options.get('$select');
  if (select) {
    const fields = select.split(',').map((f) => f.trim()).filter(Boolean);
    for (const needed of ['id', 'lastModifiedDateTime', 'createdDateTime']) if (!fields.some((f) => f.toLowerCase() === needed.toLowerCase())) fields.push(needed);
    parts.push(`$select=${fields.join(',')}`);
  }
  return { objectType: match[1]!.toLowerCase(), url: `/${path}?${parts.join('&')}` };
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
  // Outlook dates are whole seconds: a version dated in the second of `start` may be inside the window (atOrAfter).
  let seen = base.seen.filter(([, updated]) => atOrAfter(updated, start));
  if (version && Number.isFinite(version.updatedMs) && atOrAfter(version.updatedMs, start)) {
    seen.push([dedupeKey(version.objectId, version.updatedMs), version.updatedMs]);
    if (seen.length > MAX_SEEN) seen = seen.slice(seen.length - MAX_SEEN);
  }
  return moved ? { ...fresh, seen } : { ...base, seen };
}

/**
 * Cluster mode (issue 17): the bookmark a catch-up round starts from, made of the last round's cursor (the owner's
 * fenced record) and the window every instance advanced as notifications came in (`heard`, a Redis max): the later
 * window wins, with the versions notifications delivered inside it, so none is emitted again. Undefined: neither.
 */
export function sharedBookmark(round: PollerCursor | undefined, heard: HeardBookmark | undefined): FilterCursor | undefined {
  const base = round?.mode === 'filter' ? round : undefined;
  if (!base && !heard) return undefined;
  const cursor: FilterCursor =
    base && (!heard || base.watermark >= heard.watermark) ? { ...base, seen: [...base.seen] } : { mode: 'filter', watermark: heard!.watermark, seen: [], startedAt: heard!.watermark };
  const keys = new Set(cursor.seen.map(([key]) => key));
  for (const [key, updated] of heard?.seen ?? []) {
    if (keys.has(key) || !atOrAfter(updated, cursor.watermark)) continue;
    keys.add(key);
    cursor.seen.push([key, updated]);
  }
  if (cursor.seen.length > MAX_SEEN) cursor.seen = cursor.seen.slice(cursor.seen.length - MAX_SEEN);
  return cursor;
}
