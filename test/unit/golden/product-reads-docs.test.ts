/**
 * The product's parsers and engines over every Microsoft example in `test/fixtures/graph/` (issue 14 item 6):
 * delta pages through the delta engine (real GraphClient, pages served over HTTP by `fixture-server.ts`),
 * notifications through `src/core/webhooks`, token answers through `src/core/auth`, Graph errors through the Graph
 * client's error mapping, the subscription answer through the subscription manager. Every fixture must be read by
 * one of these tests (the last test checks it), and every fixture names its page in the README beside it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { GraphClient, GraphError, toGraphError } from '../../../src/core/graph/client';
import { pollResource, type DeltaCursor, type EngineContext } from '../../../src/core/changes';
import { parsePollerConfiguration, type ResourceConfig } from '../../../src/core/opencon/poller-config';
import { readDate } from '../../../src/core/changes/shared';
import { clientStateMatches, normalizeNotification, objectIdOf, objectTypeOf, parseNotificationBody, withoutClientState } from '../../../src/core/webhooks/notifications';
import { SubscriptionManager, type SubscriptionEvent } from '../../../src/core/webhooks/subscription-manager';
import { MicrosoftOAuth } from '../../../src/core/auth/oauth';
import { OAuthError } from '../../../src/core/auth/errors';
import { listCalendars } from '../../../src/core/graph/browse';
import { FIXTURE_DIR, fixture, fixtureNames, type GoldenFixture } from './shape';
import { startFixtureServer, type FixtureServer } from './fixture-server';

const read = new Set<string>();
function use(name: string): GoldenFixture {
  read.add(name);
  return fixture(name);
}

const tokens = { getAccessToken: async () => 'golden-token', onUnauthorized: async () => undefined };

describe('the product reads Microsoft documentation examples', () => {
  let server: FixtureServer;
  let graph: GraphClient;
  const sleeps: number[] = [];

  before(async () => {
    server = await startFixtureServer();
    graph = new GraphClient({
      baseUrl: server.graphBaseUrl,
      tokens,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    });
  });
  after(async () => {
    await server.close();
  });

  const resource = (elementKey: 'outlookemail' | 'onedrivev2' | 'office365', url: string): ResourceConfig => {
    const key = elementKey === 'outlookemail' ? 'messages' : elementKey === 'onedrivev2' ? 'driveItems' : 'events';
    return parsePollerConfiguration({ [key]: { url, idField: 'id' } }, { elementKey, timezone: 'UTC', mePath: '/me' })[0]!;
  };
  /** One delta round from a saved deltaLink (the starting point is not what these examples are about). */
  function roundFrom(res: ResourceConfig, deltaLink: string, elementKey: EngineContext['elementKey']) {
    const cursor: DeltaCursor = { mode: 'delta', deltaLink: `${server.origin}${server.local(deltaLink)}`, syncedAt: Date.now() - 60_000 };
    return pollResource({ graph, elementKey, instanceName: 'golden', pollStart: Date.now() }, res, cursor);
  }

  describe('delta pages through the delta engine', () => {
    it('messages ("Get incremental changes to messages in a folder"): a round over two pages, then @removed and an update', async () => {
      const first = use('message-delta-first-page.json');
      const last = use('message-delta-last-page.json');
      const next = use('message-delta-next-round.json');
      const start = "https://graph.microsoft.com/v1.0/me/mailfolders('AQMkADNkNAAAgEMAAAA')/messages/delta?$deltatoken=start";
      server.on('GET', server.local(start), server.answer(first));
      // The page between the first and the last one is not in the fixtures: the first page's nextLink leads to the last.
      server.on('GET', server.local((first.body as { '@odata.nextLink': string })['@odata.nextLink']), server.answer(last));
      server.on('GET', server.local((last.body as { '@odata.deltaLink': string })['@odata.deltaLink']), server.answer(next));
      const mail = resource('outlookemail', "/me/mailFolders('AQMkADNkNAAAgEMAAAA')/messages/delta");
      const round = await roundFrom(mail, start, 'outlookemail');
      // $select=subject,sender,isRead: no dates, so nothing proves an object new: UPDATED, never lost.
      assert.deepEqual(round.events.map((e) => [e.objectId, e.eventType]), [
        ['AAMkADNkNAAASq35xAAA=', 'UPDATED'],
        ['AQMkADNkNAAAVRMKAAAAA==', 'UPDATED'],
        ['AAMkADk0MGFkODE3LWEAAA=', 'UPDATED'],
      ]);
      assert.equal(round.cursor.mode, 'delta');
      const after = await pollResource({ graph, elementKey: 'outlookemail', instanceName: 'golden', pollStart: Date.now() }, mail, round.cursor);
      assert.deepEqual(after.events.map((e) => [e.objectId, e.eventType]), [
        ['AAMkADk0MGFkODE3LWE4MmYtNDRhOS0Dh_6qB-pB2Sa2pUum19a6YAAKnLuxoAAA=', 'DELETED'],
        ['AAMkADNkNAAASq35xAAA=', 'UPDATED'],
      ]);
      // The page's string "true" reaches the flow as Graph sent it.
      assert.equal((after.events[1].raw as { isRead?: unknown }).isRead, 'true');
    });

    it('events ("Get incremental changes to events in a calendar view"): a silent first enumeration, then @removed and a changed event', async () => {
      const first = use('event-delta-first-page.json');
      const last = use('event-delta-last-page.json');
      const next = use('event-delta-next-round.json');
      // The first request carries the window the engine chose (its own dates): any window gets the first page.
      server.on('GET', '/v1.0/me/calendarView/delta?*', server.answer(first));
      server.on('GET', server.local((first.body as { '@odata.nextLink': string })['@odata.nextLink']), server.answer(last));
      server.on('GET', server.local((last.body as { '@odata.deltaLink': string })['@odata.deltaLink']), server.answer(next));
      const events = resource('office365', '/me/calendarView/delta');
      const ctx = (): EngineContext => ({ graph, elementKey: 'office365', instanceName: 'golden', pollStart: Date.now() });
      const start = await pollResource(ctx(), events, undefined);
      assert.ok(start.events.every((e) => e.eventType !== 'DELETED'), 'the first enumeration deletes nothing');
      const after = await pollResource(ctx(), events, start.cursor);
      const byId = new Map(after.events.map((e) => [e.objectId, e]));
      // Graph also sends `@removed` for events outside the window ("event: delta"), and the page removes an event the
      // first round never showed: reported as DELETED, or left out by an engine that only reports removals of events
      // it saw in its window; never anything else.
      const removed = byId.get('AAMkADk0MGFkODE3LWE4MmYtNDRhOS04OGQLkRkXbBznTvAADb6ytyAAA=');
      assert.ok(removed === undefined || removed.eventType === 'DELETED', JSON.stringify(removed?.eventType));
      assert.equal(byId.get('AAMkADj1HvAAA=')?.eventType, 'UPDATED');
      // dateTimeTimeZone start/end pass through untouched.
      assert.deepEqual((byId.get('AAMkADj1HvAAA=')?.raw as { start?: unknown }).start, { dateTime: '2016-12-25T06:00:00.0000000', timeZone: 'UTC' });
    });

    it('drive ("driveItem: delta"): token=latest, then two pages merged by id, deleted facets as DELETED', async () => {
      const latest = use('driveitem-delta-latest.json');
      const first = use('driveitem-delta-first-page.json');
      const last = use('driveitem-delta-last-page.json');
      const start = 'https://graph.microsoft.com/v1.0/me/drive/root/delta?token=saved';
      server.on('GET', server.local(start), server.answer(latest));
      server.on('GET', server.local((latest.body as { '@odata.deltaLink': string })['@odata.deltaLink']), server.answer(first));
      server.on('GET', server.local((first.body as { '@odata.nextLink': string })['@odata.nextLink']), server.answer(last));
      const drive = resource('onedrivev2', '/me/drive/root/delta');
      const quiet = await roundFrom(drive, start, 'onedrivev2');
      assert.deepEqual(quiet.events, []);
      const round = await pollResource({ graph, elementKey: 'onedrivev2', instanceName: 'golden', pollStart: Date.now() }, drive, quiet.cursor);
      // folder2 appears twice (last wins: deleted); file.txt twice (changed); file5.txt deleted.
      assert.deepEqual(round.events.map((e) => [e.objectId, e.eventType]).sort(), [
        ['0123456789abc', 'DELETED'],
        ['123010204abac', 'UPDATED'],
        ['2353010204ddgg', 'DELETED'],
      ]);
      assert.match(round.cursor.mode === 'delta' ? round.cursor.deltaLink : '', /root\/delta\?\(token='MzslMjM0/);
    });

    it('drive with a timestamp token (business drives only): the page reads the same way', async () => {
      const page = use('driveitem-delta-timestamp-business.json');
      const start = 'https://graph.microsoft.com/v1.0/me/drive/root/delta?token=2021-09-29T20%3A00%3A00Z';
      server.on('GET', server.local(start), server.answer(page));
      const round = await roundFrom(resource('onedrivev2', '/me/drive/root/delta'), start, 'onedrivev2');
      assert.deepEqual(round.events.map((e) => [e.objectId, e.eventType]), [['0123456789abc', 'DELETED'], ['123010204abac', 'UPDATED']]);
    });
  });

  describe('the calendar picker ("Get calendar")', () => {
    it('a calendar as Microsoft documents it is listed by id and name, default or not', async () => {
      const calendar = use('calendar-get.json');
      server.on('GET', '/v1.0/me/calendars*', { status: 200, body: { value: [server.answer(calendar).body] } });
      const listed = await listCalendars(graph, '/me');
      assert.deepEqual(listed, { value: [{ id: 'AAMkAGI2TGuLAAA=', name: 'Calendar', isDefault: false }], more: false });
    });
  });

  describe('single objects: the dates a poller reads parse at their documented precision', () => {
    for (const name of ['message-get.json', 'contact-get.json', 'event-post.json', 'driveitem-get-root-business.json', 'drive-get-business.json']) {
      it(`${name}: ids, etags and every *DateTime field read`, () => {
        const body = use(name).body as Record<string, unknown>;
        assert.ok(typeof body.id === 'string' && body.id.length > 0);
        for (const [key, value] of Object.entries(body)) {
          if (!/DateTime$/.test(key) || typeof value !== 'string') continue;
          assert.ok(Number.isFinite(Date.parse(value)), `${name} ${key} ${value}`);
        }
      });
    }
  });

  describe('recurring series ("List instances")', () => {
    it('occurrences and an exception: dateTimeTimeZone start/end read as UTC instants, series and type kept', () => {
      const body = use('event-instances.json').body as { value: Array<Record<string, unknown> & { start: { dateTime: string; timeZone: string } }> };
      for (const item of body.value) {
        const start = readDate(item, 'start.dateTime', undefined, item.start.timeZone);
        assert.equal(start, Date.parse(`${item.start.dateTime.slice(0, 23)}Z`), item.start.dateTime);
        assert.equal(item.seriesMasterId, 'AAMkAGUzYRgWAAA=');
      }
      assert.deepEqual(body.value.map((i) => i.type), ['exception', 'occurrence', 'occurrence', 'occurrence']);
    });
  });

  describe('notifications through src/core/webhooks', () => {
    it('change notification: parsed, clientState checked in constant time, normalized without the secret', () => {
      const golden = use('notification-message-created.json');
      const batch = parseNotificationBody(JSON.stringify(golden.body));
      assert.equal(batch.items.length, 1);
      const [item] = batch.items;
      assert.ok(clientStateMatches('secretClientValue', item.clientState));
      assert.ok(!clientStateMatches('other', item.clientState));
      assert.equal(objectTypeOf(item), 'messages');
      assert.equal(objectIdOf(item), '{long_id_string}');
      const event = normalizeNotification(item, { elementKey: 'outlookemail', instanceName: 'golden', receivedAt: Date.parse('2016-03-19T22:00:00Z') });
      assert.equal(event.eventType, 'CREATED');
      assert.equal(event.objectType, 'messages');
      assert.ok(!JSON.stringify(event).includes('secretClientValue'));
      assert.ok(Number.isFinite(Date.parse(String(item.subscriptionExpirationDateTime))));
    });

    for (const [name, lifecycleEvent] of [
      ['lifecycle-reauthorization-required.json', 'reauthorizationRequired'],
      ['lifecycle-missed.json', 'missed'],
      ['lifecycle-subscription-removed.json', 'subscriptionRemoved'],
      ['lifecycle-structure.json', 'subscriptionRemoved or missed or reauthorizationRequired'],
    ] as const) {
      it(`lifecycle notification ${name}: parsed, its event and expiration read, no secret left`, () => {
        const batch = parseNotificationBody(JSON.stringify(use(name).body));
        assert.equal(batch.items.length, 1);
        const [item] = batch.items;
        assert.equal(item.lifecycleEvent, lifecycleEvent);
        // 7 digits with Z and with +00:00 both read.
        assert.ok(Number.isFinite(Date.parse(String(item.subscriptionExpirationDateTime))), String(item.subscriptionExpirationDateTime));
        assert.ok(!('clientState' in withoutClientState(item)));
      });
    }
  });

  describe('the subscription answer through the subscription manager', () => {
    it('"Create subscription": the id and the 7-digit expiration are kept', async () => {
      const golden = use('subscription-post.json');
      server.on('POST', '/v1.0/subscriptions', server.answer(golden));
      const events: SubscriptionEvent[] = [];
      const manager = new SubscriptionManager({
        graph,
        notificationUrl: 'https://webhook.azurewebsites.net/api/send/myNotifyClient',
        clientState: 'secretClientValue',
        specs: [{ resource: "me/mailFolders('Inbox')/messages", changeType: 'created' }],
        load: async () => [],
        save: async () => undefined,
        onEvent: (e) => events.push(e),
        now: () => Date.parse('2016-11-19T18:23:45Z'),
      });
      try {
        await manager.start();
      } finally {
        manager.stop();
      }
      assert.deepEqual(events.map((e) => [e.kind, e.subscriptionId, e.expirationDateTime]), [['created', '7f105c7d-2dc5-4530-97cd-4e7ae6534c07', '2016-11-20T18:23:45.9356913Z']]);
      assert.equal(Date.parse(manager.current[0].expirationDateTime), Date.parse('2016-11-20T18:23:45.935Z'));
    });
  });

  describe('token answers through src/core/auth', () => {
    let oauth: MicrosoftOAuth;
    before(() => {
      oauth = new MicrosoftOAuth({ authorityHost: server.origin, tenant: 'common', clientId: '11112222-bbbb-3333-cccc-4444dddd5555', clientSecret: 'sampleCredentia1s', now: () => 1_000_000 });
    });

    it('authorization code answer → a token set (the sample id_token is cut short: no account, no failure)', async () => {
      server.on('POST', '/common/oauth2/v2.0/token', server.answer(use('token-authorization-code.json')));
      const set = await oauth.redeemCode({ code: 'OAAABAAAAiL9Kn2Z27Uub', redirectUri: 'http://localhost/myapp/', codeVerifier: 'ThisIsntRandomButItNeedsToBe43CharactersLong', scope: 'https://graph.microsoft.com/mail.read' });
      assert.equal(set.accessToken, 'eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiIsIng1dCI6Ik5HVEZ2ZEstZnl0aEV1Q...');
      assert.equal(set.refreshToken, 'AwABAAAAvPM1KaPlrEqdFSBzjqfTGAMxZGUTdM0t4B4...');
      assert.equal(set.expiresAt, 1_000_000 + 3599_000);
      assert.equal(set.account, undefined);
    });

    it('refresh answer → the new refresh token replaces the old one', async () => {
      server.on('POST', '/common/oauth2/v2.0/token', server.answer(use('token-refresh.json')));
      const set = await oauth.refresh({ refreshToken: 'old', scope: 'https://graph.microsoft.com/mail.read', account: 'adele@contoso.example' });
      assert.equal(set.refreshToken, 'AwABAAAAvPM1KaPlrEqdFSBzjqfTGAMxZGUTdM0t4B4...');
      assert.equal(set.account, 'adele@contoso.example');
    });

    it('client credentials answer → an app-only token set without refresh token', async () => {
      server.on('POST', '/common/oauth2/v2.0/token', server.answer(use('token-client-credentials.json')));
      const set = await oauth.clientCredentials('https://graph.microsoft.com/.default');
      assert.equal(set.refreshToken, undefined);
      assert.equal(set.expiresAt, 1_000_000 + 3599_000);
    });

    for (const name of ['token-error-invalid-scope.json', 'token-error-client-credentials.json']) {
      it(`${name} → OAuthError invalid_scope, AADSTS70011, without the trace lines`, async () => {
        server.on('POST', '/common/oauth2/v2.0/token', server.answer(use(name)));
        const err = await oauth.clientCredentials('https://foo.microsoft.com/.default').then(
          () => assert.fail('no error'),
          (e: unknown) => e,
        );
        assert.ok(err instanceof OAuthError);
        assert.equal(err.error, 'invalid_scope');
        assert.equal(err.aadsts, 70011);
        assert.equal(err.status, 400);
        assert.equal(err.needsSignIn, false);
        assert.ok(!/Trace ID|Correlation ID/.test(err.message), err.message);
      });
    }
  });

  describe('Graph errors through the Graph client', () => {
    it('429 (throttling guidance): waits Retry-After, then succeeds; a fractional Retry-After is honoured', async () => {
      const whole = use('graph-error-429.json');
      const fractional = use('graph-error-429-fractional-retry-after.json');
      const ok = { status: 200, body: { value: [] } };
      server.on('GET', '/v1.0/me/mailFolders', server.answer(whole), server.answer(fractional), ok);
      sleeps.length = 0;
      const data = await graph.get<{ value: unknown[] }>('/me/mailFolders');
      assert.deepEqual(data, { value: [] });
      assert.deepEqual(sleeps, [10_000, 2_128]);
      const mapped = toGraphError(429, whole.body, { 'retry-after': '10' });
      assert.equal(mapped.graphCode, 'TooManyRequests');
      assert.equal(mapped.requestId, '94fb3b52-452a-4535-a601-69e0a90e3aa2');
      assert.equal(mapped.retryAfterMs, 10_000);
    });

    it('410 SyncStateNotFound: a GraphError with the code and request id', async () => {
      const golden = use('graph-error-410-syncstatenotfound.json');
      server.on('GET', '/v1.0/me/calendarView/delta?$deltatoken=expired', server.answer(golden));
      const err = await graph.get('/me/calendarView/delta?$deltatoken=expired').then(
        () => assert.fail('no error'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof GraphError);
      assert.equal(err.status, 410);
      assert.equal(err.graphCode, 'SyncStateNotFound');
      assert.equal(err.requestId, '1137f277-eab4-4b9b-bb13-2ceb880bffcb');
    });
  });

  describe('coverage (runs last)', () => {
    it('every fixture is read by one of these tests and listed, with its page, in the README beside it', () => {
    const readme = readFileSync(path.join(FIXTURE_DIR, 'README.md'), 'utf8');
    for (const name of fixtureNames()) {
      assert.ok(read.has(name), `${name} is read by no test`);
      const golden = fixture(name);
      assert.ok(golden.source.page && golden.source.path, `${name} names no page`);
      assert.ok(readme.includes(`\`${name}\``), `${name} is not in test/fixtures/graph/README.md`);
    }
    });
  });
});
