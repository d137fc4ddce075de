/**
 * node-red-node-test-helper wired for this package: a real Node-RED runtime (the devDependency), our node
 * modules loaded from src through tsx.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import helper from 'node-red-node-test-helper';

helper.init(require.resolve('node-red'));

export { helper };

/** The node modules of this package, in registration order (config node first). */
export const allNodes = [
  require('../../src/nodes/ms365-connector'),
  require('../../src/nodes/ms365-poller'),
  require('../../src/nodes/ms365-webhook-in'),
  require('../../src/nodes/ms365-callback-out'),
];

/** Start/stop the helper's server around a suite and unload flows after each test. */
export function useNodeRed(): void {
  before((done) => {
    helper.startServer(done);
  });
  afterEach(async () => {
    await helper.unload();
  });
  after((done) => {
    helper.stopServer(done);
  });
}

/**
 * A fresh Node-RED user directory for each test (the nodes keep their state files in `<userDir>/.ms365-events`),
 * unloaded and removed after it. Returns the current directory's path.
 */
export function useTempUserDir(prefix: string): () => string {
  let userDir = '';
  beforeEach(async () => {
    userDir = await fsp.mkdtemp(path.join(os.tmpdir(), prefix));
    helper.settings({ userDir });
  });
  afterEach(async () => {
    await helper.unload();
    helper.settings({});
    await fsp.rm(userDir, { recursive: true, force: true });
  });
  return () => userDir;
}
