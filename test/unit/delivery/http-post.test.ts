/** The delivery POST (node:http, keep-alive) against real loopback servers: what each kind of answer becomes. */
import { strict as assert } from 'node:assert';
import http from 'node:http';
import https from 'node:https';
import { generate } from 'selfsigned';
import type { AddressInfo } from 'node:net';
import { httpPost } from '../../../src/core/delivery/http-post';

async function serve(handler: http.RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/cb`,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('delivery/http-post', () => {
  const client = httpPost(500);
  after(() => client.destroy());
  const signal = new AbortController().signal;

  it('sends the exact bytes and headers with a Content-Length, over one kept-alive socket; answers status and Retry-After', async () => {
    const seen: Array<{ body: string; headers: http.IncomingHttpHeaders; socket: unknown }> = [];
    const server = await serve((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ body: Buffer.concat(chunks).toString('utf8'), headers: req.headers, socket: req.socket });
        if (seen.length === 1) res.writeHead(200).end('ignored body');
        else res.writeHead(429, { 'Retry-After': '7' }).end();
      });
    });
    try {
      const body = Buffer.from('{"message":"é"}', 'utf8');
      assert.deepEqual(await client.post(server.url, body, { 'Content-Type': 'application/json', 'X-A': '1' }, signal), { status: 200 });
      assert.deepEqual(await client.post(server.url, body, {}, signal), { status: 429, retryAfter: '7' });
      assert.equal(seen[0]!.body, '{"message":"é"}');
      assert.equal(seen[0]!.headers['content-length'], String(body.length));
      assert.equal(seen[0]!.headers['x-a'], '1');
      assert.equal(seen[0]!.socket, seen[1]!.socket, 'keep-alive: the same socket');
    } finally {
      await server.close();
    }
  });

  it('a refused connection, a timeout and an abort are status 0 with the error code; a redirect is not followed', async () => {
    const server = await serve((req, res) => {
      if (req.url === '/slow') return; // never answers
      res.writeHead(302, { Location: '/elsewhere' }).end();
    });
    try {
      assert.deepEqual(await client.post(server.url, Buffer.from('x'), {}, signal), { status: 302 });
      const slow = server.url.replace('/cb', '/slow');
      assert.deepEqual(await client.post(slow, Buffer.from('x'), {}, signal), { status: 0, error: 'ETIMEDOUT' });
      const abort = new AbortController();
      const pending = client.post(slow, Buffer.from('x'), {}, abort.signal);
      setTimeout(() => abort.abort(), 20);
      assert.equal((await pending).status, 0);
    } finally {
      await server.close();
    }
    assert.deepEqual(await client.post(server.url, Buffer.from('x'), {}, signal), { status: 0, error: 'ECONNREFUSED' });
  });

  it('an answer cut short (connection destroyed mid-body) is status 0: retried, never counted as delivered', async () => {
    const server = await serve((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'Content-Length': '100' });
        res.write('partial');
        setTimeout(() => res.destroy(), 10);
      });
    });
    try {
      const result = await client.post(server.url, Buffer.from('x'), {}, signal);
      assert.equal(result.status, 0);
    } finally {
      await server.close();
    }
  });

  it('https: the receiver certificate is verified (a self-signed one is refused with its TLS error code, status 0)', async () => {
    const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], { keySize: 2048 });
    const server = https.createServer({ key: pems.private, cert: pems.cert }, (req, res) => {
      req.resume();
      res.writeHead(200).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/cb`;
      const result = await client.post(url, Buffer.from('x'), {}, signal);
      assert.equal(result.status, 0);
      assert.match(String(result.error), /SELF_SIGNED|UNABLE_TO_VERIFY|CERT/);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
