import assert from 'node:assert/strict';
import { appOnlyScope, cloudOf, CLOUDS, isCloudId } from '../../../src/core/auth/clouds';
import { resolveConnectorConfig } from '../../../src/core/auth/connector-config';

describe('auth: national clouds ("Microsoft Graph national cloud deployments")', () => {
  it('each cloud has the authority host and Graph root of Microsoft\'s tables', () => {
    assert.deepEqual(
      Object.values(CLOUDS).map((c) => [c.id, c.authorityHost, c.graphBaseUrl]),
      [
        ['global', 'https://login.microsoftonline.com', 'https://graph.microsoft.com/v1.0'],
        ['usgov', 'https://login.microsoftonline.us', 'https://graph.microsoft.us/v1.0'],
        ['usgovdod', 'https://login.microsoftonline.us', 'https://dod-graph.microsoft.us/v1.0'],
        ['china', 'https://login.chinacloudapi.cn', 'https://microsoftgraph.chinacloudapi.cn/v1.0'],
      ],
    );
    assert.ok(isCloudId('china'));
    assert.ok(!isCloudId('custom'));
  });

  it('cloudOf: both hosts must match (version and trailing slash do not count); anything else is custom', () => {
    assert.equal(cloudOf('', ''), 'global');
    assert.equal(cloudOf('https://login.microsoftonline.com/', 'https://graph.microsoft.com/beta'), 'global');
    assert.equal(cloudOf('https://login.microsoftonline.us', 'https://graph.microsoft.us/v1.0'), 'usgov');
    assert.equal(cloudOf('https://login.microsoftonline.us', 'https://dod-graph.microsoft.us/v1.0'), 'usgovdod');
    assert.equal(cloudOf('https://login.chinacloudapi.cn', 'https://microsoftgraph.chinacloudapi.cn/v1.0'), 'china');
    assert.equal(cloudOf('https://login.microsoftonline.com', 'https://graph.microsoft.us/v1.0'), 'custom');
    assert.equal(cloudOf('http://127.0.0.1:4000', 'http://127.0.0.1:4000/v1.0'), 'custom');
    assert.equal(cloudOf('not a url', 'https://graph.microsoft.com/v1.0'), 'custom');
  });

  it('app-only scope uses the Graph host of the cloud ("Permission scopes"); other hosts get the global one', () => {
    assert.equal(appOnlyScope('https://graph.microsoft.com/v1.0'), 'https://graph.microsoft.com/.default');
    assert.equal(appOnlyScope('https://dod-graph.microsoft.us/v1.0'), 'https://dod-graph.microsoft.us/.default');
    assert.equal(appOnlyScope('https://microsoftgraph.chinacloudapi.cn/v1.0'), 'https://microsoftgraph.chinacloudapi.cn/.default');
    assert.equal(appOnlyScope('http://127.0.0.1:4000/v1.0'), 'https://graph.microsoft.com/.default');
    const config = resolveConnectorConfig({
      grantType: 'client_credentials',
      tenant: 'contoso.onmicrosoft.us',
      userId: 'adele',
      ...{ authorityHost: CLOUDS.usgov.authorityHost, graphBaseUrl: CLOUDS.usgov.graphBaseUrl },
    });
    assert.equal(config.scope, 'https://graph.microsoft.us/.default');
  });
});
