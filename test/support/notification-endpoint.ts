/**
 * A loopback notification endpoint for tests that subscribe at the simulated Graph directly (no Node-RED): it
 * answers the validation handshake (`validationToken` echoed as text/plain, `reference/graph.md` §1.2) and records
 * every notification body, answered 202. Registered as mocha `before`/`after` hooks of the calling suite.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface NotificationEndpoint<T> {
  /** The notification bodies received so far, in arrival order. */
  readonly bodies: T[];
  /** `http://127.0.0.1:<port>/hook` once the suite's `before` hooks ran. */
  url(): string;
}

export function useNotificationEndpoint<T = Record<string, unknown>>(): NotificationEndpoint<T> {
  const bodies: T[] = [];
  let server: http.Server | undefined;
  let url = '';
  before(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const token = new URL(req.url ?? '/', 'http://x').searchParams.get('validationToken');
        if (token !== null) {
          res.writeHead(200, { 'Content-Type': 'text/plain' }).end(token);
          return;
        }
        bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as T);
        res.writeHead(202).end();
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  });
  after(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));
  return { bodies, url: () => url };
}
