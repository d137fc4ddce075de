import assert from 'node:assert/strict';
import { resolveConnectorConfig, effectiveScope } from '../../../src/core/auth/connector-config';
import { ConfigurationError } from '../../../src/core/errors';
import { accountOf } from '../../../src/core/auth/id-token';
import { createPkce, pkceChallenge } from '../../../src/core/auth/pkce';

describe('auth: connector configuration', () => {
  it('resolveConnectorConfig({}) gives the CONTRACT defaults: outlookemail, common, delegated, /me, offline_access', () => {
    const config = resolveConnectorConfig({});
    assert.equal(config.elementKey, 'outlookemail');
    assert.equal(config.tenant, 'common');
    assert.equal(config.grantType, 'authorization_code');
    assert.equal(config.authorityHost, 'https://login.microsoftonline.com');
    assert.equal(config.graphBaseUrl, 'https://graph.microsoft.com/v1.0');
    assert.equal(config.mePath, '/me');
    assert.equal(config.scope, 'openid profile User.Read Mail.Read offline_access');
  });

  it('effectiveScope keeps a given offline_access once and turns commas into spaces', () => {
    assert.equal(effectiveScope('authorization_code', 'office365', 'Mail.Read,offline_access User.Read'), 'Mail.Read offline_access User.Read');
  });

  it('client credentials: .default scope and /users/{userId} as mePath', () => {
    const config = resolveConnectorConfig({ grantType: 'client_credentials', tenant: 'contoso.onmicrosoft.com', userId: 'adele@contoso.com', scope: 'Mail.Read' });
    assert.equal(config.scope, 'https://graph.microsoft.com/.default');
    assert.equal(config.mePath, '/users/adele%40contoso.com');
  });

  for (const [props, setting] of [
    [{ elementKey: 'dropbox' }, 'elementKey'],
    [{ grantType: 'password' }, 'grantType'],
    [{ grantType: 'client_credentials', tenant: 'x.example' }, 'userId'],
    [{ grantType: 'client_credentials', userId: 'u' }, 'tenant'],
    [{ tenant: 'a/b' }, 'tenant'],
    [{ authorityHost: 'http://login.example.com' }, 'authorityHost'],
    [{ graphBaseUrl: 'ftp://graph' }, 'graphBaseUrl'],
    [{ callbackUrl: 'javascript:alert(1)' }, 'callbackUrl'],
  ] as const) {
    it(`resolveConnectorConfig(${JSON.stringify(props)}) throws ConfigurationError naming ${setting}`, () => {
      assert.throws(() => resolveConnectorConfig(props), (e: unknown) => e instanceof ConfigurationError && e.setting === setting);
    });
  }

  it('accountOf(id_token) reads preferred_username; garbage gives undefined', () => {
    const payload = Buffer.from(JSON.stringify({ preferred_username: 'a@b.example', name: 'A' })).toString('base64url');
    assert.equal(accountOf(`x.${payload}.y`), 'a@b.example');
    assert.equal(accountOf('not-a-jwt'), undefined);
    assert.equal(accountOf('a.%%%.b'), undefined);
  });

  it('createPkce: S256 challenge of the verifier (RFC 7636 appendix B vector)', () => {
    assert.equal(pkceChallenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'), 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
    const pkce = createPkce();
    assert.equal(pkce.verifier.length, 43);
    assert.equal(pkce.challenge, pkceChallenge(pkce.verifier));
  });
});
