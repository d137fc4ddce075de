/**
 * Open Connectors `POST /instances` body → a Node-RED flow (issue 7, CONTRACT "Migration from Open Connectors").
 *
 * The body's keys (`reference/open-connectors.md` §3.1, §3.4) map to our nodes as the CONTRACT tables say:
 * connector (`element.key`, `oauth.*`, `name`, `tags`), poller (`event.poller.*`) or webhook-in
 * (`event.vendor.type` webhooks; `microsoftgraph` is webhooks-only, default calendar events, §3.5), callback-out
 * (`event.notification.*`). Every key without an equivalent is listed in `unmapped`; nothing is dropped silently.
 * `providerData.code` is an OAuth code: single-use, so it is never reused and the flow asks for a sign-in.
 */
import { createHash } from 'node:crypto';
import { ConfigurationError, Ms365Error } from '../errors';
import { isElementKey, type ElementKey } from '../elements';
import { listUrlMacros } from '../dates/url-macros';
import { resolveZone, validateJavaPattern } from '../dates/java-pattern';
import { translateHubUrl } from './hub-url';

export interface ImportOptions {
  /** Point the connector somewhere else than Microsoft (national cloud, the simulator). */
  authorityHost?: string;
  graphBaseUrl?: string;
  tenant?: string;
  /** Override the grant (e.g. `client_credentials` with `userId` for an unattended test). */
  grantType?: 'authorization_code' | 'client_credentials';
  userId?: string;
  /** Public base URL for a webhook-in's `notificationUrl`. */
  notificationUrl?: string;
}

export type FlowNode = Record<string, unknown> & { id: string; type: string };

export interface ImportResult {
  flow: FlowNode[];
  /** Instance settings that have no equivalent in the flow (`configuration.<key>` or top-level key). */
  unmapped: string[];
  /** Things the user must do or know (sign in, empty callback URL, ...). */
  warnings: string[];
}

/** JSON.parse with an error that says where: line and column (1-based) and what was found there. */
export function parseJsonWithPosition(text: string, what = 'instance JSON'): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const offset = jsonErrorOffset(text);
    const before = text.slice(0, offset).split('\n');
    const line = before.length;
    const column = before[before.length - 1].length + 1;
    // Never quote a secret's value back (the error reaches a terminal, a log or the editor).
    const secretValue = /(secret|signature\.key|code|token|password)"\s*:\s*$/i.test(before[before.length - 1]);
    const found =
      offset >= text.length ? 'end of input' : secretValue ? 'the value of a secret' : JSON.stringify(text.slice(offset, offset + 20).split('\n')[0]);
    const reason = message
      .replace(/\s*in JSON at position \d+.*$/s, '')
      .replace(/\s*\(line \d+ column \d+\)/, '')
      // V8 quotes the text around the error ("..."x": y"... is not valid JSON): our own "near" replaces it.
      .replace(/,\s*(\.\.\.)?"[\s\S]*$/, '');
    throw new Ms365Error('invalid_json', `invalid ${what} at line ${line}, column ${column} (near ${found}): ${reason}`);
  }
}

/**
 * Offset of the first syntax error in `text` (Node 20's JSON.parse messages do not always carry a position).
 * A small recursive-descent scan of the JSON grammar; only called after JSON.parse has failed.
 */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i += 1;
  };
  const fail = (): never => {
    throw i;
  };
  const literal = (word: string) => {
    if (text.startsWith(word, i)) i += word.length;
    else fail();
  };
  const string = () => {
    if (text[i] !== '"') fail();
    i += 1;
    while (i < text.length && text[i] !== '"') {
      if (text[i] === '\\') i += 1;
      else if (text.charCodeAt(i) < 0x20) fail();
      i += 1;
    }
    if (i >= text.length) fail();
    i += 1;
  };
  const number = () => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (!m) fail();
    i += (m as RegExpExecArray)[0].length;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i += 1;
      ws();
      if (text[i] === '}') {
        i += 1;
        return;
      }
      for (;;) {
        ws();
        string();
        ws();
        if (text[i] !== ':') fail();
        i += 1;
        value();
        ws();
        if (text[i] === ',') i += 1;
        else if (text[i] === '}') {
          i += 1;
          return;
        } else fail();
      }
    } else if (c === '[') {
      i += 1;
      ws();
      if (text[i] === ']') {
        i += 1;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i] === ',') i += 1;
        else if (text[i] === ']') {
          i += 1;
          return;
        } else fail();
      }
    } else if (c === '"') string();
    else if (c === 't') literal('true');
    else if (c === 'f') literal('false');
    else if (c === 'n') literal('null');
    else number();
  };
  try {
    value();
    ws();
    return i < text.length ? i : text.length;
  } catch (offset) {
    return typeof offset === 'number' ? offset : 0;
  }
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Open Connectors booleans are often strings (`"true"`). */
function truthy(value: unknown): boolean {
  return value === true || (typeof value === 'string' && value.trim().toLowerCase() === 'true');
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value);
}

