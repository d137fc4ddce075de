/**
 * The simulator's answers against Microsoft's own examples (`test/fixtures/graph/`, issue 14 item 6): for the same
 * kind of request, the same field names, JSON types and date forms (`shape.ts`). A field the simulator adds, drops
 * or formats differently fails here; each accepted difference is listed with its reason.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import axios from 'axios';
import { useSimulator } from '../../support/simulator';
import { SIM_CLIENT_ID, SIM_CLIENT_SECRET } from '../../../src/simulator/identity';
import { delegatedToken, get, type Json } from '../simulator/graph-helpers';
import { compareShape, fixture, type CompareOptions } from './shape';

function expectSameShape(fixtureName: string, actual: unknown, options: CompareOptions): void {
  const golden = fixture(fixtureName);
  const differences = compareShape(golden.body, actual, options);
  assert.deepEqual(differences, [], `simulator vs ${fixtureName} ("${golden.source.page}"):\n  ${differences.join('\n  ')}`);
}

const REDIRECT = 'http://127.0.0.1:1880/callback';

/**
 * OData puts `@odata.context` on every Graph JSON answer (the "Get message", "Get contact" and delta examples show it);
 * the OneDrive pages' examples leave it out.
 */
const ODATA_CONTEXT = { '@odata.context': 'on every Graph JSON answer; the OneDrive examples omit it' };

