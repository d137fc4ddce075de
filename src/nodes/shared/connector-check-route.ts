/**
 * `POST ms365-connector/:id/test` (`ms365-connector.write`: it takes dialog values, as the sign-in route does):
 * "Test connection" of the connector dialog, for both grant types and for a connector not deployed yet. Answers
 * `ConnectionReport` (src/core/graph/connection-check.ts): who it signs in as (delegated) or which app and mailbox
 * (app-only), and each permission the element key's triggers need, granted or missing. Never a token or secret.
 * And `GET ms365-connector/clouds` (`ms365-connector.read`): Microsoft's clouds (src/core/auth/clouds.ts) for the
 * dialog's cloud select, which only displays them.
 */
import type { NodeAPI } from 'node-red';
import type { Request, Response } from 'express';
import { checkConnection } from '../../core/graph/connection-check';
import { appOnlyScope, CLOUDS } from '../../core/auth/clouds';
import type { LiveConnector } from './connector-auth-routes';
import { dialogValues, openSession, sendRouteError } from './connector-session';

export function registerConnectorTestRoute(RED: NodeAPI, live: Map<string, LiveConnector>): void {
  RED.httpAdmin.get('/ms365-connector/clouds', RED.auth.needsPermission('ms365-connector.read'), (_req: Request, res: Response) => {
    res.json({ clouds: Object.values(CLOUDS).map((c) => ({ ...c, appOnlyScope: appOnlyScope(c.graphBaseUrl) })) });
  });
  RED.httpAdmin.post('/ms365-connector/:id/test', RED.auth.needsPermission('ms365-connector.write'), (req: Request, res: Response) => {
    void (async () => {
      let close = () => undefined as void;
      try {
        const session = await openSession(RED, live, req.params.id, dialogValues(req.body));
        close = session.close;
        const { config } = session;
        const report = await checkConnection(session.graph, {
          elementKey: config.elementKey,
          mePath: config.mePath,
          grantType: config.grantType,
          clientId: session.clientId,
          userId: config.userId,
        });
        res.set('Cache-Control', 'no-store').json({ ok: report.missing.length === 0 && report.permissions.every((p) => p.granted), ...report });
      } catch (err) {
        sendRouteError(RED, res, 'test connection', err);
      } finally {
        close();
      }
    })();
  });
}