/** Legacy `event.poller.urls` lines (`resource|url|xpath|updatedField|updatedFormat|updatedTZ|createdField|createdFormat|createdTZ`), §3.4. */
export function legacyPollerUrls(text: string): Json {
  const config: Json = {};
  text.split(/\r?\n/).forEach((line, index) => {
    if (!line.trim()) return;
    const parts = line.split('|');
    if (parts.length < 2 || !parts[0].trim() || !parts[1].trim()) {
      throw new ConfigurationError('event.poller.urls', `line ${index + 1} is not "resource|url|...": ${JSON.stringify(line)}`);
    }
    const [resource, url, , updField, updFormat, updZone, crField, crFormat, crZone] = parts.map((p) => p.trim());
    const dates: Json = {};
    if (updField) Object.assign(dates, { updatedDateField: updField, updatedDateFormat: updFormat || undefined, updatedDateTimezone: updZone || undefined });
    if (crField) Object.assign(dates, { createdDateField: crField, createdDateFormat: crFormat || undefined, createdDateTimezone: crZone || undefined });
    config[resource] = { url, idField: 'id', ...(Object.keys(dates).length ? { datesConfiguration: JSON.parse(JSON.stringify(dates)) } : {}) };
  });
  return config;
}

const MAPPED_CONFIGURATION_KEYS = new Set([
  'oauth.api.key',
  'oauth.api.secret',
  'oauth.scope',
  'oauth.callback.url',
  'event.notification.enabled',
  'event.notification.callback.url',
  'event.notification.signature.key',
  'event.vendor.type',
  'event.poller.refresh_interval',
  'event.poller.configuration',
  'event.poller.urls',
]);

