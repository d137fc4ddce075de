/**
 * Admin routes of `ms365-connector` (CONTRACT.md, "Admin HTTP routes"; design from `reference/node-red.md` §3,
 * "Recommended design"), registered once per module (STYLE.md §4), never per node:
 * - `POST ms365-connector/:id/auth/start` (`ms365-connector.write`): single-use `state` (32 random bytes, 10 min)
 *   and a PKCE S256 verifier kept server-side; answers `{authorizeUrl}`.
 * - `GET ms365-connector/auth/callback`: Microsoft redirects the browser here (no editor token, so no permission
 *   check: the `state` is the check). Unknown, expired or reused state, or `?error=` → 400. Everything reflected is
 *   HTML-escaped. The code is redeemed and the tokens go to the connector's token store (and its running token
 *   manager), never to the page.
 * - `GET ms365-connector/:id/auth/status` (`ms365-connector.read`): `{authorized, expiresAt, account, error}`.
 */
import type { NodeAPI } from 'node-red';
import type { Request, Response } from 'express';
import { ConfigurationError, Ms365Error } from '../../core/errors';
import { checkCallbackUrl, type ConnectorConfig } from '../../core/auth/connector-config';
import { MicrosoftOAuth } from '../../core/auth/oauth';
import { createPkce, randomState } from '../../core/auth/pkce';
import type { TokenManager } from '../../core/auth/token-manager';
import { tokenBinding } from '../../core/auth/token-store';
import { connectorTokenStore, installationSecret } from './connector-token-store';
import type { ClusterNode } from './cluster-api';
import { loadFromCluster, saveSignInToCluster } from './cluster-tokens';
import { text as localized } from './i18n';
import { dialogSettings, dialogValues, NODE_ID, text as str } from './connector-session';

/** What the routes need of a running connector. */
export interface LiveConnector {
  id: string;
  config: ConnectorConfig;
  binding: string;
  manager: TokenManager;
  clientId: string;
  clientSecret: string;
}

interface PendingSignIn {
  nodeId: string;
  clientId: string;
  clientSecret: string;
  tenant: string;
  authorityHost: string;
  scope: string;
  redirectUri: string;
  codeVerifier: string;
  expiresAt: number;
  /** The cluster node the dialog names (its tokens go to Redis when it is deployed). */
  clusterId: string;
}

/** The deployed `ms365-cluster` node `id`, if any. */
function deployedCluster(RED: NodeAPI, id: string): ClusterNode | undefined {
  if (!id || !NODE_ID.test(id)) return undefined;
  const node = RED.nodes.getNode(id) as (ClusterNode & { type?: string }) | null;
  return node && node.type === 'ms365-cluster' && typeof node.state === 'function' ? node : undefined;
}

/** A sign-in must come back within 10 minutes (Microsoft's codes live about as long, `reference/graph.md` §8). */
const STATE_TTL_MS = 10 * 60_000;
/** Bound on sign-ins in progress (oldest dropped first). */
const MAX_PENDING = 200;

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, paragraphs: string[], ok: boolean): string {
  const body = paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`).join('\n');
  const result = ok ? 'true' : 'false';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer"><title>${escapeHtml(title)}</title>
<style>body{font-family:sans-serif;max-width:40em;margin:3em auto;color:#333}h1{font-size:1.4em}</style></head>
<body><h1>${escapeHtml(title)}</h1>
${body}
<script>try{if(window.opener){window.opener.postMessage({type:"ms365-connector-auth",ok:${result}},window.location.origin)}}catch(e){}</script>
</body></html>`;
}

function sendPage(res: Response, status: number, title: string, paragraphs: string[]): void {
  res
    .status(status)
    .set({
      'Content-Type': 'text/html; charset=utf-8',
      'Cache-Control': 'no-store',
      'Referrer-Policy': 'no-referrer',
      'X-Content-Type-Options': 'nosniff',
      'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'",
    })
    .send(page(title, paragraphs, status === 200));
}

