/**
 * The poller's `configuration` (CONTRACT "ms365-poller", `reference/open-connectors.md` §3.1): an object or the same
 * as an escaped string, `{ "<objectType>": { url, idField, datesConfiguration, pollDelay, ... } }`; both key
 * spellings (`updatedDate*` / `updatedAt*`, `createdDate*` / `createdAt*`); hub URLs translated to Graph
 * (`translateHubUrl`); `/me/` rewritten for app-only connectors; defaults per element key when empty.
 */
import { ConfigurationError } from '../errors';
import type { ElementKey } from '../elements';
import { translateHubUrl } from './hub-url';
import { checkGraphLimits } from './graph-limits';
import { validateJavaPattern, resolveZone, MILLISECONDS_FORMAT } from '../dates/java-pattern';
import { validateUrlMacros } from '../dates/url-macros';

export interface DatesConfiguration {
  updatedField?: string;
  updatedFormat?: string;
  updatedZone?: string;
  createdField?: string;
  createdFormat?: string;
  createdZone?: string;
}

export interface ResourceConfig {
  objectType: string;
  /** Graph path relative to graphBaseUrl (macros still in place for filter mode). */
  url: string;
  mode: 'filter' | 'delta';
  idField: string;
  dates: DatesConfiguration;
  /** Seconds subtracted from the last poll's start when rendering macros (Open Connectors `pollDelay`). */
  pollDelay: number;
  /** Seconds within which created and updated dates count as equal (CREATED). */
  createdCheckTolerance: number;
  pageSize: number;
  filterByUpdatedDate: boolean;
  filterByCurrentDate: boolean;
  /** Zone for macros and zone-less dates. */
  timezone: string;
}

export interface PollerConfigContext {
  elementKey: ElementKey;
  /** Node's `timezone` (default UTC). */
  timezone: string;
  /** `/me` or `/users/{id}` (client credentials). */
  mePath: string;
}

/** Default resources per element key (issue 4): a poller works with an empty configuration. */
export function defaultResources(elementKey: ElementKey): Record<string, Record<string, unknown>> {
  switch (elementKey) {
    case 'outlookemail':
      return { messages: { url: '/me/mailFolders/inbox/messages/delta', idField: 'id' } };
    case 'onedrivev2':
      return { driveItems: { url: '/me/drive/root/delta', idField: 'id' } };
    default:
      return { events: { url: '/me/calendarView/delta', idField: 'id' } };
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function bool(value: unknown, fallback: boolean): boolean {
  if (value === undefined || value === null || value === '') return fallback;
  return value === true || String(value).toLowerCase() === 'true';
}

function num(value: unknown, fallback: number, where: string): number {
  if (value === undefined || value === null || value === '') return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new ConfigurationError(where, `${JSON.stringify(value)} is not a non-negative number`);
  return n;
}

function pick(dates: Record<string, unknown>, which: 'updated' | 'created', part: 'Field' | 'Format' | 'Timezone'): string | undefined {
  const value = dates[`${which}Date${part}`] ?? dates[`${which}At${part}`];
  return typeof value === 'string' && value ? value : undefined;
}

export function parsePollerConfiguration(input: unknown, ctx: PollerConfigContext): ResourceConfig[] {
  let config: unknown = input;
  if (typeof config === 'string') {
    if (!config.trim()) config = undefined;
    else {
      try {
        config = JSON.parse(config);
      } catch (err) {
        throw new ConfigurationError('configuration', `is not valid JSON: ${(err as Error).message}`);
      }
    }
  }
  if (config === undefined || config === null || (isObject(config) && Object.keys(config).length === 0)) config = defaultResources(ctx.elementKey);
  if (!isObject(config)) throw new ConfigurationError('configuration', 'must be an object of resources: { "messages": { "url": ... } }');
  const timezone = resolveZone(ctx.timezone || 'UTC');
  return Object.entries(config).map(([objectType, spec]) => {
    const where = `configuration.${objectType}`;
    if (!isObject(spec)) throw new ConfigurationError(where, 'must be an object with a "url"');
    if (typeof spec.url !== 'string' || !spec.url.trim()) throw new ConfigurationError(`${where}.url`, 'is missing');
    let translated;
    try {
      translated = translateHubUrl(spec.url, ctx.elementKey);
    } catch (err) {
      throw new ConfigurationError(`${where}.url`, (err as Error).message.replace(/^url: /, ''));
    }
    const macros = validateUrlMacros(translated.path);
    if (!macros.ok) throw new ConfigurationError(`${where}.url`, macros.error ?? 'invalid macro');
    let url = translated.path;
    if (ctx.mePath !== '/me') url = url.replace(/^\/me(?=\/|\?|$)/i, ctx.mePath);
    const mode = spec.mode === 'delta' || spec.mode === 'filter' ? spec.mode : translated.mode;
    // What Graph cannot serve is refused now, naming the limit (graph-limits.ts), before any request.
    checkGraphLimits({ url: translated.path, original: spec.url, mode }, `${where}.url`);
    const rawDates = isObject(spec.datesConfiguration) ? spec.datesConfiguration : {};
    const dates: DatesConfiguration = {
      updatedField: pick(rawDates, 'updated', 'Field') ?? translated.dateField,
      updatedFormat: pick(rawDates, 'updated', 'Format'),
      updatedZone: pick(rawDates, 'updated', 'Timezone'),
      createdField: pick(rawDates, 'created', 'Field'),
      createdFormat: pick(rawDates, 'created', 'Format'),
      createdZone: pick(rawDates, 'created', 'Timezone'),
    };
    for (const [key, format] of [['updatedDateFormat', dates.updatedFormat], ['createdDateFormat', dates.createdFormat]] as const) {
      if (!format || format === MILLISECONDS_FORMAT) continue;
      const check = validateJavaPattern(format);
      if (!check.ok) throw new ConfigurationError(`${where}.datesConfiguration.${key}`, check.error ?? 'invalid pattern');
    }
    for (const [key, zone] of [['updatedDateTimezone', dates.updatedZone], ['createdDateTimezone', dates.createdZone]] as const) {
      if (!zone) continue;
      try {
        resolveZone(zone);
      } catch (err) {
        throw new ConfigurationError(`${where}.datesConfiguration.${key}`, (err as Error).message);
      }
    }
    return {
      objectType,
      url,
      mode,
      idField: typeof spec.idField === 'string' && spec.idField ? spec.idField : 'id',
      dates,
      pollDelay: num(spec.pollDelay, 0, `${where}.pollDelay`),
      createdCheckTolerance: num(spec.createdCheckTolerance, 2, `${where}.createdCheckTolerance`),
      pageSize: Math.min(1000, Math.max(1, Math.round(num(spec.pageSize, 100, `${where}.pageSize`)))),
      filterByUpdatedDate: bool(spec.filterByUpdatedDate, true),
      filterByCurrentDate: bool(spec.filterByCurrentDate, false),
      timezone,
    };
  });
}
