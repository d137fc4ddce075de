/**
 * The front door of every `/v1.0` request (Graph and subscriptions): records the request log entry (never the
 * token), checks `Authorization: Bearer` (401 bodies from `state.accessTokens`, `reference/graph.md` §8),
 * enforces the 4-concurrent-requests-per-mailbox limit (§7: 429 `ApplicationThrottled` with `Retry-After`), and
 * applies injected request faults (429 with §7's exact body and `Retry-After`, 503, 504, delays).
 */
import { randomUUID } from 'node:crypto';
import type { Express, NextFunction, Request, Response } from 'express';
import type { TokenPrincipal } from '../access-tokens';
import type { SimState } from '../state';
import { graphErrorBody, tooManyRequestsBody } from './errors';

/** The authenticated caller of a `/v1.0` request, set by the gate. */
export function principalOf(res: Response): TokenPrincipal | undefined {
  return res.locals.principal as TokenPrincipal | undefined;
}

/** Whose mailbox a request addresses: `/users/{x}` → that user, `/drives/{id}` → the drive, else the caller. */
function mailboxKey(state: SimState, path: string, principal: TokenPrincipal): string {
  const users = /^\/users\/([^/?(]+)/i.exec(path);
  if (users) {
    let key = users[1];
    try {
      key = decodeURIComponent(key);
    } catch {
      // keep the raw segment
    }
    const tenantSuffix = `@${state.tenantId}`;
    if (key.toLowerCase().endsWith(tenantSuffix)) key = key.slice(0, -tenantSuffix.length);
    return state.findUser(key)?.id ?? key.toLowerCase();
  }
  const drives = /^\/drives\/([^/?]+)/i.exec(path);
  if (drives) return `drive:${drives[1]}`;
  return principal.userId ?? `app:${principal.clientId}`;
}

export function registerGraphGate(app: Express, state: SimState): void {
  const graph = state.graph;
  app.use('/v1.0', (req: Request, res: Response, next: NextFunction) => {
    const requestId = randomUUID();
    res.setHeader('request-id', requestId);
    res.setHeader('client-request-id', String(req.header('client-request-id') ?? requestId));
    const at = state.clock.nowIso();
    const bearer = /^Bearer\s+\S/i.test(req.header('authorization') ?? '');
    let logged = false;
    const log = (): void => {
      if (logged) return;
      logged = true;
      graph.requests.record({ method: req.method, path: req.originalUrl, status: res.headersSent ? res.statusCode : 0, at, bearer });
    };
    res.once('finish', log);
    res.once('close', log);

    const check = state.accessTokens.check(req.header('authorization'));
    if (!check.ok) {
      res.status(check.status).json(check.body);
      return;
    }
    res.locals.principal = check.principal;

    // The limit is Outlook's/OneDrive's, per mailbox (§7): subscription calls are not counted.
    const key = mailboxKey(state, req.path, check.principal);
    const limit = /^\/(me|users|drives)(\/|$|\()/i.test(req.path) ? graph.faults.concurrencyLimit : 0;
    const running = graph.inFlight.get(key) ?? 0;
    if (limit > 0 && running >= limit) {
      res.setHeader('Retry-After', '1');
      res.status(429).json(graphErrorBody('ApplicationThrottled', 'Application is over its MailboxConcurrency limit.', state.clock.now(), requestId));
      return;
    }
    graph.inFlight.set(key, running + 1);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      const count = (graph.inFlight.get(key) ?? 1) - 1;
      if (count <= 0) graph.inFlight.delete(key);
      else graph.inFlight.set(key, count);
    };
    res.once('finish', release);
    res.once('close', release);

    const fault = graph.faults.takeRequestFault(req.method, req.originalUrl);
    if (!fault) {
      next();
      return;
    }
    const now = state.clock.now();
    switch (fault.kind) {
      case 'throttle':
        res.setHeader('Retry-After', String(fault.retryAfterSeconds ?? 1));
        res.status(429).json(tooManyRequestsBody(now, requestId));
        return;
      case 'unavailable':
        if (fault.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(fault.retryAfterSeconds));
        res.status(503).json(graphErrorBody('serviceNotAvailable', 'Service Unavailable', now, requestId));
        return;
      case 'gatewayTimeout':
        res.status(504).json(graphErrorBody('UnknownError', 'Gateway Timeout', now, requestId));
        return;
      case 'delay': {
        const timer = setTimeout(next, fault.delayMs ?? 0);
        res.once('close', () => clearTimeout(timer));
        return;
      }
      default:
        next();
    }
  });
}
