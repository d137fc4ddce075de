/**
 * Admin route of the webhook-in dialog (issue 16 item 3), registered by the webhook-in module:
 * `GET ms365-events/subscription-rules?resource=me/drive/root&rich=1` (permission `flows.read`) →
 * `{ changeTypes, maxMinutes }`: the change types Graph takes on that resource (core `isDriveResource`: a drive takes
 * `updated` only) and the longest lifetime the node asks for it (core `maxMinutesFor`, with resource data when rich).
 * The dialog shows them in the subscription's row; nothing secret is involved.
 */
import type { NodeAPI } from 'node-red';
import type { Request, Response } from 'express';
import { isDriveResource } from '../../core/webhooks/subscription-specs';
import { maxMinutesFor } from '../../core/webhooks/subscription-manager';

const ALL_CHANGE_TYPES = ['created', 'updated', 'deleted'];

export function registerSubscriptionRulesRoute(RED: NodeAPI): void {
  RED.httpAdmin.get('/ms365-events/subscription-rules', RED.auth.needsPermission('flows.read'), (req: Request, res: Response) => {
    const resource = typeof req.query.resource === 'string' ? req.query.resource.trim() : '';
    if (!resource) {
      res.status(400).json({ error: 'resource is empty' });
      return;
    }
    const rich = req.query.rich === '1' || req.query.rich === 'true';
    res.json({ changeTypes: isDriveResource(resource) ? ['updated'] : ALL_CHANGE_TYPES, maxMinutes: maxMinutesFor(resource.replace(/^\/+/, ''), rich) });
  });
}
