/**
 * The admin permissions of the editor routes of ms365-connector (issue 16, items 2 and 4) in a real Node-RED
 * process with adminAuth (node-red-node-test-helper does not check them): without `ms365-connector.read` the
 * pickers' GET answers 401, without `ms365-connector.write` the routes that take dialog values (Test connection,
 * the pickers' POST, the sign-in start) answer 401; a user with `read` may use the GET routes only.
 */
import assert from 'node:assert/strict';
import bcrypt from 'bcryptjs';
import { startNodeRed, type NodeRedProcess } from '../support/nodered-process';

const PASSWORD = 'e2e-reader-password';

describe('ms365-connector admin routes: Node-RED permissions (adminAuth, real node-red 4.1)', function () {
  this.timeout(90_000);
  let red: NodeRedProcess;

  before(async () => {
    red = await startNodeRed({
      settings: {
        adminAuth: {
          type: 'credentials',
          users: [{ username: 'reader', password: bcrypt.hashSync(PASSWORD, 8), permissions: 'read' }],
          // Anonymous: the editor's settings only (the harness reads them to know the runtime is up).
          default: { permissions: ['settings.read'] },
        },
      },
    });
  });
  after(async () => {
    await red?.dispose();
  });

  it('anonymous: 401 on GET browse, POST browse, POST test; reader: GET browse passes the check (409 not deployed), POST routes 401', async () => {
    const post = (url: string, headers: Record<string, string> = {}) => red.admin.post(url, { clientId: 'x', clientSecret: 'y' }, { headers });
    assert.equal((await red.admin.get('ms365-connector/c1/browse/mailFolders')).status, 401);
    assert.equal((await post('ms365-connector/c1/browse/mailFolders')).status, 401);
    assert.equal((await post('ms365-connector/c1/test')).status, 401);

    const login = await red.admin.post('auth/token', { client_id: 'node-red-admin', grant_type: 'password', scope: 'read', username: 'reader', password: PASSWORD });
    assert.equal(login.status, 200, JSON.stringify(login.data));
    const auth = { Authorization: `Bearer ${login.data.access_token as string}` };
    const browse = await red.admin.get('ms365-connector/c1/browse/mailFolders', { headers: auth });
    assert.equal(browse.status, 409, JSON.stringify(browse.data));
    assert.equal(browse.data.code, 'not_deployed');
    assert.equal((await post('ms365-connector/c1/browse/mailFolders', auth)).status, 401);
    assert.equal((await post('ms365-connector/c1/test', auth)).status, 401);
    assert.equal((await post('ms365-connector/c1/auth/start', auth)).status, 401);
  });
});
