/**
 * The POST of callback delivery: node:http/https with keep-alive agents, no redirects followed, no proxy (as the
 * axios client it replaces was configured), a socket inactivity timeout, the response body read and dropped. It
 * never throws: no HTTP answer (refused, reset, timeout, a response cut short) is status 0 with the error code.
 * Plain node:http rather than axios: a callback is one small POST whose answer we only need the status and
 * `Retry-After` of, and axios' per-request configuration merging and stream handling cost as much CPU as the rest
 * of the delivery pipeline (bench/callback.ts).
 */
import http from 'node:http';
import https from 'node:https';

/** What one POST answered (status 0 = no HTTP answer: network error or timeout). */
export interface PostResult {
  status: number;
  retryAfter?: string;
  error?: string;
}

export type PostFunction = (url: string, body: Buffer, headers: Record<string, string>, signal: AbortSignal) => Promise<PostResult>;

/** A POST function with its own keep-alive agents (at most 4 sockets per origin); `destroy` closes them. */
export function httpPost(timeoutMs = 30_000): { post: PostFunction; destroy(): void } {
  const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 4 });
  // The sender posts to one URL: parse it once.
  let lastUrl = '';
  let lastTarget: URL | undefined;
  const post: PostFunction = (url, body, headers, signal) =>
    new Promise<PostResult>((resolve) => {
      let settled = false;
      const settle = (result: PostResult) => {
        if (settled) return;
        settled = true;
        resolve(result);
      };
      const failed = (err: unknown) => {
        const e = err as { code?: string; message?: string };
        settle({ status: 0, error: e?.code ?? e?.message ?? 'network error' });
      };
      try {
        if (url !== lastUrl || !lastTarget) {
          lastTarget = new URL(url);
          lastUrl = url;
        }
        const target = lastTarget;
        const secure = target.protocol === 'https:';
        const req = (secure ? https : http).request(
          target,
          {
            method: 'POST',
            agent: secure ? httpsAgent : httpAgent,
            headers: { ...headers, 'Content-Length': String(body.length) },
            signal,
            timeout: timeoutMs,
          },
          (res) => {
            const status = res.statusCode ?? 0;
            const header = res.headers['retry-after'];
            const retryAfter = typeof header === 'string' ? header : undefined;
            res.on('end', () => settle({ status, ...(retryAfter !== undefined ? { retryAfter } : {}) }));
            // An answer cut short is no answer: the notification is retried (at least once), never lost.
            res.on('close', () => {
              if (!res.complete) settle({ status: 0, error: 'ECONNRESET' });
            });
            res.on('error', failed);
            res.resume();
          },
        );
        req.on('timeout', () => req.destroy(Object.assign(new Error(`timeout of ${timeoutMs} ms exceeded`), { code: 'ETIMEDOUT' })));
        req.on('error', failed);
        req.end(body);
      } catch (err) {
        failed(err);
      }
    });
  return {
    post,
    destroy() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}