export function registerConnectorRoutes(RED: NodeAPI, live: Map<string, LiveConnector>): void {
  const pending = new Map<string, PendingSignIn>();
  /** Connectors not running whose last sign-in went to their cluster's Redis (the status route reads it there). */
  const clusterSignIns = new Map<string, string>();
  /** Last sign-in failure per connector id (shown by the status route). */
  const lastErrors = new Map<string, string>();

  const prune = () => {
    const now = Date.now();
    for (const [state, p] of pending) if (p.expiresAt <= now) pending.delete(state);
    while (pending.size >= MAX_PENDING) {
      const oldest = pending.keys().next().value;
      if (oldest === undefined) break;
      pending.delete(oldest);
    }
  };

  RED.httpAdmin.post('/ms365-connector/:id/auth/start', RED.auth.needsPermission('ms365-connector.write'), (req: Request, res: Response) => {
    try {
      const id = req.params.id;
      if (!NODE_ID.test(id)) return res.status(400).json({ error: 'invalid connector id' });
      const values = dialogValues(req.body);
      const { config, clientId, clientSecret } = dialogSettings(RED, live, id, values, 'authorization_code');
      if (!config.callbackUrl) return res.status(400).json({ error: 'callbackUrl: the redirect URI is required' });
      checkCallbackUrl(config.callbackUrl);
      const oauth = new MicrosoftOAuth({ authorityHost: config.authorityHost, tenant: config.tenant, clientId, clientSecret });
      const pkce = createPkce();
      const state = randomState();
      prune();
      pending.set(state, {
        nodeId: id,
        clientId,
        clientSecret,
        tenant: config.tenant,
        authorityHost: config.authorityHost,
        scope: config.scope,
        redirectUri: config.callbackUrl,
        codeVerifier: pkce.verifier,
        expiresAt: Date.now() + STATE_TTL_MS,
        clusterId: typeof values.cluster === 'string' ? values.cluster.trim() : '',
      });
      lastErrors.delete(id);
      const authorizeUrl = oauth.authorizeUrl({ redirectUri: config.callbackUrl, scope: config.scope, state, codeChallenge: pkce.challenge });
      return res.json({ authorizeUrl });
    } catch (err) {
      if (err instanceof ConfigurationError) return res.status(400).json({ error: err.message });
      RED.log.error(localized(RED, 'ms365-connector.errors.authStartFailed', { error: (err as Error).message }));
      return res.status(500).json({ error: 'could not start the sign-in' });
    }
  });

  RED.httpAdmin.get('/ms365-connector/auth/callback', (req: Request, res: Response) => {
    const state = str(req.query.state);
    const sign = state ? pending.get(state) : undefined;
    if (sign) pending.delete(state); // single use, whatever happens next
    if (!sign || sign.expiresAt <= Date.now()) {
      return sendPage(res, 400, 'Sign-in link not valid', [
        'This sign-in response has no valid state: it is unknown, expired or was already used.',
        'Go back to the Node-RED editor, open the Microsoft 365 connector and click "Sign in with Microsoft" again.',
      ]);
    }
    const error = str(req.query.error);
    if (error) {
      const description = str(req.query.error_description).split(/\r?\n/)[0].slice(0, 500);
      lastErrors.set(sign.nodeId, `${error}${description ? `: ${description}` : ''}`);
      return sendPage(res, 400, 'Microsoft sign-in failed', [
        `Microsoft answered: ${error}${description ? ` (${description})` : ''}.`,
        'Go back to the Node-RED editor, check the app registration (redirect URI, permissions, consent) and sign in again.',
      ]);
    }
    const code = str(req.query.code);
    if (!code) {
      return sendPage(res, 400, 'Microsoft sign-in failed', ['The answer from Microsoft has no code. Sign in again from the Node-RED editor.']);
    }
    void (async () => {
      try {
        const oauth = new MicrosoftOAuth({ authorityHost: sign.authorityHost, tenant: sign.tenant, clientId: sign.clientId, clientSecret: sign.clientSecret });
        const tokens = await oauth.redeemCode({ code, redirectUri: sign.redirectUri, codeVerifier: sign.codeVerifier, scope: sign.scope });
        const binding = tokenBinding(sign.clientId, sign.tenant, sign.authorityHost);
        const running = live.get(sign.nodeId);
        if (running && running.binding === binding) {
          await running.manager.signedIn(tokens);
        } else {
          const stored = { refreshToken: tokens.refreshToken, accessToken: tokens.accessToken, expiresAt: tokens.expiresAt, account: tokens.account, scope: tokens.scope, binding, savedAt: Date.now() };
          // The dialog names a deployed cluster: the sign-in goes to Redis (sealed), not to this instance's file.
          const cluster = deployedCluster(RED, sign.clusterId);
          if (cluster) await saveSignInToCluster(cluster, sign.nodeId, installationSecret(RED), stored);
          else await connectorTokenStore(RED, sign.nodeId).save(stored);
          if (cluster) clusterSignIns.set(sign.nodeId, sign.clusterId);
          else clusterSignIns.delete(sign.nodeId);
        }
        lastErrors.delete(sign.nodeId);
        const who = tokens.account ? `Signed in as ${tokens.account}.` : 'Signed in.';
        sendPage(res, 200, 'Signed in to Microsoft 365', [
          who,
          running && running.binding === binding
            ? 'The connector uses this sign-in now. You can close this window.'
            : 'Close this window and click Deploy in the Node-RED editor: the connector will use this sign-in.',
        ]);
      } catch (err) {
        const message = err instanceof Ms365Error ? err.message : 'the code could not be redeemed';
        lastErrors.set(sign.nodeId, message);
        sendPage(res, 400, 'Microsoft sign-in failed', [message, 'Go back to the Node-RED editor and sign in again.']);
      }
    })();
  });

  RED.httpAdmin.get('/ms365-connector/:id/auth/status', RED.auth.needsPermission('ms365-connector.read'), (req: Request, res: Response) => {
    const id = req.params.id;
    if (!NODE_ID.test(id)) return res.status(400).json({ error: 'invalid connector id' });
    res.set('Cache-Control', 'no-store');
    const running = live.get(id);
    if (running) {
      const status = running.manager.status();
      return res.json({
        authorized: status.state === 'signed_in' || status.state === 'refreshing',
        expiresAt: status.expiresAt ? new Date(status.expiresAt).toISOString() : null,
        account: status.account ?? null,
        error: lastErrors.get(id) ?? status.error ?? null,
      });
    }
    const cluster = deployedCluster(RED, clusterSignIns.get(id) ?? '');
    (cluster ? loadFromCluster(cluster, id, installationSecret(RED)) : connectorTokenStore(RED, id).load())
      .then((stored) =>
        res.json({
          authorized: Boolean(stored?.refreshToken),
          expiresAt: stored?.expiresAt ? new Date(stored.expiresAt).toISOString() : null,
          account: stored?.account ?? null,
          error: lastErrors.get(id) ?? null,
        }),
      )
      .catch(() => res.json({ authorized: false, expiresAt: null, account: null, error: lastErrors.get(id) ?? null }));
  });
}
