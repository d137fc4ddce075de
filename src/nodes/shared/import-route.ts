/**
 * Admin routes of the Open Connectors migration (issue 7), registered by the connector module:
 * - `POST ms365-events/import` (permission `flows.write`), body `{ "json": "<instance body text>" }` →
 *   `{ flow, unmapped, warnings }`, or 400 `{ error }` saying where and what (the editor's import action);
 * - `POST ms365-events/preview-url` (permission `flows.read`), body `{ url, elementKey, timezone?, at? }` →
 *   `{ path, mode, dateField?, expanded, warnings }` (the Graph request a poller resource URL becomes, macros
 *   rendered for `at` (epoch ms or ISO, default now)), or 400 `{ error }` (for the poller dialog's preview).
 */
import type { NodeAPI } from 'node-red';
import type { Request, Response } from 'express';
import { importInstance } from '../../core/opencon/instance-import';
import { translateHubUrl } from '../../core/opencon/hub-url';
import { expandUrlMacros, validateUrlMacros } from '../../core/dates/url-macros';
import { resolveZone } from '../../core/dates/java-pattern';
import { isElementKey } from '../../core/elements';

function field(body: unknown, name: string): unknown {
  return typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[name] : undefined;
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export function registerImportRoute(RED: NodeAPI): void {
  RED.httpAdmin.post('/ms365-events/import', RED.auth.needsPermission('flows.write'), (req: Request, res: Response) => {
    const json = field(req.body, 'json');
    if (typeof json !== 'string' || !json.trim()) {
      res.status(400).json({ error: 'paste the JSON body of an Open Connectors instance ("json" is empty)' });
      return;
    }
    try {
      res.json(importInstance(json));
    } catch (err) {
      res.status(400).json({ error: message(err) });
    }
  });

  RED.httpAdmin.post('/ms365-events/preview-url', RED.auth.needsPermission('flows.read'), (req: Request, res: Response) => {
    const url = field(req.body, 'url');
    const elementKey = field(req.body, 'elementKey') ?? 'office365';
    const timezone = field(req.body, 'timezone');
    const at = field(req.body, 'at');
    if (typeof url !== 'string' || !url.trim()) {
      res.status(400).json({ error: 'url is empty' });
      return;
    }
    if (!isElementKey(elementKey)) {
      res.status(400).json({ error: `elementKey ${JSON.stringify(elementKey)} is not one of microsoftgraph, office365, outlookemail, onedrivev2` });
      return;
    }
    const instant = at === undefined || at === '' ? Date.now() : typeof at === 'number' ? at : Date.parse(String(at));
    if (!Number.isFinite(instant)) {
      res.status(400).json({ error: `at ${JSON.stringify(at)} is not a time (epoch ms or ISO-8601)` });
      return;
    }
    try {
      const zone = typeof timezone === 'string' && timezone.trim() ? timezone : undefined;
      if (zone !== undefined) resolveZone(zone);
      const translated = translateHubUrl(url, elementKey);
      const { warnings } = validateUrlMacros(translated.path);
      res.json({ ...translated, expanded: expandUrlMacros(translated.path, instant, zone), warnings });
    } catch (err) {
      res.status(400).json({ error: message(err) });
    }
  });
}