describe('simulator answers vs Microsoft documentation examples', () => {
  const sim = useSimulator();
  let token: string;
  before(() => {
    token = delegatedToken(sim());
  });

  describe('Outlook mail', () => {
    it('GET a message has the fields and date forms of "Get message"', async () => {
      const created = sim().state.graph.store.createMessage(sim().state.defaultUser.id, { subject: 'golden', body: '<p>x</p>', bodyContentType: 'html', from: 'Adele Vance <adele@contoso.example>' });
      const res = await get(sim(), token, `/me/messages/${encodeURIComponent(created.id ?? '')}`);
      assert.equal(res.status, 200);
      expectSameShape('message-get.json', res.data, { mode: 'exact' });
    });

    it('message delta with $select pages as "Get incremental changes to messages in a folder" shows', async () => {
      const store = sim().state.graph.store;
      const userId = sim().state.defaultUser.id;
      const kept = store.createMessage(userId, { subject: 'delta kept', folder: 'drafts' });
      const removed = store.createMessage(userId, { subject: 'delta removed', folder: 'drafts' });
      store.createMessage(userId, { subject: 'delta third', folder: 'drafts' });
      const prefer = { Prefer: 'odata.maxpagesize=2' };
      const first = await get(sim(), token, '/me/mailFolders/drafts/messages/delta?$select=subject,sender,isRead', prefer);
      assert.equal(first.status, 200);
      expectSameShape('message-delta-first-page.json', first.data, { mode: 'exact' });
      let page = first.data as Json;
      while (page['@odata.nextLink']) page = (await get(sim(), token, page['@odata.nextLink'] as string, prefer)).data as Json;
      expectSameShape('message-delta-last-page.json', { ...page, value: (page.value as Json[]).slice(0, 1) }, { mode: 'exact' });
      store.updateMessage(userId, kept.id ?? '', { isRead: true });
      store.deleteMessage(userId, removed.id ?? '');
      const next = (await get(sim(), token, page['@odata.deltaLink'] as string, prefer)).data as Json;
      const value = next.value as Json[];
      const example = fixture('message-delta-next-round.json').body as { value: Json[] };
      assert.deepEqual(compareShape(example.value[0], value.find((v) => '@removed' in v), { mode: 'exact' }), []);
      // The page writes `"isRead": "true"` (a string) in this one sample; its first page and "Get message" write the
      // boolean Graph returns, so the type of isRead is taken from those.
      assert.deepEqual(compareShape(example.value[1], value.find((v) => !('@removed' in v)), { mode: 'exact', allow: { isRead: 'string "true" is a typo of the page: the same page shows booleans' } }), []);
      assert.equal(typeof value.find((v) => !('@removed' in v))?.isRead, 'boolean');
    });
  });

  describe('Outlook contacts', () => {
    it('GET a contact has the fields and date forms of "Get contact"', async () => {
      const created = sim().state.graph.store.createContact(sim().state.defaultUser.id, { displayName: 'Alex Wilber', emailAddresses: ['alex@contoso.example'] });
      const res = await get(sim(), token, `/me/contacts/${encodeURIComponent(created.id ?? '')}`);
      assert.equal(res.status, 200);
      expectSameShape('contact-get.json', res.data, { mode: 'exact' });
    });
  });

  describe('Outlook calendar', () => {
    it('GET an event has the fields and date forms of "Create event"', async () => {
      const created = sim().state.graph.store.createEvent(sim().state.defaultUser.id, { subject: 'golden', location: "Harry's Bar", attendees: ['samanthab@contoso.example'] });
      const res = await get(sim(), token, `/me/events/${encodeURIComponent(created.id ?? '')}`);
      assert.equal(res.status, 200);
      expectSameShape('event-post.json', res.data, { mode: 'exact' });
    });

    it('GET the calendar has the fields of "Get calendar"', async () => {
      const res = await get(sim(), token, '/me/calendar');
      assert.equal(res.status, 200);
      expectSameShape('calendar-get.json', res.data, { mode: 'exact' });
    });

    it('calendarView delta pages carry what "Get incremental changes to events in a calendar view" shows', async () => {
      const store = sim().state.graph.store;
      const userId = sim().state.defaultUser.id;
      const start = Date.now() + 86_400_000;
      const iso = (ms: number) => new Date(ms).toISOString();
      const a = store.createEvent(userId, { subject: 'delta a', start: iso(start), end: iso(start + 3_600_000) });
      store.createEvent(userId, { subject: 'delta b', start: iso(start + 7_200_000), end: iso(start + 10_800_000), location: 'Home' });
      const prefer = { Prefer: 'odata.maxpagesize=2' };
      const window = `startDateTime=${iso(start - 86_400_000)}&endDateTime=${iso(start + 5 * 86_400_000)}`;
      const first = await get(sim(), token, `/me/calendarView/delta?${window}`, prefer);
      assert.equal(first.status, 200);
      // "For brevity, the sample responses show only a subset of the properties for an event": the page's fields must
      // be there, with its types and date forms; the event's other fields are checked against "Create event" above.
      expectSameShape('event-delta-first-page.json', first.data, { mode: 'subset' });
      let page = first.data as Json;
      while (page['@odata.nextLink']) page = (await get(sim(), token, page['@odata.nextLink'] as string, prefer)).data as Json;
      store.deleteEvent(userId, a.id ?? '');
      const next = (await get(sim(), token, page['@odata.deltaLink'] as string, prefer)).data as Json;
      const example = fixture('event-delta-next-round.json').body as { value: Json[] };
      const removed = (next.value as Json[]).find((v) => '@removed' in v);
      assert.deepEqual(compareShape(example.value[0], removed, { mode: 'exact' }), []);
      assert.deepEqual(compareShape({ ...example, value: [] }, { ...next, value: [] }, { mode: 'exact' }), []);
    });
  });

  describe('OneDrive', () => {
    it('GET the drive root has the fields and date forms of "Get driveItem"', async () => {
      const res = await get(sim(), token, '/me/drive/root');
      assert.equal(res.status, 200);
      // "driveItem resource type" lists parentReference and fileSystemInfo; the sample (marked shortened) leaves them out.
      const allow = { ...ODATA_CONTEXT, 'parentReference*': 'a driveItem property (driveItem resource type)', 'fileSystemInfo*': 'a driveItem property (driveItem resource type)' };
      expectSameShape('driveitem-get-root-business.json', res.data, { mode: 'exact', allow });
    });

    it('GET the drive has the fields of "Get Drive"', async () => {
      const res = await get(sim(), token, '/me/drive');
      assert.equal(res.status, 200);
      // "drive resource type" lists name and webUrl, "quota resource type" lists used; the sample is marked shortened.
      const allow = { ...ODATA_CONTEXT, name: 'a drive property (drive resource type)', webUrl: 'a drive property (drive resource type)', 'quota.used': 'a quota property (quota resource type)' };
      expectSameShape('drive-get-business.json', res.data, { mode: 'exact', allow });
    });

    it('drive delta pages carry what "driveItem: delta" shows, deleted items included', async () => {
      const store = sim().state.graph.store;
      const userId = sim().state.defaultUser.id;
      const latest = await get(sim(), token, '/me/drive/root/delta?token=latest');
      expectSameShape('driveitem-delta-latest.json', latest.data, { mode: 'exact', allow: ODATA_CONTEXT });
      const folder = store.createDriveItem(userId, { name: 'folder2', folder: true });
      store.createDriveItem(userId, { name: 'file.txt', content: 'x' });
      const gone = store.createDriveItem(userId, { name: 'file5.txt', content: 'y' });
      store.deleteDriveItem(userId, gone.id ?? '');
      const round = (await get(sim(), token, latest.data['@odata.deltaLink'] as string)).data as Json;
      const items = round.value as Json[];
      const example = fixture('driveitem-delta-first-page.json').body as { value: Json[] };
      // The page's items show only id, name and the facet ("truncated"): those must be there, the rest is checked above.
      assert.deepEqual(compareShape(example.value[0], items.find((i) => i.id === folder.id), { mode: 'subset' }), []);
      assert.deepEqual(compareShape(example.value[1], items.find((i) => i.name === 'file.txt'), { mode: 'subset' }), []);
      assert.deepEqual(compareShape({ id: 'x', deleted: {} }, items.find((i) => i.id === gone.id), { mode: 'subset' }), []);
      assert.deepEqual(compareShape({ ...fixture('driveitem-delta-last-page.json').body as Json, value: [] }, { ...round, value: [] }, { mode: 'exact', allow: ODATA_CONTEXT }), []);
    });
  });

  describe('subscriptions and notifications', () => {
    let receiver: http.Server;
    let receiverUrl: string;
    const bodies: Json[] = [];

    before(async () => {
      // A notification endpoint: answers the validation handshake, keeps every notification body.
      receiver = http.createServer((req, res) => {
        const url = new URL(req.url ?? '/', 'http://x');
        const token = url.searchParams.get('validationToken');
        let text = '';
        req.on('data', (c: Buffer) => (text += c.toString('utf8')));
        req.on('end', () => {
          if (token !== null) {
            res.writeHead(200, { 'Content-Type': 'text/plain' }).end(token);
            return;
          }
          bodies.push(JSON.parse(text) as Json);
          res.writeHead(202).end();
        });
      });
      await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', () => resolve()));
      receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/notify`;
    });
    after(async () => {
      receiver.closeAllConnections();
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
    });

    async function waitFor(test: (body: Json) => boolean): Promise<Json> {
      for (let i = 0; i < 200; i++) {
        const found = bodies.find(test);
        if (found) return found;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error('no such notification arrived');
    }

    async function subscribe(extra: Record<string, unknown> = {}) {
      return axios.post(`${sim().graphBaseUrl}/subscriptions`, {
        changeType: 'created',
        notificationUrl: receiverUrl,
        resource: "me/mailFolders('Inbox')/messages",
        expirationDateTime: new Date(sim().state.clock.now() + 86_400_000).toISOString(),
        clientState: 'secretClientValue',
        ...extra,
      }, { headers: { Authorization: `Bearer ${token}` }, validateStatus: () => true });
    }

    it('POST /subscriptions answers the fields and date form of "Create subscription"', async () => {
      const res = await subscribe();
      assert.equal(res.status, 201, JSON.stringify(res.data));
      expectSameShape('subscription-post.json', res.data, { mode: 'exact' });
    });

    it('a new message is notified with the fields of the "Receive change notifications through webhooks" example', async () => {
      const res = await subscribe({ changeType: 'created,updated' });
      assert.equal(res.status, 201);
      sim().state.graph.store.createMessage(sim().state.defaultUser.id, { subject: 'notify me' });
      const body = await waitFor((b) => (b.value as Json[]).some((i) => i.subscriptionId === res.data.id));
      // The page's subscriptionExpirationDateTime has 3 digits; the lifecycle pages write the same property with 7
      // (as the subscription itself has them): any fraction is accepted for it.
      const allow = { 'value[].subscriptionExpirationDateTime': 'the pages disagree on its digits (3 here, 7 on the lifecycle pages)' };
      expectSameShape('notification-message-created.json', { value: (body.value as Json[]).filter((i) => i.subscriptionId === res.data.id).slice(0, 1) }, { mode: 'exact', allow });
      const fe = (fixture('notification-message-created.json').body as { value: Json[] }).value[0];
      const item = (body.value as Json[]).find((i) => i.subscriptionId === res.data.id) as Json;
      assert.match(String(item.subscriptionExpirationDateTime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{1,7}Z$/);
      assert.equal((item.resourceData as Json)['@odata.type'], (fe.resourceData as Json)['@odata.type']);
    });

    for (const [event, name] of [['reauthorizationRequired', 'lifecycle-reauthorization-required.json'], ['missed', 'lifecycle-missed.json'], ['subscriptionRemoved', 'lifecycle-subscription-removed.json']] as const) {
      it(`a ${event} lifecycle notification has the fields of "Reduce missing subscriptions and change notifications"`, async () => {
        const res = await subscribe({ lifecycleNotificationUrl: receiverUrl });
        assert.equal(res.status, 201);
        const fired = await axios.post(`${sim().controlUrl}/subscriptions/${res.data.id}/lifecycle`, { event }, { validateStatus: () => true });
        assert.ok(fired.status < 300, JSON.stringify(fired.data));
        const body = await waitFor((b) => (b.value as Json[]).some((i) => i.subscriptionId === res.data.id && i.lifecycleEvent === event));
        const item = (body.value as Json[]).find((i) => i.subscriptionId === res.data.id && i.lifecycleEvent === event);
        // The reauthorizationRequired sample writes its date with an offset (`+00:00`), the other two with `Z`.
        const allow: Record<string, string> = name === 'lifecycle-reauthorization-required.json' ? { 'value[].subscriptionExpirationDateTime': 'the sample writes +00:00, the other lifecycle samples Z' } : {};
        expectSameShape(name, { value: [item] }, { mode: 'exact', allow });
      });
    }
  });

  describe('identity platform token answers', () => {
    async function tokenCall(params: Record<string, string>, tenant = 'common') {
      return axios.post(`${sim().authorityHost}/${tenant}/oauth2/v2.0/token`, new URLSearchParams({ client_id: SIM_CLIENT_ID, client_secret: SIM_CLIENT_SECRET, ...params }).toString(), {
        validateStatus: () => true,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      });
    }
    async function signIn() {
      const verifier = 'v'.repeat(50);
      const scope = 'openid offline_access https://graph.microsoft.com/mail.read';
      const url = new URL(`${sim().authorityHost}/common/oauth2/v2.0/authorize`);
      const params = { client_id: SIM_CLIENT_ID, response_type: 'code', redirect_uri: REDIRECT, scope, code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256' };
      for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
      const consent = await axios.get(url.toString(), { maxRedirects: 0, validateStatus: () => true });
      const code = new URL(consent.headers.location as string).searchParams.get('code') ?? '';
      return tokenCall({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier, scope });
    }
    // Every answer of the real token endpoint also carries `ext_expires_in` (the extended lifetime MSAL reads for
    // resilience: msal-common `ServerAuthorizationTokenResponse.ext_expires_in`); the documentation samples leave it out.
    const EXT = { ext_expires_in: 'sent by the real endpoint and read by MSAL; the samples omit it' };

    it('authorization code answer has the fields of the auth code flow sample', async () => {
      const res = await signIn();
      assert.equal(res.status, 200);
      expectSameShape('token-authorization-code.json', res.data, { mode: 'exact', allow: EXT });
    });

    it('refresh answer has the fields of the refresh sample', async () => {
      const first = await signIn();
      const res = await tokenCall({ grant_type: 'refresh_token', refresh_token: first.data.refresh_token, scope: 'https://graph.microsoft.com/mail.read' });
      assert.equal(res.status, 200);
      expectSameShape('token-refresh.json', res.data, { mode: 'exact', allow: EXT });
    });

    it('client credentials answer has the fields of the client credentials sample', async () => {
      const res = await tokenCall({ grant_type: 'client_credentials', scope: 'https://graph.microsoft.com/.default' }, sim().state.tenantId);
      assert.equal(res.status, 200);
      expectSameShape('token-client-credentials.json', res.data, { mode: 'exact', allow: EXT });
    });

    it('an AADSTS error answer has the fields and timestamp form of the error samples', async () => {
      const res = await tokenCall({ grant_type: 'client_credentials', scope: 'https://foo.example/mail.read' }, sim().state.tenantId);
      assert.equal(res.status, 400);
      const allow = { error_uri: 'the real endpoint sends error_uri (https://login.microsoftonline.com/error?code=N, reference/graph.md §8); the samples omit it' };
      expectSameShape('token-error-invalid-scope.json', res.data, { mode: 'exact', allow });
      // The client credentials page writes its timestamp as a placeholder ("YYYY-MM-DD HH:MM:SSZ"): names and types only.
      expectSameShape('token-error-client-credentials.json', res.data, { mode: 'exact', allow: { ...allow, timestamp: 'a placeholder on that page' } });
    });
  });

  describe('Graph error bodies', () => {
    afterEach(() => sim().state.graph.faults.clear());

    it('a throttled request answers the body and Retry-After of the throttling guidance sample', async () => {
      sim().state.graph.faults.add({ kind: 'throttle', count: 1, retryAfterSeconds: 10, path: '/me/mailFolders$' });
      const res = await get(sim(), token, '/me/mailFolders');
      assert.equal(res.status, 429);
      expectSameShape('graph-error-429.json', res.data, { mode: 'exact' });
      assert.equal(res.headers['retry-after'], fixture('graph-error-429.json').headers?.['Retry-After']);
    });

    it('an expired Outlook delta token answers 410 SyncStateNotFound as Graph does', async () => {
      sim().state.graph.faults.add({ kind: 'deltaGone', count: 1 });
      const res = await get(sim(), token, '/me/mailFolders/inbox/messages/delta');
      assert.equal(res.status, 410);
      // The quoted answer lost part of its innerError (see the fixture's note): its fields must be there, others may.
      expectSameShape('graph-error-410-syncstatenotfound.json', res.data, { mode: 'subset' });
      assert.match(res.data.error.message, /^The sync state generation is not found; generation=\d+;\[highest=\d+\]\[\d+\]\[\d+\]\[\d+\]\.$/);
    });
  });
});
