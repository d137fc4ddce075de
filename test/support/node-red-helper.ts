/**
 * node-red-node-test-helper wired for this package: a real Node-RED runtime (the devDependency), our node
 * modules loaded from src through tsx.
 */
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
