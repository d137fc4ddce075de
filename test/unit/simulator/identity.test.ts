import assert from 'node:assert/strict';
import { createHash, createVerify, createPublicKey } from 'node:crypto';
import axios from 'axios';
import { useSimulator } from '../../support/simulator';
import { SIM_CLIENT_ID, SIM_CLIENT_SECRET, identityOf } from '../../../src/simulator/identity';

const REDIRECT = 'http://127.0.0.1:1880/ms365-connector/auth/callback';
const noThrow = { validateStatus: () => true, maxRedirects: 0 };

function form(params: Record<string, string>): string {
  return new URLSearchParams(params).toString();
}

describe('simulator: identity platform', () => {
  const sim = useSimulator();

  async function authorize(params: Record<string, string>) {
    const url = new URL(`${sim().authorityHost}/common/oauth2/v2.0/authorize`);
    for (const [k, v] of Object.entries({ client_id: SIM_CLIENT_ID, response_type: 'code', redirect_uri: REDIRECT, ...params })) url.searchParams.set(k, v);
    return axios.get(url.toString(), noThrow);
  }

  async function token(params: Record<string, string>, tenant = 'common') {
    return axios.post(`${sim().authorityHost}/${tenant}/oauth2/v2.0/token`, form({ client_id: SIM_CLIENT_ID, client_secret: SIM_CLIENT_SECRET, ...params }), {
      ...noThrow,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
  }

  async function signIn(scope = 'openid profile offline_access User.Read Mail.Read') {
    const verifier = 'v'.repeat(43) + Math.random().toString(36).slice(2);
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const res = await authorize({ scope, state: 'st1', code_challenge: challenge, code_challenge_method: 'S256' });
    assert.equal(res.status, 302);
    const location = new URL(res.headers.location as string);
    const code = location.searchParams.get('code') as string;
    const tok = await token({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier, scope });
    return { tok, code, verifier };
  }

  it('GET authorize redirects to redirect_uri with a code and the state', async () => {
    const res = await authorize({ scope: 'openid offline_access Mail.Read', state: 'abc<>' });
    assert.equal(res.status, 302);
    const location = new URL(res.headers.location as string);
    assert.equal(location.origin + location.pathname, REDIRECT);
    assert.equal(location.searchParams.get('state'), 'abc<>');
    assert.match(location.searchParams.get('code') ?? '', /^sim-code-/);
  });

  it('GET authorize with an unregistered non-loopback redirect_uri answers 400 AADSTS50011', async () => {
    const res = await authorize({ scope: 'Mail.Read', redirect_uri: 'https://evil.example/cb' });
    assert.equal(res.status, 400);
    assert.match(String(res.data), /AADSTS50011/);
  });

  it('GET authorize with an injected authorizeError redirects with ?error=access_denied', async () => {
    identityOf(sim().state).authorizeError = { error: 'access_denied', description: 'AADSTS65004: declined' };
    const res = await authorize({ scope: 'Mail.Read', state: 's' });
    const location = new URL(res.headers.location as string);
    assert.equal(location.searchParams.get('error'), 'access_denied');
    assert.equal(location.searchParams.get('state'), 's');
  });

  it('POST token authorization_code + PKCE returns access, refresh and a verifiable id_token', async () => {
    const { tok } = await signIn();
    assert.equal(tok.status, 200);
    assert.equal(tok.data.token_type, 'Bearer');
    assert.ok(tok.data.refresh_token);
    const [h, p, s] = (tok.data.id_token as string).split('.');
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
    assert.equal(payload.preferred_username, 'adele@contoso.example');
    const jwks = (await axios.get(`${sim().authorityHost}/common/discovery/v2.0/keys`)).data;
    const key = createPublicKey({ key: jwks.keys[0], format: 'jwk' });
    assert.ok(createVerify('RSA-SHA256').update(`${h}.${p}`).verify(key, Buffer.from(s, 'base64url')));
    const me = await axios.get(`${sim().graphBaseUrl}/me`, { ...noThrow, headers: { Authorization: `Bearer ${tok.data.access_token}` } });
    assert.notEqual(me.status, 401);
  });

  it('POST token with client_info=1 answers client_info (base64url {uid, utid}); without it, none', async () => {
    // "Microsoft identity platform and OAuth 2.0 authorization code flow": MSAL sends client_info=1 and keys its cache on uid.utid.
    const verifier = 'w'.repeat(50);
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const res = await authorize({ scope: 'openid offline_access Mail.Read', code_challenge: challenge, code_challenge_method: 'S256', nonce: 'n-1' });
    const code = new URL(res.headers.location as string).searchParams.get('code') as string;
    const tok = await token({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier, client_info: '1' });
    assert.equal(tok.status, 200);
    assert.deepEqual(JSON.parse(Buffer.from(tok.data.client_info, 'base64url').toString()), { uid: sim().state.defaultUser.id, utid: sim().state.tenantId });
    const claims = JSON.parse(Buffer.from((tok.data.id_token as string).split('.')[1], 'base64url').toString());
    assert.equal(claims.nonce, 'n-1');
    assert.equal(claims.oid, sim().state.defaultUser.id);
    assert.equal(claims.tid, sim().state.tenantId);
    const refreshed = await token({ grant_type: 'refresh_token', refresh_token: tok.data.refresh_token, client_info: '1' });
    assert.ok(refreshed.data.client_info);
    const plain = await token({ grant_type: 'refresh_token', refresh_token: refreshed.data.refresh_token });
    assert.equal(plain.status, 200);
    assert.equal(plain.data.client_info, undefined);
  });

  it('POST token redeeming a code twice answers invalid_grant AADSTS54005', async () => {
    const { code, verifier } = await signIn();
    const again = await token({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier });
    assert.equal(again.status, 400);
    assert.equal(again.data.error, 'invalid_grant');
    assert.deepEqual(again.data.error_codes, [54005]);
    assert.match(again.data.error_description, /^AADSTS54005: .*\r\nTrace ID: /);
  });

  it('POST token with a wrong code_verifier answers invalid_grant AADSTS501481', async () => {
    const res = await authorize({ scope: 'offline_access Mail.Read', code_challenge: createHash('sha256').update('right').digest('base64url'), code_challenge_method: 'S256' });
    const code = new URL(res.headers.location as string).searchParams.get('code') as string;
    const tok = await token({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: 'wrong' });
    assert.equal(tok.status, 400);
    assert.deepEqual(tok.data.error_codes, [501481]);
  });

  it('POST token without offline_access returns no refresh token', async () => {
    const { tok } = await signIn('openid Mail.Read');
    assert.equal(tok.status, 200);
    assert.equal(tok.data.refresh_token, undefined);
  });

  it('POST token refresh_token rotates: the new one works, the used one answers invalid_grant', async () => {
    const { tok } = await signIn();
    const first = await token({ grant_type: 'refresh_token', refresh_token: tok.data.refresh_token, scope: 'offline_access Mail.Read' });
    assert.equal(first.status, 200);
    assert.notEqual(first.data.refresh_token, tok.data.refresh_token);
    const stale = await token({ grant_type: 'refresh_token', refresh_token: tok.data.refresh_token });
    assert.equal(stale.status, 400);
    assert.equal(stale.data.error, 'invalid_grant');
    const second = await token({ grant_type: 'refresh_token', refresh_token: first.data.refresh_token });
    assert.equal(second.status, 200);
  });

  it('POST token refresh after revokeRefreshTokens answers invalid_grant AADSTS50173', async () => {
    const { tok } = await signIn();
    const res = await axios.post(`${sim().controlUrl}/identity/faults`, { kind: 'revokeRefreshTokens' });
    assert.ok(res.data.revoked >= 1);
    const refresh = await token({ grant_type: 'refresh_token', refresh_token: tok.data.refresh_token });
    assert.equal(refresh.status, 400);
    assert.deepEqual(refresh.data.error_codes, [50173]);
  });

  it('POST token with an injected temporarily_unavailable fault answers 503 once', async () => {
    await axios.post(`${sim().controlUrl}/identity/faults`, { kind: 'tokenError', error: 'temporarily_unavailable' });
    const failed = await token({ grant_type: 'client_credentials', scope: 'https://graph.microsoft.com/.default' }, sim().state.tenantId);
    assert.equal(failed.status, 503);
    assert.equal(failed.data.error, 'temporarily_unavailable');
    const ok = await token({ grant_type: 'client_credentials', scope: 'https://graph.microsoft.com/.default' }, sim().state.tenantId);
    assert.equal(ok.status, 200);
  });

  it('POST token client_credentials needs a .default scope and returns no refresh token', async () => {
    const bad = await token({ grant_type: 'client_credentials', scope: 'Mail.Read' }, sim().state.tenantId);
    assert.equal(bad.status, 400);
    assert.equal(bad.data.error, 'invalid_scope');
    const ok = await token({ grant_type: 'client_credentials', scope: 'https://graph.microsoft.com/.default' }, sim().state.tenantId);
    assert.equal(ok.status, 200);
    assert.equal(ok.data.refresh_token, undefined);
    assert.equal(ok.data.expires_in, 3599);
  });

  it('POST token with a wrong client secret answers 401 invalid_client', async () => {
    const res = await token({ grant_type: 'client_credentials', scope: 'https://graph.microsoft.com/.default', client_secret: 'nope' }, sim().state.tenantId);
    assert.equal(res.status, 401);
    assert.equal(res.data.error, 'invalid_client');
  });

  it('POST token with a malformed body answers 4xx and the server keeps answering', async () => {
    const res = await axios.post(`${sim().authorityHost}/common/oauth2/v2.0/token`, '%%%&&&==', { ...noThrow, headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    assert.ok(res.status >= 400 && res.status < 500);
    const jwks = await axios.get(`${sim().authorityHost}/${sim().state.tenantId}/discovery/v2.0/keys`);
    assert.equal(jwks.status, 200);
  });

  it('POST /_sim/identity/apps registers an app that can get tokens', async () => {
    const created = (await axios.post(`${sim().controlUrl}/identity/apps`, { displayName: 'x' })).data;
    const res = await token({ grant_type: 'client_credentials', scope: 'https://graph.microsoft.com/.default', client_id: created.clientId, client_secret: created.clientSecret }, sim().state.tenantId);
    assert.equal(res.status, 200);
  });
});
