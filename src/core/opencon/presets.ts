/**
 * The poller's "Watch" presets (issue 16 item 1): what a user picks in the dialog ("new mail in a folder", ...) and
 * the Open Connectors `configuration` (CONTRACT "ms365-poller", `reference/open-connectors.md` §3.1) the engine runs
 * for it. A preset-built poller and an imported Open Connectors flow are the same thing underneath: the dialog shows
 * this configuration read-only under Advanced, and the runtime only ever reads `configuration`.
 *
 * - `newMail`: the folder's messages read with `$filter=receivedDateTime ge ${gmtDate:...}` ("List messages",
 *   `reference/graph.md` §6), created and updated date both `receivedDateTime` and `filterByUpdatedDate: false`:
 *   the Open Connectors rule (§3.3 "with filterByUpdatedDate:false and the same field for both dates, ... only
 *   CREATED events result"). A mail read, moved away or deleted gives no event.
 * - `mail`: the folder's message delta ("message: delta"): CREATED, UPDATED, DELETED.
 * - `calendar`: a calendar's calendarView delta (the poller supplies the window): the default calendar's
 *   `/me/calendarView/delta` ("event: delta"), or a picked calendar's `/me/calendars/{id}/calendarView/delta`
 *   ("Get incremental changes to events in a calendar view": a calendar view of the default calendar "or some other
 *   specified calendar", each calendar tracked on its own).
 * - `contacts`: `/contacts` with `$filter=lastModifiedDateTime ge ${gmtDate:...}` ("List contacts"): Graph's contact
 *   delta needs a contact folder id (graph-limits.ts); a filter cannot see deletions.
 * - `files`: drive delta of the root or of a folder ("driveItem: delta"; a folder below the root is tracked by
 *   OneDrive for Business and SharePoint only, `reference/graph.md` §11.5).
 *
 * Pure: no Graph request; ids are the pickers' answers (core/graph/browse `isSafeId`).
 */
import { ConfigurationError } from '../errors';
import { isSafeId } from '../graph/browse';

export const WATCH_PRESETS = ['newMail', 'mail', 'calendar', 'contacts', 'files'] as const;
export type WatchPreset = (typeof WATCH_PRESETS)[number];
/** What the dialog offers: the presets, and `advanced` (the configuration JSON as written). */
export type Watch = WatchPreset | 'advanced';

/** Which picker a preset takes its target from (`undefined`: none). */
export type PresetTarget = 'mailFolder' | 'calendar' | 'driveFolder';
export const PRESET_TARGET: Record<WatchPreset, PresetTarget | undefined> = {
  newMail: 'mailFolder',
  mail: 'mailFolder',
  calendar: 'calendar',
  contacts: undefined,
  files: 'driveFolder',
};

/** Default target of the mail presets: the Inbox (well-known folder name, "mailFolder resource type"). */
export const DEFAULT_MAIL_FOLDER = 'inbox';

const SINCE_LAST_POLL = "${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}";

export function isWatchPreset(value: unknown): value is WatchPreset {
  return typeof value === 'string' && (WATCH_PRESETS as readonly string[]).includes(value);
}

function target(value: string | undefined, where: string): string | undefined {
  const id = (value ?? '').trim();
  if (!id) return undefined;
  if (!isSafeId(id)) throw new ConfigurationError(where, `${JSON.stringify(id.slice(0, 60))} is not a Graph id`);
  return id;
}

/**
 * The `configuration` object of a preset. `watchTarget`: a mail folder id (default the Inbox) for the mail presets, a
 * calendar id (default the default calendar) for `calendar`, a drive folder item id (default the drive's root) for
 * `files`; ignored by `contacts`.
 */
export function presetConfiguration(watch: WatchPreset, watchTarget?: string): Record<string, Record<string, unknown>> {
  switch (watch) {
    case 'newMail': {
      const folder = target(watchTarget, 'watchTarget') ?? DEFAULT_MAIL_FOLDER;
      return {
        messages: {
          url: `/me/mailFolders/${folder}/messages?$filter=receivedDateTime ge ${SINCE_LAST_POLL}`,
          idField: 'id',
          filterByUpdatedDate: false,
          datesConfiguration: { updatedDateField: 'receivedDateTime', createdDateField: 'receivedDateTime' },
        },
      };
    }
    case 'mail': {
      const folder = target(watchTarget, 'watchTarget') ?? DEFAULT_MAIL_FOLDER;
      return { messages: { url: `/me/mailFolders/${folder}/messages/delta`, idField: 'id' } };
    }
    case 'calendar': {
      const calendar = target(watchTarget, 'watchTarget');
      return { events: { url: calendar ? `/me/calendars/${calendar}/calendarView/delta` : '/me/calendarView/delta', idField: 'id' } };
    }
    case 'contacts':
      return {
        contacts: {
          url: `/me/contacts?$filter=lastModifiedDateTime ge ${SINCE_LAST_POLL}`,
          idField: 'id',
          datesConfiguration: { updatedDateField: 'lastModifiedDateTime', createdDateField: 'createdDateTime' },
        },
      };
    case 'files': {
      const folder = target(watchTarget, 'watchTarget');
      return { driveItems: { url: folder ? `/me/drive/items/${folder}/delta` : '/me/drive/root/delta', idField: 'id' } };
    }
    default:
      throw new ConfigurationError('watch', `${JSON.stringify(String(watch))} is not a preset: ${WATCH_PRESETS.join(', ')} or advanced`);
  }
}

/** The configuration as the node stores it (`configuration` property): pretty JSON, as the dialog shows it. */
export function presetConfigurationText(watch: WatchPreset, watchTarget?: string): string {
  return JSON.stringify(presetConfiguration(watch, watchTarget), null, 2);
}
