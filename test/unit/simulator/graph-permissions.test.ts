import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import axios from 'axios';
import { useSimulator } from '../../support/simulator';
import { SIM_CLIENT_ID, SIM_CLIENT_SECRET, identityOf } from '../../../src/simulator/identity';
import { get } from './graph-helpers';

/** Graph's 403 answers for a token without the request's permission (`reference/graph.md` §11.6). */
describe('simulated Graph: delegated scopes and app roles', () => {
  const sim = useSimulator();
  const user = () => sim().state.defaultUser.id;
  const delegated = (scopes: string[], userId = user()) =>
    sim().state.accessTokens.issue({ userId, clientId: 'perm-client', tenantId: sim().state.tenantId, scopes, appOnly: false }).token;
  const appOnly = (roles: string[]) => sim().state.accessTokens.issue({ clientId: 'perm-client', tenantId: sim().state.tenantId, scopes: [], roles, appOnly: true }).token;

  function assertGraphError(res: { status: number; data: { error: { code: string; message: string; innerError: Record<string, string> } } }, status: number, code: string, message: string | RegExp): void {
    assert.equal(res.status, status);
    assert.equal(res.data.error.code, code);
    if (typeof message === 'string') assert.equal(res.data.error.message, message);
    else assert.match(res.data.error.message, message);
    assert.ok(res.data.error.innerError['request-id']);
    assert.match(res.data.error.innerError.date, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
  }

  it('Outlook without Mail.Read(Basic) → 403 ErrorAccessDenied "Access is denied. Check credentials and try again."', async () => {
    const token = delegated(['User.Read', 'Calendars.Read']);
    const res = await get(sim(), token, "/me/mailFolders('Inbox')/messages/delta");
    assertGraphError(res, 403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.');
    // Mail.ReadBasic is enough for reading; calendars need their own permission.
    assert.equal((await get(sim(), delegated(['Mail.ReadBasic']), "/me/mailFolders('Inbox')/messages/delta")).status, 200);
    assertGraphError(await get(sim(), delegated(['Mail.ReadBasic']), '/me/calendarView/delta?startDateTime=2026-01-01T00:00:00Z&endDateTime=2026-02-01T00:00:00Z'), 403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.');
    assertGraphError(await get(sim(), delegated(['Mail.Read']), '/me/contacts'), 403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.');
  });

  it('app-only: app roles decide (Mail.ReadBasic.All reads mail; an app without roles is refused)', async () => {
    const path = `/users/${user()}/mailFolders/inbox/messages/delta`;
    assert.equal((await get(sim(), appOnly(['Mail.ReadBasic.All']), path)).status, 200);
    // A delegated scope name in an app's roles means nothing: Mail.ReadBasic is not an application permission.
    assertGraphError(await get(sim(), appOnly(['Mail.ReadBasic', 'Files.Read.All']), path), 403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.');
  });

  it('drive without Files.Read → 403 accessDenied; GET user without User.Read → 403 Authorization_RequestDenied', async () => {
    const token = delegated(['Mail.Read']);
    assertGraphError(await get(sim(), token, '/me/drive/root/delta'), 403, 'accessDenied', 'Access denied');
    assertGraphError(await get(sim(), token, '/me'), 403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
    assertGraphError(await get(sim(), appOnly(['Mail.Read']), `/drives/${sim().state.graph.store.user(user()).driveId}/root/delta`), 403, 'accessDenied', 'Access denied');
  });

  it('subscription create without the resource permission → 403 ExtensionError "Operation: Create; Exception: [Status Code: Forbidden; ..." after the handshake', async () => {
    // A receiver that answers the validation handshake (Graph validates first, then refuses).
    let handshakes = 0;
    const receiver = http.createServer((req, res) => {
      const token = new URL(req.url ?? '/', 'http://x').searchParams.get('validationToken');
      if (token !== null) handshakes += 1;
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end(token ?? '');
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    try {
      const post = (token: string, resource: string) =>
        axios.post(
          `${sim().graphBaseUrl}/subscriptions`,
          { changeType: resource.endsWith('root') ? 'updated' : 'created', notificationUrl: url, resource, expirationDateTime: new Date(sim().state.clock.now() + 3_600_000).toISOString() },
          { headers: { Authorization: `Bearer ${token}` }, validateStatus: () => true },
        );
      const mail = await post(delegated(['Calendars.Read']), 'me/messages');
      assertGraphError(mail, 403, 'ExtensionError', 'Operation: Create; Exception: [Status Code: Forbidden; Reason: Forbidden]');
      assert.equal(handshakes, 1, 'the handshake came first');
      // A work drive's root needs Files.ReadWrite.All: Files.ReadWrite (enough on personal OneDrive) is refused.
      const drive = await post(delegated(['Files.ReadWrite']), 'me/drive/root');
      assertGraphError(drive, 403, 'ExtensionError', 'Operation: Create; Exception: [Status Code: Forbidden; Reason: Access denied]');
      const app = await post(appOnly(['Files.Read.All']), `users/${user()}/drive/root`);
      assertGraphError(app, 403, 'ExtensionError', /Status Code: Forbidden/);
      const personal = sim().state.users.find((u) => u.driveType === 'personal')!.id;
      assert.equal((await post(delegated(['Files.ReadWrite'], personal), 'me/drive/root')).status, 201, 'Files.ReadWrite is enough on personal OneDrive');
    } finally {
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
    }
  });

  it('the identity platform puts the authorize request scopes in delegated tokens and the app roles in app-only ones', async () => {
    const limited = identityOf(sim().state).registerApp({ appRoles: ['Files.Read.All'] });
    const tokenOf = async (clientId: string, clientSecret: string) => {
      const res = await axios.post(
        `${sim().authorityHost}/${sim().state.tenantId}/oauth2/v2.0/token`,
        new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, scope: 'https://graph.microsoft.com/.default' }),
      );
      return String(res.data.access_token);
    };
    const limitedToken = await tokenOf(limited.clientId, limited.clientSecret);
    assertGraphError(await get(sim(), limitedToken, `/users/${user()}/messages`), 403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.');
    assert.equal((await get(sim(), limitedToken, `/users/${user()}/drive/root/delta?token=latest`)).status, 200);
    const defaultToken = await tokenOf(SIM_CLIENT_ID, SIM_CLIENT_SECRET);
    assert.equal((await get(sim(), defaultToken, `/users/${user()}/messages`)).status, 200);

    // Delegated: the scopes of the sign-in; `.default` stands for the app's configured delegated permissions.
    const signIn = async (scope: string) => {
      const redirect = 'http://127.0.0.1:1880/callback';
      const url = new URL(`${sim().authorityHost}/common/oauth2/v2.0/authorize`);
      for (const [k, v] of Object.entries({ client_id: SIM_CLIENT_ID, response_type: 'code', redirect_uri: redirect, scope })) url.searchParams.set(k, v);
      const consent = await axios.get(url.toString(), { maxRedirects: 0, validateStatus: () => true });
      const code = new URL(String(consent.headers.location)).searchParams.get('code') ?? '';
      const res = await axios.post(
        `${sim().authorityHost}/common/oauth2/v2.0/token`,
        new URLSearchParams({ grant_type: 'authorization_code', client_id: SIM_CLIENT_ID, client_secret: SIM_CLIENT_SECRET, code, redirect_uri: redirect, scope }),
      );
      return res.data as { access_token: string; scope: string };
    };
    const narrow = await signIn('openid offline_access User.Read');
    assert.equal(narrow.scope, 'https://graph.microsoft.com/User.Read');
    assertGraphError(await get(sim(), narrow.access_token, '/me/messages'), 403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.');
    const byDefault = await signIn('https://graph.microsoft.com/.default offline_access');
    assert.match(byDefault.scope, /Mail\.Read/);
    assert.equal((await get(sim(), byDefault.access_token, '/me/messages')).status, 200);
  });
});
