/**
 * Simulated Outlook calendar: events of the default calendar in Graph's `event` shape (single instances;
 * `start`/`end` as `{dateTime, timeZone: "UTC"}`), new changeKey on every update.
 */
import type { Event } from '@microsoft/microsoft-graph-types';
import { changeKey, guid } from './ids';
import { dateTimeTimeZone, ticksIso } from './timestamps';

export interface EventInput {
  subject?: string;
  body?: string;
  /** ISO times; default: one hour starting at the next full hour. */
  start?: string;
  end?: string;
  location?: string;
  isAllDay?: boolean;
  attendees?: string[];
}

export type EventPatch = Partial<EventInput> & { isCancelled?: boolean };

export type SimEvent = Event & { '@odata.etag': string };

/** Graph's event time format: local date time with 7 fractional digits, zone separately. */
export function graphDateTime(iso: string): { dateTime: string; timeZone: string } {
  return dateTimeTimeZone(Date.parse(iso));
}

/** Milliseconds of an event's start or end (`{dateTime, timeZone: UTC}`). */
export function eventTimeMs(time: { dateTime?: string | null } | null | undefined): number {
  return time?.dateTime ? Date.parse(`${time.dateTime.slice(0, 23)}Z`) : NaN;
}

/**
 * `location` and `locations` as "Create event" answers them: a named place is `locationType` "default" with its name as
 * a private `uniqueId`, and the one entry of `locations`; no place is an empty name and no `locations`.
 */
function eventLocation(displayName: string): Pick<Event, 'location' | 'locations'> {
  if (!displayName) return { location: { displayName: '', locationType: 'default', uniqueIdType: 'unknown' }, locations: [] };
  return {
    location: { displayName, locationType: 'default', uniqueId: displayName, uniqueIdType: 'private' },
    locations: [{ displayName, locationType: 'default', uniqueIdType: 'unknown' }],
  };
}

export function buildEvent(id: string, input: EventInput, nowMs: number, organizer: { name: string; address: string }): SimEvent {
  const key = changeKey();
  const created = ticksIso(nowMs, { trimZeros: true }); // "Create event": 7 digits, trailing zeros dropped
  const start = input.start ?? new Date(Math.ceil(nowMs / 3_600_000) * 3_600_000).toISOString();
  const end = input.end ?? new Date(Date.parse(start) + 3_600_000).toISOString();
  const body = input.body ?? '';
  return {
    '@odata.etag': `W/"${key}"`,
    id,
    createdDateTime: created,
    lastModifiedDateTime: created,
    changeKey: key,
    categories: [],
    originalStartTimeZone: 'UTC',
    originalEndTimeZone: 'UTC',
    iCalUId: `040000008200E00074C5B7101A82E008${guid().replace(/-/g, '')}`,
    reminderMinutesBeforeStart: 15,
    isReminderOn: true,
    hasAttachments: false,
    hideAttendees: false,
    subject: input.subject ?? '',
    bodyPreview: body.slice(0, 255),
    importance: 'normal',
    sensitivity: 'normal',
    isAllDay: input.isAllDay ?? false,
    isCancelled: false,
    isDraft: false,
    isOrganizer: true,
    responseRequested: true,
    seriesMasterId: null,
    transactionId: null,
    showAs: 'busy',
    type: 'singleInstance',
    webLink: `https://outlook.office365.com/owa/?itemid=${encodeURIComponent(id)}&exvsurl=1&path=/calendar/item`,
    // The rest of the "Create event" example's properties (test/fixtures/graph/event-post.json), unset as Graph writes them.
    onlineMeetingUrl: null,
    isOnlineMeeting: false,
    onlineMeetingProvider: 'unknown',
    onlineMeeting: null,
    allowNewTimeProposals: true,
    responseStatus: { response: 'organizer', time: '0001-01-01T00:00:00Z' },
    body: { contentType: 'text', content: body },
    start: graphDateTime(start),
    end: graphDateTime(end),
    ...eventLocation(input.location ?? ''),
    recurrence: null,
    attendees: (input.attendees ?? []).map((address) => ({
      type: 'required',
      status: { response: 'none', time: '0001-01-01T00:00:00Z' },
      emailAddress: { name: address.split('@')[0], address },
    })),
    organizer: { emailAddress: organizer },
  };
}

export function patchEvent(event: SimEvent, patch: EventPatch, nowIso: string): SimEvent {
  const key = changeKey();
  const next: SimEvent = { ...event, '@odata.etag': `W/"${key}"`, changeKey: key, lastModifiedDateTime: nowIso };
  if (patch.subject !== undefined) next.subject = patch.subject;
  if (patch.body !== undefined) {
    next.body = { contentType: 'text', content: patch.body };
    next.bodyPreview = patch.body.slice(0, 255);
  }
  if (patch.start !== undefined) next.start = graphDateTime(patch.start);
  if (patch.end !== undefined) next.end = graphDateTime(patch.end);
  if (patch.location !== undefined) Object.assign(next, eventLocation(patch.location));
  if (patch.isAllDay !== undefined) next.isAllDay = patch.isAllDay;
  if (patch.isCancelled !== undefined) next.isCancelled = patch.isCancelled;
  return next;
}
