import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import axios from 'axios';
import { useSimulator } from '../../support/simulator';
import { waitFor } from '../../support/connector';

interface Received {
  query: URLSearchParams;
  body: string;
  contentType: string;
}

/** A loopback notification endpoint that answers the handshake correctly unless told otherwise. */
function useReceiver() {
  const received: Received[] = [];
  let server: http.Server;
  let url = '';
  const behaviour = { echoToken: true, status: 202 };
  before(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const query = new URL(req.url ?? '/', 'http://x').searchParams;
        received.push({ query, body: Buffer.concat(chunks).toString('utf8'), contentType: String(req.headers['content-type']) });
        const token = query.get('validationToken');
        if (token !== null) {
          res.writeHead(200, { 'Content-Type': 'text/plain' });
          res.end(behaviour.echoToken ? token : encodeURIComponent(token));
          return;
        }
        res.writeHead(behaviour.status);
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { received, behaviour, url: () => url };
}

describe('simulator: subscriptions and notification delivery (graph.md §1–§3)', () => {
  const sim = useSimulator();
  const rx = useReceiver();
  // Each subscription needs its resource's permission (§11.6): a drive root on a work drive needs Files.ReadWrite.All.
  const graph = (scopes = ['Mail.Read', 'Calendars.Read', 'Files.ReadWrite.All']) => {
    const { token } = sim().state.accessTokens.issue({ userId: sim().state.defaultUser.id, clientId: 'app', tenantId: sim().state.tenantId, scopes, appOnly: false });
    return axios.create({ baseURL: sim().graphBaseUrl, headers: { Authorization: `Bearer ${token}` }, validateStatus: () => true });
  };
  const inMinutes = (m: number) => new Date(sim().state.clock.now() + m * 60_000).toISOString();

  beforeEach(() => {
    rx.received.length = 0;
    rx.behaviour.echoToken = true;
    rx.behaviour.status = 202;
  });

  it('POST /subscriptions validates the notification URL and the lifecycle URL separately (token + decoded) → 201', async () => {
    const res = await graph().post('/subscriptions', { changeType: 'created,updated,deleted', notificationUrl: rx.url(), lifecycleNotificationUrl: rx.url(), resource: 'me/messages', expirationDateTime: inMinutes(60), clientState: 'secret-state' });
    assert.equal(res.status, 201);
    assert.match(res.data.id, /^[0-9a-f-]{36}$/);
    const handshakes = rx.received.filter((r) => r.query.has('validationToken'));
    assert.equal(handshakes.length, 2);
    assert.match(handshakes[0].query.get('validationToken') ?? '', /^Validation: Testing client application reachability/);
    assert.match(handshakes[0].contentType, /^text\/plain/);
  });

  it('a handshake answered with the still-encoded token fails the create with 400 InvalidRequest', async () => {
    rx.behaviour.echoToken = false;
    const res = await graph().post('/subscriptions', { changeType: 'created', notificationUrl: rx.url(), resource: 'me/messages', expirationDateTime: inMinutes(60) });
    assert.equal(res.status, 400);
    assert.equal(res.data.error.code, 'InvalidRequest');
    assert.match(res.data.error.message, /Subscription validation request failed/);
  });

  it('an expiration over the maximum → 400 ExtensionError naming the maximum', async () => {
    const res = await graph().post('/subscriptions', { changeType: 'created', notificationUrl: rx.url(), resource: 'me/messages', expirationDateTime: inMinutes(5000) });
    assert.equal(res.status, 400);
    assert.equal(res.data.error.code, 'ExtensionError');
    assert.equal(res.data.error.message, 'Subscription expiration can only be 4230 minutes in the future.');
  });

  it('a new message is delivered as a basic Outlook notification in Graph\'s shape', async () => {
    const created = await graph().post('/subscriptions', { changeType: 'created,updated,deleted', notificationUrl: rx.url(), resource: 'me/messages', expirationDateTime: inMinutes(60), clientState: 'cs' });
    rx.received.length = 0;
    const message = sim().state.graph.store.createMessage(sim().state.defaultUser.id, { subject: 'hello' });
    const got = await waitFor('notification', () => rx.received.find((r) => r.body.includes(String(message.id))));
    const item = JSON.parse(got.body).value.find((v: { subscriptionId: string }) => v.subscriptionId === created.data.id);
    assert.equal(item.changeType, 'created');
    assert.equal(item.clientState, 'cs');
    assert.equal(item.tenantId, sim().state.tenantId);
    assert.equal(item.resource, `Users/${sim().state.defaultUser.id}/Messages/${message.id}`);
    assert.equal(item.resourceData['@odata.type'], '#Microsoft.Graph.Message');
    assert.equal(item.resourceData.id, message.id);
    assert.match(item.resourceData['@odata.etag'], /^W\/"/);
  });

  it('a drive change gives an item-less `updated` notification on the subscribed root', async () => {
    await graph().post('/subscriptions', { changeType: 'updated', notificationUrl: rx.url(), resource: 'me/drive/root', expirationDateTime: inMinutes(60) });
    rx.received.length = 0;
    sim().state.graph.store.createDriveItem(sim().state.defaultUser.id, { name: 'a.txt' });
    const got = await waitFor('drive notification', () => rx.received.find((r) => r.body.includes('me/drive/root')));
    const item = JSON.parse(got.body).value[0];
    assert.equal(item.changeType, 'updated');
    assert.equal(item.resourceData, null, 'resourceData: null, as the OneDrive payload shows (graph.md §11.4)');
  });

  it('PATCH renews (200), reauthorize 204, DELETE 204, and an expired subscription answers 404 ResourceNotFound', async () => {
    const created = await graph().post('/subscriptions', { changeType: 'created', notificationUrl: rx.url(), resource: 'me/events', expirationDateTime: inMinutes(60) });
    const id = created.data.id;
    const renewed = await graph().patch(`/subscriptions/${id}`, { expirationDateTime: inMinutes(120) });
    assert.equal(renewed.status, 200);
    assert.match(renewed.data.expirationDateTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$/, 'seven fraction digits, as "Create subscription" shows (graph.md §11.1)');
    assert.equal((await graph().post(`/subscriptions/${id}/reauthorize`)).status, 204);
    sim().state.clock.advance(121 * 60_000);
    const gone = await graph().patch(`/subscriptions/${id}`, { expirationDateTime: inMinutes(60) });
    assert.equal(gone.status, 404);
    assert.equal(gone.data.error.code, 'ResourceNotFound');
    const other = await graph().post('/subscriptions', { changeType: 'created', notificationUrl: rx.url(), resource: 'me/events', expirationDateTime: inMinutes(60) });
    assert.equal((await graph().delete(`/subscriptions/${other.data.id}`)).status, 204);
    assert.equal((await graph().delete(`/subscriptions/${other.data.id}`)).status, 404);
  });

  it('control API sends lifecycle notifications; subscriptionRemoved also deletes the subscription', async () => {
    const created = await graph().post('/subscriptions', { changeType: 'created', notificationUrl: rx.url(), lifecycleNotificationUrl: rx.url(), resource: 'me/messages', expirationDateTime: inMinutes(60), clientState: 'cs' });
    rx.received.length = 0;
    const res = await axios.post(`${sim().controlUrl}/subscriptions/${created.data.id}/lifecycle`, { event: 'subscriptionRemoved' });
    assert.equal(res.status, 202);
    const got = await waitFor('lifecycle notification', () => rx.received.find((r) => r.body.includes('lifecycleEvent')));
    assert.deepEqual(Object.keys(JSON.parse(got.body).value[0]).sort(), ['clientState', 'lifecycleEvent', 'subscriptionExpirationDateTime', 'subscriptionId', 'tenantId']);
    assert.equal((await graph().get(`/subscriptions/${created.data.id}`)).status, 404);
  });
});
