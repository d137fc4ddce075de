/**
 * Control API of the simulated tenant, under `/_sim` (JSON; loopback clients only; no auth). Tests, benchmarks
 * and the demo drive the simulated Microsoft Graph with it; the same operations exist in-process on
 * `state.graph` (`store`, `faults`, `requests`) and `state.clock` / `state.accessTokens`.
 *
 * Objects (`{user}` = user id or userPrincipalName; answers are the Graph objects):
 * - `POST   /_sim/users/{user}/messages`            body: MessageInput (`subject`, `body`, `from`, `to`, `cc`, `isRead`,
 *           `importance`, `categories`, `receivedDateTime`, `sentDateTime`, `folder` = well-known name or id) plus
 *           `lateVisibleSeconds` (hidden from `$filter` listings that long, §6 pitfall) → 201 message;
 *           with `count` (1–200000): bulk create → 201 `{created: n}`
 * - `PATCH  /_sim/users/{user}/messages/{id}`       `{subject?, body?, isRead?, importance?, categories?, flag?}` → 200
 * - `DELETE /_sim/users/{user}/messages/{id}`       → 204
 * - `POST   /_sim/users/{user}/messages/{id}/move`  `{destinationId}` (folder id or well-known name) → 201 the moved
 *           message, which has a NEW id (as Outlook: deleted in the source folder, created in the destination)
 * - `POST|PATCH|DELETE /_sim/users/{user}/events[/{id}]`     `{subject, body, start, end, location, isAllDay, attendees, isCancelled}`;
 *           POST also `recurrence: {type: "daily"|"weekly", interval?, daysOfWeek?, endDate? | numberOfOccurrences?}`
 *           (a series master); PATCH/DELETE on an occurrence id edit it into an exception / cancel it
 * - `POST|PATCH|DELETE /_sim/users/{user}/contacts[/{id}]`   `{displayName, givenName, surname, emailAddresses, ...}`
 * - `POST|PATCH|DELETE /_sim/users/{user}/drive/items[/{id}]` `{name, parentId?, folder?: true, content?, mimeType?}`
 *   (each POST also takes `count` for a bulk create of identical objects → 201 `{created: n}`)
 * - `GET    /_sim/users/{user}` → `{id, userPrincipalName, driveId, rootId, calendarId, mailFolders: {inbox: id, ...}}`
 * Faults (`graph/faults.ts`):
 * - `POST   /_sim/faults` `{kind: "throttle"|"unavailable"|"gatewayTimeout"|"delay"|"deltaGone"|"deltaReplay"|
 *           "deltaEmptyPage", count?, method?, path? (regex on path+query), retryAfterSeconds?, delayMs?}` → 201
 * - `POST   /_sim/faults` `{concurrencyLimit: n}` (default 4 per mailbox; 0 = off) → 201
 * - `GET    /_sim/faults` → `{value: [...], concurrencyLimit}`;  `DELETE /_sim/faults` → 204 (limit back to 4)
 * - `POST   /_sim/tokens/expire`, `POST /_sim/tokens/revoke` → 204 (every access token issued so far)
 * - `POST   /_sim/signing-keys/rotate` `{keepOldSeconds?}` (default 86400): the identity platform signs with a new key
 *           from now on, the old one stays in the published key set that long (simulated clock) → 200 `{kid}`
 * - `PUT    /_sim/graph/options` `{driveDeltaLinkStyle: "query"|"function"}`: drive deltaLinks as `delta?token=` (default)
 *           or `delta(token='...')` (§5: both exist); `{calendarSeriesMaster: boolean}`: calendarView delta returns
 *           series masters too (default false, §11.2) → 200 the options
 * Clock and log:
 * - `POST   /_sim/clock` `{advanceMs: n}` or `{set: iso}`, either with `frozen?: boolean` (or `{frozen}` alone): `true` pins
 *           the clock (it stops running, `advanceMs`/`set` move it), `false` lets it run again → 200 `{now, frozen}`;
 *           `GET /_sim/clock` → `{now, frozen}`
 * - `GET    /_sim/requests[?path=regex]` → `{value: [{method, path, status, at, bearer}]}`;  `DELETE /_sim/requests` → 204
 * - `POST   /_sim/reset` → 204: objects, faults, request log, clock and identity state back to the start; emits
 *           'reset' on `state.changes` for the other simulator modules.
 * Errors: 400 `{error: {code: "BadRequest", message}}` for malformed JSON or bad fields, 404 for unknown users or
 * objects, 403 for non-loopback clients.
 */
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { SimState } from './state';
import { UnknownObjectError } from './graph/store';
import { parseRecurrenceInput } from './graph/calendar';
import type { FaultSpec } from './graph/faults';
import { identityOf } from './identity';
import { rotateSigningKey } from './jwt';

