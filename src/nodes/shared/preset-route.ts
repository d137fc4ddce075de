/**
 * Admin route of the poller dialog's "Watch" select (issue 16 item 1), registered by the poller module:
 * `GET ms365-poller/preset?watch=newMail&target=<id>` (permission `ms365-poller.read`) → `{ configuration, target }`:
 * the Open Connectors configuration the preset runs (core/opencon/presets.ts, pretty JSON as the node stores it) and
 * which picker the preset takes its target from (`mailFolder`, `calendar`, `driveFolder` or none). The dialog keeps no copy of
 * the mapping; a bad watch or target is a 400 naming it. Nothing secret is involved.
 */
import type { NodeAPI } from 'node-red';
import type { Request, Response } from 'express';
import { ConfigurationError } from '../../core/errors';
import { isWatchPreset, presetConfigurationText, PRESET_TARGET, WATCH_PRESETS } from '../../core/opencon/presets';

export function registerPresetRoute(RED: NodeAPI): void {
  RED.httpAdmin.get('/ms365-poller/preset', RED.auth.needsPermission('ms365-poller.read'), (req: Request, res: Response) => {
    const watch = typeof req.query.watch === 'string' ? req.query.watch : '';
    const target = typeof req.query.target === 'string' ? req.query.target : undefined;
    if (!isWatchPreset(watch)) {
      res.status(400).json({ error: `watch: ${JSON.stringify(watch.slice(0, 40))} is not a preset: ${WATCH_PRESETS.join(', ')}` });
      return;
    }
    try {
      res.set('Cache-Control', 'no-store').json({ configuration: presetConfigurationText(watch, target), target: PRESET_TARGET[watch] ?? null });
    } catch (err) {
      if (!(err instanceof ConfigurationError)) throw err;
      res.status(400).json({ error: err.message });
    }
  });
}
