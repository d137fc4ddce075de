/**
 * The test helper's `RED.httpNode` is an express app that nothing listens for. `useHttpNodeServer()` serves it on a
 * real loopback port for a suite (so the simulator can deliver notifications to webhook routes): pass `capture` in
 * the node list given to `helper.load`, and read `base()` for the server's URL.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import type { NodeAPI } from 'node-red';

export function useHttpNodeServer(): { capture: (RED: NodeAPI) => void; base: () => string } {
  let nodeApp: Express | undefined;
  let server: http.Server;
  let url = '';
  before(async () => {
    server = http.createServer((req, res) => {
      if (!nodeApp) {
        res.statusCode = 503;
        res.end();
        return;
      }
      nodeApp(req as never, res as never);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return {
    capture: (RED: NodeAPI) => {
      nodeApp = RED.httpNode as unknown as Express;
    },
    base: () => url,
  };
}
