import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { importInstance, legacyPollerUrls } from '../../../src/core/opencon/instance-import';
import { translateHubUrl } from '../../../src/core/opencon/hub-url';

const FIXTURES = path.join(__dirname, '..', '..', 'fixtures', 'open-connectors');
const fixture = (name: string) => fs.readFileSync(path.join(FIXTURES, name), 'utf8');
type Node = Record<string, unknown> & { id: string; type: string };
const byType = (flow: Node[], type: string) => flow.filter((n) => n.type === type);

describe('importInstance (Open Connectors instance → flow)', () => {
  it('outlookemail polling fixture → connector + poller (interval 15, configuration kept) + callback-out', () => {
    const { flow, unmapped } = importInstance(fixture('outlookemail-polling.json'));
    const [conn] = byType(flow, 'ms365-connector');
    assert.equal(conn.elementKey, 'outlookemail');
    assert.equal(conn.name, 'API Instance with Polling');
    assert.deepEqual(conn.credentials, { clientId: 'Rand0MAP1-key', clientSecret: 'fak3AP1-s3Cr3t' });
    assert.equal(conn.callbackUrl, 'https://mycoolapp.com');
    assert.equal(conn.tags, 'Docs');
    const [poller] = byType(flow, 'ms365-poller');
    assert.equal(poller.connector, conn.id);
    assert.equal(poller.interval, 15);
    const config = JSON.parse(poller.configuration as string);
    assert.match(config.messages.url, /^\/hubs\/general\/messages\?where=LastModifiedDateTime>='\$\{gmtDate:/);
    assert.equal(config.messages.datesConfiguration.updatedAtField, 'LastModifiedDateTime');
    const [callback] = byType(flow, 'ms365-callback-out');
    assert.equal(callback.url, 'https://api.openconnectors.us2.ext.hana.ondemand.com/elements/api-v2/events/');
    assert.deepEqual((poller.wires as string[][])[0].sort(), [callback.id, byType(flow, 'debug')[0].id].sort());
    assert.deepEqual(unmapped, []);
  });

  it('office365 polling fixture: refresh_interval "20" → 20 minutes; hub URL without where kept for the poller', () => {
    const { flow } = importInstance(fixture('office365-polling.json'));
    const [poller] = byType(flow, 'ms365-poller');
    assert.equal(poller.interval, 20);
    assert.equal(JSON.parse(poller.configuration as string).messages.url, '/hubs/productivity/messages');
    assert.equal(byType(flow, 'ms365-callback-out')[0].url, 'http://mycoolapp.com');
  });

  it('microsoftgraph fixture → webhook-in on default calendar events; the OAuth code is not reused', () => {
    const { flow, warnings } = importInstance(fixture('microsoftgraph-webhooks.json'));
    const [hook] = byType(flow, 'ms365-webhook-in');
    assert.deepEqual(JSON.parse(hook.subscriptions as string), [{ resource: 'me/events', changeType: 'created,updated,deleted' }]);
    assert.equal(byType(flow, 'ms365-poller').length, 0);
    assert.equal(byType(flow, 'ms365-connector')[0].scope, 'Calendars.Read Calendars.ReadWrite offline_access');
    assert.ok(!JSON.stringify(flow).includes('xoz8AFqScK2ngM04kSSM'), 'providerData.code absent from the flow');
    assert.ok(warnings.some((w) => /single-use/.test(w)));
  });

  it('onedrivev2 fixture: "true" as a string enables notifications; empty callback URL → no callback-out, a warning', () => {
    const { flow, warnings } = importInstance(fixture('onedrivev2-polling.json'));
    assert.equal(byType(flow, 'ms365-poller').length, 1);
    assert.equal(byType(flow, 'ms365-callback-out').length, 0);
    assert.ok(warnings.some((w) => /callback\.url is empty/.test(w)));
  });

  it('every imported flow starts with a tab and a comment node, and every node sits on the tab', () => {
    for (const file of ['outlookemail-polling.json', 'office365-polling.json', 'microsoftgraph-webhooks.json', 'onedrivev2-polling.json']) {
      const { flow } = importInstance(fixture(file));
      assert.equal(flow[0].type, 'tab');
      assert.equal(flow[1].type, 'comment');
      for (const n of flow.slice(1)) if (n.type !== 'ms365-connector') assert.equal(n.z, flow[0].id, `${file} ${n.type}`);
    }
  });

  it('malformed fixture → one-line error with line and column', () => {
    assert.throws(() => importInstance(fixture('microsoftgraph-webhooks-malformed.json')), (err: Error) => {
      assert.match(err.message, /^invalid instance JSON at line 12, column 5 .*Expected ','/);
      assert.ok(!err.message.includes('\n'));
      return true;
    });
  });

  it('invalid JSON at a secret value → the error gives line and column but never the value', () => {
    const text = '{\n  "configuration": {\n    "oauth.api.secret": s3cr3t-VALUE,\n  }\n}';
    assert.throws(() => importInstance(text), (err: Error) => {
      assert.match(err.message, /line 3, column 25 \(near the value of a secret\)/);
      assert.ok(!err.message.includes('s3cr3t'));
      return true;
    });
  });

  it('unknown element key → error naming element.key', () => {
    assert.throws(() => importInstance('{"element":{"key":"gmail"}}'), /element\.key: "gmail": expected one of/);
  });

  it('configuration as an escaped string is parsed; an invalid one names the key and position', () => {
    const body = { element: { key: 'outlookemail' }, configuration: { 'event.poller.configuration': JSON.stringify({ messages: { url: '/me/messages', idField: 'id' } }) } };
    const { flow } = importInstance(JSON.stringify(body));
    assert.equal(JSON.parse(byType(flow, 'ms365-poller')[0].configuration as string).messages.url, '/me/messages');
    body.configuration['event.poller.configuration'] = '{"messages": {"url": }';
    assert.throws(() => importInstance(JSON.stringify(body)), /invalid event\.poller\.configuration at line 1, column 22/);
  });

  it('settings without an equivalent are listed, not dropped', () => {
    const body = { element: { key: 'outlookemail' }, configuration: { 'event.poller.refresh_interval': '5', 'filter.response.nulls': 'true' }, disabled: false };
    const { unmapped } = importInstance(JSON.stringify(body));
    assert.deepEqual(unmapped.sort(), ['configuration.filter.response.nulls', 'disabled']);
  });

  it('legacy event.poller.urls lines become resources with dates configuration', () => {
    const config = legacyPollerUrls("contacts|/hubs/crm/contacts?where=LastModifiedDate>=${date}||LastModifiedDate|yyyy-MM-dd'T'HH:mm:ssZ||CreatedDate|yyyy-MM-dd'T'HH:mm:ssZ");
    assert.deepEqual(config, {
      contacts: {
        url: '/hubs/crm/contacts?where=LastModifiedDate>=${date}',
        idField: 'id',
        datesConfiguration: {
          updatedDateField: 'LastModifiedDate',
          updatedDateFormat: "yyyy-MM-dd'T'HH:mm:ssZ",
          createdDateField: 'CreatedDate',
          createdDateFormat: "yyyy-MM-dd'T'HH:mm:ssZ",
        },
      },
    });
  });

  it('an untranslatable poller url, date pattern or zone → ConfigurationError naming event.poller.configuration.<resource>.<key>', () => {
    const body = (spec: Record<string, unknown>) =>
      JSON.stringify({ element: { key: 'outlookemail' }, configuration: { 'event.poller.configuration': { messages: { url: '/hubs/general/messages', idField: 'id', ...spec } } } });
    assert.throws(() => importInstance(body({ url: '/hubs/crm/contacts' })), /event\.poller\.configuration\.messages\.url: .*hub "crm"/);
    assert.throws(() => importInstance(body({ url: "/hubs/general/messages?where=Subject like 'x'" })), /messages\.url: .*found "like"/);
    assert.throws(() => importInstance(body({ url: '/me/messages?$filter=x ge ${when}' })), /messages\.url: .*unknown macro \$\{when\}/);
    assert.throws(
      () => importInstance(body({ datesConfiguration: { updatedDateField: 'x', updatedDateFormat: "yyyy-MM-ddTHH" } })),
      /messages\.datesConfiguration\.updatedDateFormat: .*letter 'T'/,
    );
    assert.throws(() => importInstance(body({ datesConfiguration: { updatedDateTimezone: 'Moon/Base' } })), /updatedDateTimezone: .*Moon\/Base/);
    const { warnings } = importInstance(body({ datesConfiguration: { updatedDateFormat: 'YYYY-MM-dd' } }));
    assert.ok(warnings.some((w) => /updatedDateFormat: .*week year/.test(w)));
  });

  it('event.poller.urls "messages|events" selects resources (later meaning), not legacy lines', () => {
    const config = { messages: { url: '/me/messages', idField: 'id' }, events: { url: '/me/events', idField: 'id' }, contacts: { url: '/me/contacts', idField: 'id' } };
    const body = { element: { key: 'office365' }, configuration: { 'event.poller.configuration': config, 'event.poller.urls': 'messages|events' } };
    const { flow } = importInstance(JSON.stringify(body));
    assert.deepEqual(Object.keys(JSON.parse(byType(flow, 'ms365-poller')[0].configuration as string)), ['messages', 'events']);
  });

  it('event.notification.signature.key → callback-out credentials.signatureKey, never in a plain property, warning or unmapped', () => {
    const body = {
      element: { key: 'office365' },
      configuration: {
        'event.notification.enabled': true,
        'event.notification.callback.url': 'https://hooks.example/oc',
        'event.notification.signature.key': 's1gn-k3y-VALUE',
        'event.poller.refresh_interval': '1',
      },
    };
    const { flow, unmapped, warnings } = importInstance(JSON.stringify(body));
    const [callback] = byType(flow, 'ms365-callback-out');
    assert.deepEqual(callback.credentials, { signatureKey: 's1gn-k3y-VALUE' });
    const { credentials: _c, ...plain } = callback;
    assert.ok(!JSON.stringify(plain).includes('s1gn-k3y-VALUE'));
    assert.ok(!JSON.stringify([unmapped, warnings]).includes('s1gn-k3y-VALUE'));
    assert.equal(byType(flow, 'ms365-poller')[0].interval, 1);
  });

  it('legacy event.poller.urls lines in an instance → poller configuration whose url translates to Graph', () => {
    const line = "messages|/hubs/general/messages?where=LastModifiedDateTime>=${date}||LastModifiedDateTime|yyyy-MM-dd'T'HH:mm:ssXXX|GMT|ReceivedDateTime|yyyy-MM-dd'T'HH:mm:ssXXX|GMT";
    const body = { element: { key: 'outlookemail' }, configuration: { 'event.vendor.type': 'polling', 'event.poller.urls': line } };
    const { flow } = importInstance(JSON.stringify(body));
    const config = JSON.parse(byType(flow, 'ms365-poller')[0].configuration as string);
    assert.equal(config.messages.url, '/hubs/general/messages?where=LastModifiedDateTime>=${date}');
    assert.equal(config.messages.datesConfiguration.updatedDateTimezone, 'GMT');
    assert.equal(translateHubUrl(config.messages.url, 'outlookemail').path, '/me/messages?$filter=lastModifiedDateTime%20ge%20${date}');
  });

  it('ms365-events import CLI: writes flow JSON; malformed input → one stderr line, exit code 2', () => {
    const cli = path.join(__dirname, '..', '..', '..', 'src', 'cli.ts');
    const ok = spawnSync(process.execPath, ['-r', 'tsx/cjs', cli, 'import', path.join(FIXTURES, 'outlookemail-polling.json')], { encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stderr);
    assert.ok(Array.isArray(JSON.parse(ok.stdout)));
    const bad = spawnSync(process.execPath, ['-r', 'tsx/cjs', cli, 'import', path.join(FIXTURES, 'microsoftgraph-webhooks-malformed.json')], { encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
    assert.match(bad.stderr, /line 12, column 5/);
  });
});