type FieldType = 'string' | 'boolean' | 'number' | 'string[]' | 'object';
type Spec = Record<string, FieldType>;

class ControlError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const MESSAGE: Spec = {
  subject: 'string', body: 'string', bodyContentType: 'string', from: 'string', to: 'string[]', cc: 'string[]', isRead: 'boolean',
  isDraft: 'boolean', importance: 'string', categories: 'string[]', receivedDateTime: 'string', sentDateTime: 'string', folder: 'string',
};
const MESSAGE_PATCH: Spec = { subject: 'string', body: 'string', isRead: 'boolean', importance: 'string', categories: 'string[]', flag: 'object' };
const EVENT: Spec = { subject: 'string', body: 'string', start: 'string', end: 'string', location: 'string', isAllDay: 'boolean', attendees: 'string[]', isCancelled: 'boolean' };
const CONTACT: Spec = { displayName: 'string', givenName: 'string', surname: 'string', emailAddresses: 'string[]', businessPhones: 'string[]', companyName: 'string', jobTitle: 'string' };
const DRIVE_ITEM: Spec = { name: 'string', parentId: 'string', folder: 'boolean', content: 'string', mimeType: 'string' };
const FAULT: Spec = { kind: 'string', count: 'number', method: 'string', path: 'string', retryAfterSeconds: 'number', delayMs: 'number', concurrencyLimit: 'number' };

function typeOk(value: unknown, type: FieldType): boolean {
  if (type === 'string[]') return Array.isArray(value) && value.every((v) => typeof v === 'string');
  if (type === 'object') return value !== null && typeof value === 'object' && !Array.isArray(value);
  return typeof value === type;
}

/** Checks a JSON body against a field spec (extra allowed keys in `extra`); 400 with the field named otherwise. */
function fields<T>(body: unknown, spec: Spec, extra: Spec = {}): T {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new ControlError(400, 'The body must be a JSON object.');
  const all = { ...spec, ...extra };
  for (const [key, value] of Object.entries(body)) {
    const type = all[key];
    if (!type) throw new ControlError(400, `Unknown field '${key}'; allowed: ${Object.keys(all).join(', ')}.`);
    if (!typeOk(value, type)) throw new ControlError(400, `Field '${key}' must be ${type}.`);
  }
  for (const key of ['receivedDateTime', 'sentDateTime', 'start', 'end']) {
    const value = (body as Record<string, unknown>)[key];
    if (key in all && typeof value === 'string' && Number.isNaN(Date.parse(value))) throw new ControlError(400, `Field '${key}' must be an ISO date.`);
  }
  return body as T;
}

/** Bulk creation for benchmarks: `count` must be an integer from 1 to 200,000. */
function bulk(count: unknown, create: () => unknown): number {
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > 200_000) {
    throw new ControlError(400, "Field 'count' must be an integer from 1 to 200000.");
  }
  for (let i = 0; i < count; i++) create();
  return count;
}

