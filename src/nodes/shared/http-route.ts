/**
 * A POST route of a node on Node-RED's HTTP node app (`RED.httpNode`), as `ms365-webhook-in` serves Graph's
 * notifications: the request body read with a size limit (or taken from the app's body parsers, which run before any
 * route), and the route removed when the node closes.
 */
import type { IncomingMessage } from 'node:http';
import type { NodeAPI } from 'node-red';
import type { Request } from 'express';

/** Read the body with a size limit; undefined when it is too large. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) over = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(over ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * A body some middleware already read (Node-RED's HTTP node app parses JSON and form bodies before routes run): its
 * value when it was parsed (used as it is: no second serialization and parse), its bytes when it was kept as text or
 * bytes; undefined when the stream is still ours to read.
 */
export function alreadyRead(req: Request): { parsed: unknown } | Buffer | undefined {
  const consumed = (req as unknown as { _body?: boolean })._body === true || req.readableEnded;
  if (!consumed) return undefined;
  const body: unknown = req.body;
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  return { parsed: body ?? null };
}

/** Removes the POST route at `path` from the HTTP node app (the node closing: a redeploy adds it again). */
export function removePostRoute(RED: NodeAPI, path: string): void {
  const app = RED.httpNode as unknown as { _router?: { stack: Array<{ route?: { path: string; methods: Record<string, boolean> } }> } };
  const stack = app._router?.stack;
  if (!stack) return;
  for (let i = stack.length - 1; i >= 0; i -= 1) {
    const route = stack[i].route;
    if (route && route.path === path && route.methods.post) stack.splice(i, 1);
  }
}
