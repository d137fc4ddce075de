import assert from 'node:assert/strict';
import { useSimulator } from '../../support/simulator';
import { appToken, delegatedToken, get } from './graph-helpers';

describe('simulated Graph: authentication and users', () => {
  const sim = useSimulator();

  it('GET /me without a bearer → 401 InvalidAuthenticationToken', async () => {
    const res = await get(sim(), undefined, '/me');
    assert.equal(res.status, 401);
    assert.equal(res.data.error.code, 'InvalidAuthenticationToken');
  });

  it('GET /me with an expired token → 401 "Lifetime validation failed"', async () => {
    const token = delegatedToken(sim());
    sim().state.accessTokens.expireAll();
    const res = await get(sim(), token, '/me');
    assert.equal(res.status, 401);
    assert.equal(res.data.error.message, 'Lifetime validation failed, the token is expired.');
  });

  it('GET /me with a delegated token → 200 the signed-in user', async () => {
    const res = await get(sim(), delegatedToken(sim()), '/me');
    assert.equal(res.status, 200);
    assert.equal(res.data.id, sim().state.defaultUser.id);
    assert.equal(res.data.userPrincipalName, 'adele@contoso.example');
    assert.ok(res.headers['request-id']);
  });

  it('GET /me/messages with an app-only token → 400 "/me request is only valid with delegated authentication flow."', async () => {
    const res = await get(sim(), appToken(sim()), '/me/messages');
    assert.equal(res.status, 400);
    assert.equal(res.data.error.code, 'BadRequest');
    assert.equal(res.data.error.message, '/me request is only valid with delegated authentication flow.');
  });

  it('GET /users/{upn}/messages with an app-only token → 200', async () => {
    const res = await get(sim(), appToken(sim()), '/users/megan@contoso.example/messages');
    assert.equal(res.status, 200);
    assert.deepEqual(res.data.value, []);
  });

  it("GET /users/{other}/messages with a delegated token → 403 ErrorAccessDenied; own id → 200", async () => {
    const token = delegatedToken(sim());
    const other = await get(sim(), token, `/users/${sim().state.users[1].id}/messages`);
    assert.equal(other.status, 403);
    assert.equal(other.data.error.code, 'ErrorAccessDenied');
    const own = await get(sim(), token, `/users/${sim().state.defaultUser.id}`);
    assert.equal(own.status, 200);
    assert.equal(own.data.mail, 'adele@contoso.example');
  });

  it('GET /users/{unknown} → 404 ErrorInvalidUser; unknown segment → 400', async () => {
    const token = appToken(sim());
    assert.equal((await get(sim(), token, '/users/nobody@contoso.example')).data.error.code, 'ErrorInvalidUser');
    const res = await get(sim(), token, '/users/megan@contoso.example/nothing');
    assert.equal(res.status, 400);
    assert.equal(res.data.error.message, "Resource not found for the segment 'nothing'.");
  });

  it("notification resource paths resolve: Users/{id}@{tenant}/Messages/{id} and Users('id')/messages('id') → 200", async () => {
    const user = sim().state.defaultUser.id;
    const m = sim().state.graph.store.createMessage(user, { subject: 'notified' });
    const token = delegatedToken(sim());
    const basic = await get(sim(), token, `/Users/${user}@${sim().state.tenantId}/Messages/${m.id}`);
    assert.equal(basic.status, 200);
    assert.equal(basic.data.subject, 'notified');
    const rich = await get(sim(), token, `/Users('${user}')/messages('${m.id}')`);
    assert.equal(rich.status, 200);
    assert.equal(rich.data.id, m.id);
  });

  it('the request log records method, path, status and bearer presence, never the token', async () => {
    const token = delegatedToken(sim());
    sim().state.graph.requests.clear();
    await get(sim(), token, '/me/messages?$top=5');
    await get(sim(), undefined, '/me');
    const log = sim().state.graph.requests.list();
    assert.deepEqual(log.map((e) => [e.method, e.path, e.status, e.bearer]), [
      ['GET', '/v1.0/me/messages?$top=5', 200, true],
      ['GET', '/v1.0/me', 401, false],
    ]);
    assert.ok(!JSON.stringify(log).includes(token));
  });
});