/** Import one Open Connectors instance body (JSON text) into flow JSON. */
export function importInstance(jsonText: string, options: ImportOptions = {}): ImportResult {
  const body = parseJsonWithPosition(jsonText);
  if (!isObject(body)) throw new ConfigurationError('instance', 'the instance body must be a JSON object');
  const element = body.element;
  const elementKey = isObject(element) ? element.key : undefined;
  if (!isElementKey(elementKey)) {
    throw new ConfigurationError(
      'element.key',
      `${elementKey === undefined ? 'missing' : JSON.stringify(elementKey)}: expected one of microsoftgraph, office365, outlookemail, onedrivev2`,
    );
  }
  const configuration = body.configuration === undefined ? {} : body.configuration;
  if (!isObject(configuration)) throw new ConfigurationError('configuration', 'must be a JSON object');

  const unmapped: string[] = [];
  const warnings: string[] = [];
  for (const key of Object.keys(configuration)) if (!MAPPED_CONFIGURATION_KEYS.has(key)) unmapped.push(`configuration.${key}`);
  for (const key of Object.keys(body)) {
    if (!['element', 'configuration', 'name', 'tags', 'providerData'].includes(key)) unmapped.push(key);
  }
  if (isObject(body.providerData)) {
    for (const key of Object.keys(body.providerData)) if (key !== 'code') unmapped.push(`providerData.${key}`);
    if (str(body.providerData.code)) {
      warnings.push('providerData.code is a single-use OAuth code and is not reused: open the connector and press "Sign in with Microsoft".');
    }
  }

  const name = str(body.name) || `${elementKey} instance`;
  const seed = createHash('sha256').update(jsonText).digest('hex');
  const id = (role: string) => createHash('sha256').update(`${seed}:${role}`).digest('hex').slice(0, 16);
  const tab = id('tab');
  const tags = Array.isArray(body.tags) ? body.tags.map(str).filter(Boolean).join(', ') : str(body.tags);
  const grantType = options.grantType ?? 'authorization_code';

  const connector: FlowNode = {
    id: id('connector'),
    type: 'ms365-connector',
    name,
    elementKey,
    tenant: options.tenant ?? 'common',
    grantType,
    scope: str(configuration['oauth.scope']),
    callbackUrl: str(configuration['oauth.callback.url']),
    authorityHost: options.authorityHost ?? 'https://login.microsoftonline.com',
    graphBaseUrl: options.graphBaseUrl ?? 'https://graph.microsoft.com/v1.0',
    userId: options.userId ?? '',
    tags,
    credentials: { clientId: str(configuration['oauth.api.key']), clientSecret: str(configuration['oauth.api.secret']) },
  };
  if (!str(configuration['oauth.api.key'])) warnings.push('oauth.api.key is empty: enter the client id of your Entra app in the connector.');
  if (grantType === 'authorization_code' && str(configuration['oauth.callback.url'])) {
    warnings.push(
      `oauth.callback.url (${str(configuration['oauth.callback.url'])}) was the platform's redirect URI; register the connector's redirect URI shown in its dialog instead, or keep this one if it reaches Node-RED's ms365-connector/auth/callback.`,
    );
  }

  const vendorType = str(configuration['event.vendor.type']).toLowerCase();
  const hasPollerConfig = configuration['event.poller.configuration'] !== undefined || configuration['event.poller.urls'] !== undefined;
  const useWebhooks = vendorType ? /^webhooks?$/.test(vendorType) : elementKey === 'microsoftgraph' && !hasPollerConfig;
  if (vendorType && !/^(webhooks?|polling)$/.test(vendorType)) {
    throw new ConfigurationError('configuration.event.vendor.type', `${JSON.stringify(vendorType)}: expected "polling" or "webhooks"`);
  }

  const debug: FlowNode = { id: id('debug'), type: 'debug', z: tab, name: `${name} events`, active: true, complete: 'payload', x: 560, y: 100, wires: [] };
  const notificationsEnabled = truthy(configuration['event.notification.enabled']);
  const callbackUrl = str(configuration['event.notification.callback.url']);
  let callback: FlowNode | undefined;
  if (notificationsEnabled && callbackUrl) {
    const key = str(configuration['event.notification.signature.key']);
    callback = {
      id: id('callback'),
      type: 'ms365-callback-out',
      z: tab,
      name: 'Callback',
      url: callbackUrl,
      batchSize: '',
      retries: 5,
      x: 560,
      y: 160,
      wires: [[], []],
      ...(key ? { credentials: { signatureKey: key } } : {}),
    };
  } else if (notificationsEnabled) {
    warnings.push('event.notification.enabled is true but event.notification.callback.url is empty: no ms365-callback-out was added.');
  } else if (callbackUrl) {
    warnings.push('event.notification.callback.url is set but notifications are not enabled: no ms365-callback-out was added.');
  }
  const targets = [debug.id, ...(callback ? [callback.id] : [])];

  let source: FlowNode;
  if (useWebhooks) {
    for (const key of ['event.poller.refresh_interval', 'event.poller.configuration', 'event.poller.urls']) {
      if (configuration[key] !== undefined) unmapped.push(`configuration.${key} (webhook instance)`);
    }
    source = {
      id: id('webhook'),
      type: 'ms365-webhook-in',
      z: tab,
      name: `${name} notifications`,
      connector: connector.id,
      path: `/ms365/${id('path').slice(0, 8)}`,
      notificationUrl: options.notificationUrl ?? '',
      subscriptions: JSON.stringify(defaultSubscriptions(elementKey)),
      fetchResource: true,
      x: 220,
      y: 100,
      wires: [targets, []],
    };
    if (!options.notificationUrl) warnings.push('Set the webhook-in node\'s public HTTPS notification URL (how Microsoft reaches this Node-RED).');
  } else {
    const interval = configuration['event.poller.refresh_interval'];
    const minutes = interval === undefined || str(interval) === '' ? 15 : Number(interval);
    if (!Number.isFinite(minutes) || minutes <= 0) {
      throw new ConfigurationError('configuration.event.poller.refresh_interval', `${JSON.stringify(interval)} is not a positive number of minutes`);
    }
    source = {
      id: id('poller'),
      type: 'ms365-poller',
      z: tab,
      name: `${name} poller`,
      connector: connector.id,
      interval: minutes,
      timezone: 'UTC',
      configuration: pollerConfiguration(configuration, elementKey, warnings),
      pollOnStart: true,
      x: 220,
      y: 100,
      wires: [targets],
    };
  }

  const comment: FlowNode = {
    id: id('comment'),
    type: 'comment',
    z: tab,
    name: `Imported from Open Connectors: ${name}`,
    info: [
      `Element key: ${elementKey}.`,
      grantType === 'authorization_code' ? 'Next: open the connector, check the client id and secret, press "Sign in with Microsoft", then Deploy.' : 'Client credentials: deploy.',
      ...warnings,
      unmapped.length ? `Settings without an equivalent: ${unmapped.join(', ')}.` : '',
    ]
      .filter(Boolean)
      .join('\n\n'),
    x: 220,
    y: 40,
    wires: [],
  };

  const flow: FlowNode[] = [
    { id: tab, type: 'tab', label: name, info: `Imported from an Open Connectors ${elementKey} instance.` },
    comment,
    { ...connector },
    source,
    debug,
    ...(callback ? [callback] : []),
  ];
  return { flow, unmapped, warnings };
}

