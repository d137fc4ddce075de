/**
 * Simulated Outlook calendar: events of the default calendar in Graph's `event` shape (`start`/`end` as
 * `{dateTime, timeZone: "UTC"}`), new changeKey on every update. Recurring series ("Schedule repeating appointments
 * as recurring events in Outlook", "patternedRecurrence resource type"): a `seriesMaster` with a `recurrence`
 * (daily or weekly; an end date, a number of occurrences or no end), expanded into occurrences whose ids are derived
 * from the master's id and their start; an edited occurrence becomes an `exception` (a stored event of its own, with
 * the occurrence's id); a deleted or cancelled occurrence is remembered by its start (`reference/graph.md` §11.2).
 */
import type { DayOfWeek, Event, PatternedRecurrence } from '@microsoft/microsoft-graph-types';
import { changeKey, guid } from './ids';
import { dateTimeTimeZone, ticksIso } from './timestamps';

const DAY = 86_400_000;
const DAYS: DayOfWeek[] = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

/** A series' repetition, as the control API takes it. Neither `endDate` nor `numberOfOccurrences`: no end. */
export interface RecurrenceInput {
  type: 'daily' | 'weekly';
  /** Every `interval` days or weeks; default 1. */
  interval?: number;
  /** Weekly: the days; default the start's weekday. */
  daysOfWeek?: DayOfWeek[];
  /** `YYYY-MM-DD`: the last day an occurrence may fall on (range `endDate`). */
  endDate?: string;
  /** Range `numbered`. */
  numberOfOccurrences?: number;
}

export interface EventInput {
  subject?: string;
  body?: string;
  /** ISO times; default: one hour starting at the next full hour. */
  start?: string;
  end?: string;
  location?: string;
  isAllDay?: boolean;
  attendees?: string[];
  /** Makes the event a series master. */
  recurrence?: RecurrenceInput;
}

