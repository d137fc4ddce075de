/**
 * Admin route behind the editor's "Import an Open Connectors instance" action (issue 7):
 * `POST ms365-events/import` (permission `flows.write`), body `{ "json": "<instance body text>" }` →
 * `{ flow, unmapped, warnings }`, or 400 `{ error }` saying where and what. Registered once per module.
 */
import type { NodeAPI } from 'node-red';
import type { Request, Response } from 'express';
import { importInstance } from '../../core/opencon/instance-import';

export function registerImportRoute(RED: NodeAPI): void {
  RED.httpAdmin.post('/ms365-events/import', RED.auth.needsPermission('flows.write'), (req: Request, res: Response) => {
    const body: unknown = req.body;
    const json = typeof body === 'object' && body !== null ? (body as { json?: unknown }).json : undefined;
    if (typeof json !== 'string' || !json.trim()) {
      res.status(400).json({ error: 'paste the JSON body of an Open Connectors instance ("json" is empty)' });
      return;
    }
    try {
      res.json(importInstance(json));
    } catch (err) {
      res.status(400).json({ error: err instanceof Error ? err.message : String(err) });
    }
  });
}