function isLoopback(address: string | undefined): boolean {
  return !!address && (address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.'));
}

export function registerControl(app: Express, state: SimState): void {
  const router = express.Router();
  const store = state.graph.store;
  router.use((req: Request, res: Response, next: NextFunction) => {
    if (!isLoopback(req.socket.remoteAddress)) {
      res.status(403).json({ error: { code: 'Forbidden', message: 'The control API answers loopback clients only.' } });
      return;
    }
    next();
  });
  router.use(express.json({ limit: '1mb' }));

  const handle = (fn: (req: Request, res: Response) => void) => (req: Request, res: Response, next: NextFunction) => {
    try {
      fn(req, res);
    } catch (err) {
      next(err);
    }
  };
  const userId = (req: Request): string => {
    const user = state.findUser(String(req.params.user));
    if (!user) throw new ControlError(404, `Unknown user '${req.params.user}'.`);
    return user.id;
  };

  router.get('/users/:user', handle((req, res) => {
    const data = store.user(userId(req));
    const mailFolders: Record<string, string> = {};
    for (const folder of data.folders.values()) mailFolders[folder.wellKnownName] = folder.id;
    res.json({ id: data.user.id, userPrincipalName: data.user.userPrincipalName, driveId: data.driveId, rootId: data.rootId, calendarId: data.calendarId, mailFolders });
  }));

  // messages
  router.post('/users/:user/messages', handle((req, res) => {
    const body = fields<Record<string, unknown>>(req.body, MESSAGE, { lateVisibleSeconds: 'number', count: 'number' });
    const { lateVisibleSeconds, count, ...input } = body as { lateVisibleSeconds?: number; count?: number };
    const id = userId(req);
    if (count !== undefined) {
      if (!Number.isInteger(count) || count < 1 || count > 200_000) throw new ControlError(400, "Field 'count' must be an integer from 1 to 200000.");
      res.status(201).json({ created: store.createMessages(id, count, input) });
      return;
    }
    if (lateVisibleSeconds !== undefined && !(lateVisibleSeconds >= 0)) throw new ControlError(400, "Field 'lateVisibleSeconds' must be ≥ 0.");
    res.status(201).json(store.createMessage(id, input, { lateVisibleSeconds }));
  }));
  router.patch('/users/:user/messages/:id', handle((req, res) => {
    res.json(store.updateMessage(userId(req), String(req.params.id), fields(req.body, MESSAGE_PATCH)));
  }));
  router.post('/users/:user/messages/:id/move', handle((req, res) => {
    const body = fields<{ destinationId?: string }>(req.body, { destinationId: 'string' });
    if (!body.destinationId) throw new ControlError(400, "Field 'destinationId' (folder id or well-known name) is required.");
    res.status(201).json(store.moveMessage(userId(req), String(req.params.id), body.destinationId));
  }));
  router.delete('/users/:user/messages/:id', handle((req, res) => {
    store.deleteMessage(userId(req), String(req.params.id));
    res.status(204).end();
  }));

  // events
  router.post('/users/:user/events', handle((req, res) => {
    const { count, ...input } = fields<Record<string, unknown>>(req.body, EVENT, { count: 'number', recurrence: 'object' });
    const id = userId(req);
    if (input.recurrence !== undefined) {
      try {
        input.recurrence = parseRecurrenceInput(input.recurrence);
      } catch (err) {
        throw new ControlError(400, (err as Error).message);
      }
    }
    if (count === undefined) {
      res.status(201).json(store.createEvent(id, input));
      return;
    }
    res.status(201).json({ created: bulk(count, () => store.createEvent(id, input)) });
  }));
  router.patch('/users/:user/events/:id', handle((req, res) => {
    res.json(store.updateEvent(userId(req), String(req.params.id), fields(req.body, EVENT)));
  }));
  router.delete('/users/:user/events/:id', handle((req, res) => {
    store.deleteEvent(userId(req), String(req.params.id));
    res.status(204).end();
  }));

  // contacts
  router.post('/users/:user/contacts', handle((req, res) => {
    const { count, ...input } = fields<Record<string, unknown>>(req.body, CONTACT, { count: 'number' });
    const id = userId(req);
    if (count === undefined) {
      res.status(201).json(store.createContact(id, input));
      return;
    }
    res.status(201).json({ created: bulk(count, () => store.createContact(id, input)) });
  }));
  router.patch('/users/:user/contacts/:id', handle((req, res) => {
    res.json(store.updateContact(userId(req), String(req.params.id), fields(req.body, CONTACT)));
  }));
  router.delete('/users/:user/contacts/:id', handle((req, res) => {
    store.deleteContact(userId(req), String(req.params.id));
    res.status(204).end();
  }));

  // drive items
  router.post('/users/:user/drive/items', handle((req, res) => {
    const { count, ...input } = fields<Record<string, unknown>>(req.body, DRIVE_ITEM, { count: 'number' });
    const id = userId(req);
    if (count === undefined) {
      res.status(201).json(store.createDriveItem(id, input));
      return;
    }
    res.status(201).json({ created: bulk(count, () => store.createDriveItem(id, input)) });
  }));
  router.patch('/users/:user/drive/items/:id', handle((req, res) => {
    res.json(store.updateDriveItem(userId(req), String(req.params.id), fields(req.body, { name: 'string', content: 'string' })));
  }));
  router.delete('/users/:user/drive/items/:id', handle((req, res) => {
    store.deleteDriveItem(userId(req), String(req.params.id));
    res.status(204).end();
  }));

  // faults and tokens
  router.post('/faults', handle((req, res) => {
    const body = fields<FaultSpec & { concurrencyLimit?: number }>(req.body, FAULT);
    if (body.concurrencyLimit !== undefined) {
      if (!Number.isInteger(body.concurrencyLimit) || body.concurrencyLimit < 0) throw new ControlError(400, "Field 'concurrencyLimit' must be a non-negative integer.");
      state.graph.faults.concurrencyLimit = body.concurrencyLimit;
      if (body.kind === undefined) {
        res.status(201).json({ concurrencyLimit: body.concurrencyLimit });
        return;
      }
    }
    const { concurrencyLimit: _c, ...spec } = body;
    try {
      state.graph.faults.add(spec);
    } catch (err) {
      throw new ControlError(400, (err as Error).message);
    }
    res.status(201).json({ value: state.graph.faults.list() });
  }));
  router.put('/graph/options', handle((req, res) => {
    const body = fields<{ driveDeltaLinkStyle?: string; calendarSeriesMaster?: boolean }>(req.body, { driveDeltaLinkStyle: 'string', calendarSeriesMaster: 'boolean' });
    if (body.calendarSeriesMaster !== undefined) state.graph.calendarSeriesMaster = body.calendarSeriesMaster;
    if (body.driveDeltaLinkStyle !== undefined) {
      if (body.driveDeltaLinkStyle !== 'query' && body.driveDeltaLinkStyle !== 'function') throw new ControlError(400, "Field 'driveDeltaLinkStyle' must be 'query' or 'function'.");
      state.graph.driveDeltaLinkStyle = body.driveDeltaLinkStyle;
    }
    res.json({ driveDeltaLinkStyle: state.graph.driveDeltaLinkStyle, calendarSeriesMaster: state.graph.calendarSeriesMaster });
  }));
  router.get('/faults', (_req, res) => {
    res.json({ value: state.graph.faults.list(), concurrencyLimit: state.graph.faults.concurrencyLimit });
  });
  router.delete('/faults', (_req, res) => {
    state.graph.faults.clear();
    res.status(204).end();
  });
  router.post('/tokens/expire', (_req, res) => {
    state.accessTokens.expireAll();
    res.status(204).end();
  });
  router.post('/signing-keys/rotate', handle((req, res) => {
    const body = fields<{ keepOldSeconds?: number }>(req.body ?? {}, { keepOldSeconds: 'number' });
    if (body.keepOldSeconds !== undefined && !(body.keepOldSeconds >= 0)) throw new ControlError(400, "Field 'keepOldSeconds' must be ≥ 0.");
    res.json({ kid: rotateSigningKey(state, (body.keepOldSeconds ?? 86_400) * 1000) });
  }));
  router.post('/tokens/revoke', (_req, res) => {
    state.accessTokens.revokeAll();
    res.status(204).end();
  });

  // clock, request log, reset
  router.get('/clock', (_req, res) => {
    res.json({ now: state.clock.nowIso(), frozen: state.clock.frozen });
  });
  router.post('/clock', handle((req, res) => {
    const body = fields<{ advanceMs?: number; set?: string; frozen?: boolean }>(req.body, { advanceMs: 'number', set: 'string', frozen: 'boolean' });
    if (body.advanceMs === undefined && body.set === undefined && body.frozen === undefined) throw new ControlError(400, "Give 'advanceMs', 'set' or 'frozen'.");
    if (body.advanceMs !== undefined && !Number.isFinite(body.advanceMs)) throw new ControlError(400, "Field 'advanceMs' must be a finite number.");
    const setMs = body.set === undefined ? undefined : Date.parse(body.set);
    if (setMs !== undefined && Number.isNaN(setMs)) throw new ControlError(400, "Field 'set' must be an ISO date.");
    if (body.frozen === true) state.clock.freeze();
    if (body.advanceMs !== undefined) state.clock.advance(body.advanceMs);
    else if (setMs !== undefined) state.clock.set(setMs);
    if (body.frozen === false) state.clock.resume();
    res.json({ now: state.clock.nowIso(), frozen: state.clock.frozen });
  }));
  router.get('/requests', handle((req, res) => {
    let pattern: RegExp | undefined;
    if (typeof req.query.path === 'string') {
      try {
        pattern = new RegExp(req.query.path);
      } catch {
        throw new ControlError(400, "Query 'path' must be a valid regular expression.");
      }
    }
    res.json({ value: state.graph.requests.list(pattern) });
  }));
  router.delete('/requests', (_req, res) => {
    state.graph.requests.clear();
    res.status(204).end();
  });
  router.post('/reset', (_req, res) => {
    state.graph.reset();
    state.clock.reset();
    identityOf(state).reset();
    state.changes.emit('reset');
    res.status(204).end();
  });

  router.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    if (err instanceof ControlError) res.status(err.status).json({ error: { code: err.status === 404 ? 'NotFound' : 'BadRequest', message: err.message } });
    else if (err instanceof UnknownObjectError) res.status(404).json({ error: { code: 'NotFound', message: err.message } });
    else if ((err as { type?: string }).type === 'entity.parse.failed') res.status(400).json({ error: { code: 'BadRequest', message: 'The body is not valid JSON.' } });
    else if ((err as { status?: number }).status && (err as { status: number }).status < 500) {
      res.status((err as { status: number }).status).json({ error: { code: 'BadRequest', message: (err as Error).message } });
    } else res.status(500).json({ error: { code: 'InternalError', message: 'The control API failed.' } });
  });
  app.use('/_sim', router);
}