/** `event.poller.configuration` (object or escaped string) or legacy `event.poller.urls`, as the poller's JSON string. */
function pollerConfiguration(configuration: Json, elementKey: ElementKey, warnings: string[]): string {
  const raw = configuration['event.poller.configuration'];
  const legacy = configuration['event.poller.urls'];
  let config: Json | undefined;
  if (raw !== undefined && raw !== '') {
    const value = typeof raw === 'string' ? parseJsonWithPosition(raw, 'event.poller.configuration') : raw;
    if (!isObject(value)) throw new ConfigurationError('configuration.event.poller.configuration', 'must be a JSON object of resources');
    for (const [resource, spec] of Object.entries(value)) {
      if (!isObject(spec) || typeof spec.url !== 'string' || !spec.url) {
        throw new ConfigurationError(`configuration.event.poller.configuration.${resource}`, 'needs a "url"');
      }
    }
    config = value;
  }
  if (typeof legacy === 'string' && legacy.trim()) {
    // Legacy lines carry a URL in their second field; the later selector is just names joined by `|` (§3.4).
    if (legacy.split(/\r?\n/).some((line) => /^\s*(\/|https?:)/.test(line.split('|')[1] ?? ''))) {
      config = { ...(config ?? {}), ...legacyPollerUrls(legacy) };
    } else if (config) {
      // Later meaning (§3.4): a selector of resource names, separated by `|`, `,` or new lines.
      const names = legacy.split(/[|,\n]/).map((s) => s.trim()).filter(Boolean);
      const selected: Json = {};
      for (const resourceName of names) {
        if (!(resourceName in config)) throw new ConfigurationError('configuration.event.poller.urls', `selects "${resourceName}", which event.poller.configuration does not define`);
        selected[resourceName] = config[resourceName];
      }
      config = selected;
    }
  }
  if (config) checkPollerResources(config, elementKey, warnings);
  return config ? JSON.stringify(config, null, 2) : '';
}

const DATE_FORMAT_KEYS = ['updatedDateFormat', 'updatedAtFormat', 'createdDateFormat', 'createdAtFormat'];
const DATE_ZONE_KEYS = ['updatedDateTimezone', 'updatedAtTimezone', 'createdDateTimezone', 'createdAtTimezone'];

/**
 * Each resource's `url` must translate to Graph (hub URL or Graph path, macros known) and its date formats and
 * zones must be usable: otherwise a ConfigurationError naming `event.poller.configuration.<resource>.<key>`.
 * The URL is kept as written (the poller translates it at run time); pattern warnings (§7: Y, D, u, W) are passed on.
 */
function checkPollerResources(config: Json, elementKey: ElementKey, warnings: string[]): void {
  for (const [resource, spec] of Object.entries(config)) {
    if (!isObject(spec)) continue;
    const where = `configuration.event.poller.configuration.${resource}`;
    try {
      const { path } = translateHubUrl(String(spec.url), elementKey);
      listUrlMacros(path);
    } catch (err) {
      throw new ConfigurationError(`${where}.url`, err instanceof Error ? err.message.replace(/^url: /, '') : String(err));
    }
    const dates = spec.datesConfiguration;
    if (!isObject(dates)) continue;
    for (const key of DATE_FORMAT_KEYS) {
      const format = dates[key];
      if (typeof format !== 'string' || format === '') continue;
      const check = validateJavaPattern(format);
      if (!check.ok) throw new ConfigurationError(`${where}.datesConfiguration.${key}`, check.error ?? 'not a date pattern');
      warnings.push(...check.warnings.map((w) => `${where}.datesConfiguration.${key}: ${w}`));
    }
    for (const key of DATE_ZONE_KEYS) {
      const zone = dates[key];
      if (typeof zone !== 'string' || zone === '') continue;
      try {
        resolveZone(zone);
      } catch (err) {
        throw new ConfigurationError(`${where}.datesConfiguration.${key}`, err instanceof Error ? err.message : String(err));
      }
    }
  }
}

/** Default subscriptions of an imported webhook instance: `microsoftgraph` watched the default calendar (§3.5). */
function defaultSubscriptions(elementKey: ElementKey): Array<{ resource: string; changeType: string }> {
  switch (elementKey) {
    case 'outlookemail':
      return [{ resource: 'me/messages', changeType: 'created,updated,deleted' }];
    case 'onedrivev2':
      return [{ resource: 'me/drive/root', changeType: 'updated' }];
    default:
      return [{ resource: 'me/events', changeType: 'created,updated,deleted' }];
  }
}
