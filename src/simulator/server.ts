/**
 * The simulated Microsoft 365 tenant: one loopback HTTP server with the Microsoft identity platform
 * (`/{tenant}/oauth2/v2.0/...`), Microsoft Graph v1.0 (`/v1.0/...`) and a control API (`/_sim/...`) for tests,
 * benchmarks and the demo. It behaves as `../shared/reference/graph.md` describes, faults included.
 */
import express from 'express';
import type { AddressInfo } from 'node:net';
import http from 'node:http';
import { SimState } from './state';
import { registerIdentity } from './identity';
import { registerGraph, registerGraphGate } from './graph/index';
import { registerSubscriptions } from './subscriptions';
import { registerControl } from './control';

export interface SimulatorOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** Address to bind; loopback only. */
  host?: string;
  /** Lifetime of issued access tokens in seconds (default 3599, as Microsoft). */
  accessTokenLifetimeSeconds?: number;
}

export interface Simulator {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Use as the connector's `authorityHost`. */
  authorityHost: string;
  /** Use as the connector's `graphBaseUrl`. */
  graphBaseUrl: string;
  /** Base of the control API. */
  controlUrl: string;
  state: SimState;
  close(): Promise<void>;
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const state = new SimState();
  if (options.accessTokenLifetimeSeconds) state.accessTokens.lifetimeSeconds = options.accessTokenLifetimeSeconds;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // Every answer's Date header is on the simulated clock (Graph and the identity platform send one; the nodes read
  // Graph's time from it, so clock-jump tests move it with the tenant's clock).
  app.use((_req, res, next) => {
    res.setHeader('Date', new Date(state.clock.now()).toUTCString());
    next();
  });
  registerControl(app, state);
  registerIdentity(app, state);
  registerGraphGate(app, state);
  registerSubscriptions(app, state);
  registerGraph(app, state);

  const server = http.createServer(app);
  server.keepAliveTimeout = 5000;
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host}:${port}`;
  state.baseUrl = url;
  return {
    url,
    authorityHost: url,
    graphBaseUrl: `${url}/v1.0`,
    controlUrl: `${url}/_sim`,
    state,
    close: () =>
      new Promise<void>((resolve) => {
        state.changes.removeAllListeners();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
