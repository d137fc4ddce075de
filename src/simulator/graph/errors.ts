/**
 * Graph-shaped error answers of the simulated Microsoft Graph: `{"error": {"code", "message", "innerError"}}`
 * with `request-id`/`date`, as `reference/graph.md` §5–§8 quote them.
 */
import { randomUUID } from 'node:crypto';

export interface GraphErrorBody {
  error: { code: string; message: string; innerError: Record<string, string> };
}

/** A Graph error to answer with: thrown by handlers, turned into the HTTP answer by the router. */
export class SimGraphError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    readonly innerCode?: string,
  ) {
    super(message);
    this.name = 'SimGraphError';
  }

  body(nowMs: number, requestId: string): GraphErrorBody {
    return graphErrorBody(this.code, this.message, nowMs, requestId, this.innerCode);
  }
}

export function graphErrorBody(code: string, message: string, nowMs: number, requestId: string = randomUUID(), innerCode?: string): GraphErrorBody {
  const innerError: Record<string, string> = {
    date: new Date(nowMs).toISOString().slice(0, 19),
    'request-id': requestId,
    'client-request-id': requestId,
  };
  if (innerCode) innerError.code = innerCode;
  return { error: { code, message, innerError } };
}

export const badRequest = (message: string): SimGraphError => new SimGraphError(400, 'BadRequest', message);

/** Outlook items (messages, events, contacts, folders) that do not exist. */
export const outlookNotFound = (): SimGraphError =>
  new SimGraphError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');

/** Drive items that do not exist. */
export const driveNotFound = (): SimGraphError => new SimGraphError(404, 'itemNotFound', 'The resource could not be found.');

/** §7: the exact throttling body (`TooManyRequests`, inner code "429"). */
export function tooManyRequestsBody(nowMs: number, requestId: string = randomUUID()): Record<string, unknown> {
  return {
    error: {
      code: 'TooManyRequests',
      innerError: {
        code: '429',
        date: new Date(nowMs).toISOString().slice(0, 19),
        message: 'Please retry after',
        'request-id': requestId,
        status: '429',
      },
      message: 'Please retry again later.',
    },
  };
}
