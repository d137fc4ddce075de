/**
 * Where this package keeps the files that must survive a crash or a restart, beside Node-RED's own stores:
 * `<userDir>/.ms365-events/` (connector tokens, callback-out outboxes, poller state). Node-RED's runtime always
 * sets `userDir`; a runtime without one (the test helper, unless a test sets it) has no state directory.
 */
import path from 'node:path';
import type { NodeAPI } from 'node-red';

export const STATE_DIRECTORY_NAME = '.ms365-events';

export function userDirectory(RED: NodeAPI): string | undefined {
  const dir = (RED.settings as unknown as { userDir?: unknown }).userDir;
  return typeof dir === 'string' && dir.length > 0 ? dir : undefined;
}

/** `<userDir>/.ms365-events`, or undefined without a user directory. */
export function stateDirectory(RED: NodeAPI): string | undefined {
  const userDir = userDirectory(RED);
  return userDir ? path.join(userDir, STATE_DIRECTORY_NAME) : undefined;
}

/** A file name for node `id`'s state: `<prefix>-<id><extension>`, the id reduced to file-name characters. */
export function nodeStateFileName(prefix: string, id: string, extension: string): string {
  return `${prefix}-${id.replace(/[^A-Za-z0-9_.-]/g, '_')}${extension}`;
}
