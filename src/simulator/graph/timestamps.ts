/**
 * Dates as Microsoft Graph writes them, per resource (`reference/graph.md` §11.1, values from Microsoft's own
 * examples). The simulator stores times in milliseconds; these functions give each property the precision and form
 * its documentation page shows, never finer (a client that works on milliseconds here would break on Graph):
 * - "Get message" / "Get contact" / "Get driveItem": `createdDateTime`, `lastModifiedDateTime`, `receivedDateTime`,
 *   `sentDateTime` in whole seconds, `2018-09-09T03:15:05Z` (`wholeSecondIso`);
 * - "Create event" (`user-post-events`): event `createdDateTime` / `lastModifiedDateTime` with 1 to 7 fraction digits,
 *   trailing zeros dropped, `2017-04-15T03:00:50.7579581Z` (`ticksIso(ms, { trimZeros: true })`);
 * - "Create subscription": `expirationDateTime` with 7 digits, `2016-11-20T18:23:45.9356913Z` (`ticksIso(ms)`);
 * - "Get incremental changes to events in a calendar view" (`delta-query-events`): `start` / `end` as
 *   `dateTimeTimeZone`, `{"dateTime": "2016-12-09T20:30:00.0000000", "timeZone": "UTC"}` (`dateTimeTimeZone`).
 */

/** `2026-12-02T17:18:53Z`: the second the instant falls in (truncated, as a stored whole-second value is). */
export function wholeSecondIso(ms: number): string {
  return `${new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19)}Z`;
}

/**
 * Seven fraction digits (100-ns ticks, as .NET writes DateTimeOffset): the milliseconds, then four sub-millisecond
 * digits that are never all zero (Graph's values carry real ticks, so a client cannot count on millisecond-aligned
 * values). `trimZeros` drops trailing zeros as event dates do. The value read back with `Date.parse` is `ms`.
 */
export function ticksIso(ms: number, options: { trimZeros?: boolean } = {}): string {
  const base = new Date(ms).toISOString().slice(0, 23); // yyyy-mm-ddThh:mm:ss.SSS
  const sub = String(1 + Math.floor(Math.random() * 9999)).padStart(4, '0');
  let fraction = `${base.slice(20)}${sub}`;
  if (options.trimZeros) fraction = fraction.replace(/0+$/, '');
  return `${base.slice(0, 19)}.${fraction}Z`;
}

/** `dateTimeTimeZone` in UTC: local date time with seven zero fraction digits and no `Z`, the zone beside it. */
export function dateTimeTimeZone(ms: number): { dateTime: string; timeZone: string } {
  return { dateTime: `${new Date(ms).toISOString().slice(0, 23)}0000`, timeZone: 'UTC' };
}
