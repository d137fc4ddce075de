/**
 * A loopback TLS front for the simulator, for clients that insist on https (MSAL, the Microsoft Graph SDK).
 * The certificate is generated at test time (`selfsigned`, SAN 127.0.0.1 + localhost) and trusted only by the
 * `tlsFetch` of this proxy (`https.request` with `ca`), which tests hand to the clients through their documented
 * transport options (MSAL `system.networkClient`, a Graph SDK middleware chain ending in a fetch handler).
 * Nothing here touches process-wide TLS settings.
 */
import https from 'node:https';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { generate } from 'selfsigned';

export interface TlsProxy {
  /** `https://127.0.0.1:<port>` */
  url: string;
  /** `127.0.0.1:<port>` */
  host: string;
  /** The certificate (PEM) the proxy serves; the only one `tlsFetch` trusts. */
  ca: string;
  /** `fetch` over https that trusts `ca` (redirects are never followed: the caller sees the 3xx). */
  tlsFetch(url: string, init?: { method?: string; headers?: Record<string, string>; body?: string }): Promise<Response>;
  close(): Promise<void>;
}

/** Starts an https server on a free loopback port that forwards every request to `target` (an http origin). */
export async function startTlsProxy(target: string): Promise<TlsProxy> {
  const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keySize: 2048,
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }, { type: 2, value: 'localhost' }] },
    ],
  });
  const upstream = new URL(target);
  const server = https.createServer({ key: pems.private, cert: pems.cert }, (req, res) => {
    const forward = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(forward);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const agent = new https.Agent({ ca: pems.cert, keepAlive: false });

  function tlsFetch(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Response> {
    return new Promise((resolve, reject) => {
      const request = https.request(url, { method: init.method ?? 'GET', headers: init.headers, agent }, (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (c: Buffer) => chunks.push(c));
        answer.on('error', reject);
        answer.on('end', () => {
          const headers = new Headers();
          for (const [name, value] of Object.entries(answer.headers)) {
            if (value === undefined) continue;
            for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
          }
          const status = answer.statusCode ?? 500;
          const body = status === 204 || status === 304 ? null : Buffer.concat(chunks);
          resolve(new Response(body, { status, statusText: answer.statusMessage, headers }));
        });
      });
      request.on('error', reject);
      request.setTimeout(15_000, () => request.destroy(new Error(`tlsFetch timed out: ${init.method ?? 'GET'} ${url}`)));
      request.end(init.body);
    });
  }

  return {
    url: `https://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    ca: pems.cert,
    tlsFetch,
    close: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
