/**
 * The editor's live pickers (issue 16, item 2): what the connector's account has, read from Graph with the
 * connector's token (src/core/graph/browse.ts), never a token or secret in an answer.
 * - `GET ms365-connector/:id/browse/:kind` (`ms365-connector.read`): the deployed, running connector.
 * - `POST ms365-connector/:id/browse/:kind` (`ms365-connector.write`: it takes the dialog's values, as the sign-in
 *   route does): a connector not deployed yet, or edited in the dialog.
 * `kind`: `mailFolders` (`?parent=` a folder id: its child folders), `calendars`, `drives`, `children` (`?parent=`
 * an item id, default the root; `?drive=` a drive id, default the user's drive). Answers `{value: [{id, name, ...}],
 * more}`; "sign in first" is a 409, a missing Graph permission a 403 naming it (`missing permission Calendars.Read`).
 */
import type { NodeAPI } from 'node-red';
import type { Request, Response } from 'express';
import { isSafeId, listCalendars, listChildren, listDrives, listMailFolders, type BrowseResult } from '../../core/graph/browse';
import type { GraphClient } from '../../core/graph/client';
import type { LiveConnector } from './connector-auth-routes';
import { dialogValues, openSession, RouteError, sendRouteError, text } from './connector-session';

type Lister = (graph: GraphClient, mePath: string, query: { parent?: string; drive?: string }) => Promise<BrowseResult>;

const KINDS: Record<string, Lister> = {
  mailFolders: (graph, mePath, q) => listMailFolders(graph, mePath, q.parent),
  calendars: (graph, mePath) => listCalendars(graph, mePath),
  drives: (graph, mePath) => listDrives(graph, mePath),
  children: (graph, mePath, q) => listChildren(graph, mePath, q.parent, q.drive),
};

function queryId(req: Request, name: string): string | undefined {
  const value = text(req.query[name]);
  if (!value) return undefined;
  if (!isSafeId(value)) throw new RouteError(400, 'invalid_parameter', `${name}: not a Graph id`);
  return value;
}

export function registerBrowseRoutes(RED: NodeAPI, live: Map<string, LiveConnector>): void {
  const handle = (withDialogValues: boolean) => (req: Request, res: Response) => {
    void (async () => {
      let close = () => undefined as void;
      try {
        const list = Object.prototype.hasOwnProperty.call(KINDS, req.params.kind) ? KINDS[req.params.kind] : undefined;
        if (!list) throw new RouteError(404, 'unknown_kind', `nothing to browse as '${String(req.params.kind).slice(0, 40)}': mailFolders, calendars, drives or children`);
        const query = { parent: queryId(req, 'parent'), drive: queryId(req, 'drive') };
        const session = await openSession(RED, live, req.params.id, withDialogValues ? dialogValues(req.body) : undefined);
        close = session.close;
        const result = await list(session.graph, session.config.mePath, query);
        res.set('Cache-Control', 'no-store').json(result);
      } catch (err) {
        sendRouteError(RED, res, `browse ${String(req.params.kind).slice(0, 40)}`, err);
      } finally {
        close();
      }
    })();
  };
  RED.httpAdmin.get('/ms365-connector/:id/browse/:kind', RED.auth.needsPermission('ms365-connector.read'), handle(false));
  RED.httpAdmin.post('/ms365-connector/:id/browse/:kind', RED.auth.needsPermission('ms365-connector.write'), handle(true));
}
