import assert from 'node:assert/strict';
import { MAX_SKIPPED_INTERVALS, PermissionBackoff, permissionFor, permissionName } from '../../../src/core/graph/permissions';
import { GraphClient, MissingPermissionError } from '../../../src/core/graph/client';
import { MicrosoftOAuth } from '../../../src/core/auth/oauth';
import { TokenManager } from '../../../src/core/auth/token-manager';
import { MemoryTokenStore } from '../../../src/core/auth/token-store';
import { APP_ONLY_SCOPE } from '../../../src/core/elements';
import { identityOf } from '../../../src/simulator/identity';
import { useSimulator } from '../../support/simulator';

describe('graph permissions (graph.md §11.6)', () => {
  it('names the least privileged delegated and application permission per request', () => {
    const name = (method: string, path: string, body?: unknown, appOnly?: boolean) => {
      const required = permissionFor(method, path, body);
      return required ? permissionName(required, appOnly) : undefined;
    };
    assert.equal(name('GET', "/me/mailFolders('inbox')/messages/delta", undefined, false), 'Mail.ReadBasic');
    assert.equal(name('GET', '/users/abc/mailFolders/inbox/messages/delta?$select=subject', undefined, true), 'Mail.ReadBasic.All');
    assert.equal(name('GET', '/me/calendarView/delta?startDateTime=x', undefined, true), 'Calendars.Read');
    assert.equal(name('GET', '/me/contactFolders/x/contacts/delta', undefined, false), 'Contacts.Read');
    assert.equal(name('GET', '/me/drive/root/delta', undefined, false), 'Files.Read');
    assert.equal(name('GET', '/drives/b!x/items/01AB/delta', undefined, true), 'Files.Read.All');
    assert.equal(name('GET', '/me', undefined, false), 'User.Read');
    assert.equal(name('POST', '/subscriptions', { resource: 'me/messages' }, true), 'Mail.Read');
    assert.equal(name('POST', '/subscriptions', { resource: 'me/messages' }, false), 'Mail.ReadBasic');
    assert.equal(name('POST', '/subscriptions', { resource: 'users/x/drive/root' }, false), 'Files.ReadWrite.All');
    assert.equal(permissionFor('POST', '/subscriptions', { resource: 'me/drive/root' })?.delegatedPersonal, 'Files.ReadWrite');
    assert.equal(name('POST', '/subscriptions', { resource: 'me/events' }), 'Calendars.Read (delegated) or Calendars.Read (application)');
    assert.equal(name('PATCH', '/subscriptions/123', {}), undefined);
    assert.equal(name('GET', '/teams/x/channels'), undefined);
  });

  it('PermissionBackoff skips 1, 3, 7 … (at most MAX_SKIPPED_INTERVALS) intervals; a success resets it', () => {
    const backoff = new PermissionBackoff();
    const asked: number[] = [];
    for (let interval = 1; interval <= 40; interval++) {
      if (backoff.skip('messages')) continue;
      asked.push(interval);
      backoff.refused('messages', 'Mail.ReadBasic');
    }
    assert.deepEqual(asked, [1, 3, 7, 15, 31]);
    assert.equal(MAX_SKIPPED_INTERVALS, 15);
    assert.equal(backoff.missing('messages'), 'Mail.ReadBasic');
    backoff.succeeded('messages');
    assert.equal(backoff.skip('messages'), false);
    assert.equal(backoff.missing('messages'), undefined);
  });

  describe('GraphClient on a 403', () => {
    const sim = useSimulator();

    it('throws MissingPermissionError naming the application permission, without retrying', async () => {
      const app = identityOf(sim().state).registerApp({ appRoles: ['User.Read.All'] });
      const oauth = new MicrosoftOAuth({ authorityHost: sim().authorityHost, tenant: sim().state.tenantId, clientId: app.clientId, clientSecret: app.clientSecret });
      const tokens = new TokenManager({ grantType: 'client_credentials', oauth, scope: APP_ONLY_SCOPE, store: new MemoryTokenStore() });
      const graph = new GraphClient({ baseUrl: sim().graphBaseUrl, tokens, appOnly: true });
      sim().state.graph.requests.clear();
      const user = sim().state.defaultUser.id;
      const err = await graph.get(`/users/${user}/mailFolders/inbox/messages/delta`).then(
        () => assert.fail('expected a 403'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof MissingPermissionError);
      assert.equal(err.status, 403);
      assert.equal(err.graphCode, 'ErrorAccessDenied');
      assert.equal(err.permission, 'Mail.ReadBasic.All');
      assert.match(err.message, /^missing permission Mail\.ReadBasic\.All \(the application permission Microsoft Graph needs to read messages;/);
      assert.equal(sim().state.graph.requests.list(/messages\/delta/).length, 1, 'a 403 is not retried');
    });

    it('a delegated token without mail scopes: "missing permission Mail.ReadBasic"', async () => {
      // A token the simulated identity platform issued for a sign-in that asked for User.Read only.
      const { token } = sim().state.accessTokens.issue({ userId: sim().state.defaultUser.id, clientId: 'delegated-app', tenantId: sim().state.tenantId, scopes: ['User.Read'], appOnly: false });
      const graph = new GraphClient({ baseUrl: sim().graphBaseUrl, tokens: { getAccessToken: async () => token, onUnauthorized: async () => undefined }, appOnly: false });
      assert.equal((await graph.get<{ id: string }>('/me')).id, sim().state.defaultUser.id);
      const err = await graph.get("/me/mailFolders('inbox')/messages/delta").then(
        () => assert.fail('expected a 403'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof MissingPermissionError);
      assert.equal(err.permission, 'Mail.ReadBasic');
      assert.match(err.message, /^missing permission Mail\.ReadBasic \(the delegated permission/);
    });
  });
});