export type EventPatch = Partial<Omit<EventInput, 'recurrence'>> & { isCancelled?: boolean };

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
  const event: SimEvent = {
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
  if (input.recurrence) {
    event.type = 'seriesMaster';
    event.recurrence = patternedRecurrence(input.recurrence, Date.parse(start));
  }
  return event;
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

/** Checks a control-API `recurrence`; throws an Error naming the bad field. */
export function parseRecurrenceInput(value: unknown): RecurrenceInput {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error("Field 'recurrence' must be an object.");
  const r = value as Record<string, unknown>;
  for (const key of Object.keys(r)) {
    if (!['type', 'interval', 'daysOfWeek', 'endDate', 'numberOfOccurrences'].includes(key)) throw new Error(`Unknown field 'recurrence.${key}'.`);
  }
  if (r.type !== 'daily' && r.type !== 'weekly') throw new Error("Field 'recurrence.type' must be 'daily' or 'weekly'.");
  if (r.interval !== undefined && !(Number.isInteger(r.interval) && (r.interval as number) >= 1 && (r.interval as number) <= 99)) throw new Error("Field 'recurrence.interval' must be an integer from 1 to 99.");
  if (r.daysOfWeek !== undefined && !(Array.isArray(r.daysOfWeek) && r.daysOfWeek.length > 0 && r.daysOfWeek.every((d) => DAYS.includes(d as DayOfWeek)))) {
    throw new Error("Field 'recurrence.daysOfWeek' must list days ('monday', ...).");
  }
  if (r.endDate !== undefined && !(typeof r.endDate === 'string' && /^\d{4}-\d\d-\d\d$/.test(r.endDate) && !Number.isNaN(Date.parse(r.endDate)))) throw new Error("Field 'recurrence.endDate' must be a date (YYYY-MM-DD).");
  if (r.numberOfOccurrences !== undefined && !(Number.isInteger(r.numberOfOccurrences) && (r.numberOfOccurrences as number) >= 1)) throw new Error("Field 'recurrence.numberOfOccurrences' must be a positive integer.");
  if (r.endDate !== undefined && r.numberOfOccurrences !== undefined) throw new Error("Give 'recurrence.endDate' or 'recurrence.numberOfOccurrences', not both.");
  return r as unknown as RecurrenceInput;
}

/** Graph's `patternedRecurrence` for a series whose first occurrence starts at `startMs` (UTC). */
function patternedRecurrence(input: RecurrenceInput, startMs: number): PatternedRecurrence {
  const startDate = new Date(startMs).toISOString().slice(0, 10);
  const daysOfWeek = input.type === 'weekly' ? input.daysOfWeek ?? [DAYS[new Date(startMs).getUTCDay()]] : [];
  const rangeType = input.endDate ? 'endDate' : input.numberOfOccurrences ? 'numbered' : 'noEnd';
  return {
    pattern: { type: input.type, interval: input.interval ?? 1, month: 0, dayOfMonth: 0, daysOfWeek, firstDayOfWeek: 'sunday', index: 'first' },
    range: { type: rangeType, startDate, endDate: input.endDate ?? '0001-01-01', recurrenceTimeZone: 'UTC', numberOfOccurrences: input.numberOfOccurrences ?? 0 },
  };
}

/**
 * Start times (ms) of a series' occurrences that overlap `[fromMs, toMs)`, in order (cancelled ones included: the
 * caller drops them). Daily: every `interval` days from the range start; weekly: the listed days of every
 * `interval`-th week (weeks start on `firstDayOfWeek`, Sunday), from the range start.
 */
export function occurrenceStarts(master: Event, fromMs: number, toMs: number): number[] {
  const pattern = master.recurrence?.pattern;
  const range = master.recurrence?.range;
  if (!pattern || !range) return [];
  const firstStart = eventTimeMs(master.start);
  const duration = eventTimeMs(master.end) - firstStart;
  const timeOfDay = ((firstStart % DAY) + DAY) % DAY;
  const rangeStart = Date.parse(`${range.startDate}T00:00:00Z`);
  const lastDay = range.type === 'endDate' && range.endDate ? Date.parse(`${range.endDate}T00:00:00Z`) : Infinity;
  const maxCount = range.type === 'numbered' ? range.numberOfOccurrences ?? 0 : Infinity;
  const interval = Math.max(1, pattern.interval ?? 1);
  const out: number[] = [];
  let count = 0;
  const consider = (day: number): boolean => {
    // false: the series is over (or past the window)
    if (day > lastDay || count >= maxCount) return false;
    const start = day + timeOfDay;
    if (start >= toMs) return false;
    count += 1;
    if (start + duration > fromMs) out.push(start);
    return true;
  };
  if (pattern.type === 'daily') {
    for (let day = rangeStart; consider(day); day += interval * DAY);
    return out;
  }
  const days = new Set((pattern.daysOfWeek ?? []).map((d) => DAYS.indexOf(d)));
  const firstWeek = rangeStart - new Date(rangeStart).getUTCDay() * DAY;
  for (let week = firstWeek; ; week += interval * 7 * DAY) {
    for (let d = 0; d < 7; d++) {
      const day = week + d * DAY;
      if (day < rangeStart || !days.has(d)) continue;
      if (!consider(day)) return out;
    }
  }
}

/**
 * The id of an occurrence: the master's id with the occurrence's start folded in (Outlook derives occurrence ids from
 * the master's and the instance's date), so any occurrence can be addressed without storing it.
 */
export function occurrenceId(masterId: string, startMs: number): string {
  const time = Buffer.alloc(8);
  time.writeBigInt64BE(BigInt(startMs));
  return `${masterId.replace(/AAA=$/, '')}ABEA${time.toString('base64url')}AAA=`;
}

/** The master id and start of an occurrence id, or undefined when `id` is not one. */
export function parseOccurrenceId(id: string): { masterId: string; startMs: number } | undefined {
  const match = /^(.+)ABEA([\w-]{11})AAA=$/.exec(id);
  if (!match) return undefined;
  const startMs = Number(Buffer.from(match[2], 'base64url').readBigInt64BE());
  return Number.isFinite(startMs) ? { masterId: `${match[1]}AAA=`, startMs } : undefined;
}

/**
 * An occurrence as calendarView delta returns it (`reference/graph.md` §11.2, several reports 2017–2023): only
 * `@odata.type`, `@odata.etag`, `id`, `type`, `seriesMasterId`, `start`, `end`. No subject, no dates of change.
 */
export function occurrenceStub(master: SimEvent, startMs: number): Record<string, unknown> {
  const duration = eventTimeMs(master.end) - eventTimeMs(master.start);
  return {
    '@odata.type': '#microsoft.graph.event',
    '@odata.etag': master['@odata.etag'],
    id: occurrenceId(master.id!, startMs),
    type: 'occurrence',
    seriesMasterId: master.id,
    start: dateTimeTimeZone(startMs),
    end: dateTimeTimeZone(startMs + duration),
  };
}

/** An occurrence in full ("List calendarView", "Get event" on an occurrence id): the master's fields at its time. */
export function occurrenceEvent(master: SimEvent, startMs: number): SimEvent {
  const duration = eventTimeMs(master.end) - eventTimeMs(master.start);
  const id = occurrenceId(master.id!, startMs);
  return {
    ...master,
    id,
    type: 'occurrence',
    seriesMasterId: master.id,
    recurrence: null,
    originalStart: new Date(startMs).toISOString().replace('.000Z', 'Z'),
    start: dateTimeTimeZone(startMs),
    end: dateTimeTimeZone(startMs + duration),
    webLink: `https://outlook.office365.com/owa/?itemid=${encodeURIComponent(id)}&exvsurl=1&path=/calendar/item`,
  };
}

/** An occurrence edited for the first time: it becomes an `exception`, with the occurrence's id, then `patch`. */
export function buildException(master: SimEvent, startMs: number, patch: EventPatch, nowIso: string): SimEvent {
  const exception: SimEvent = { ...occurrenceEvent(master, startMs), type: 'exception', createdDateTime: nowIso };
  return patchEvent(exception, patch, nowIso);
}
