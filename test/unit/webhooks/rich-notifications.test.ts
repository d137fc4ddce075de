/**
 * Rich notifications (`reference/graph.md` §4): the simulator encrypts resource data for a subscriber's certificate
 * and signs `validationTokens`; the core decrypts, detects tampering and validates the tokens.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import axios from 'axios';
import { useNotificationEndpoint } from '../../support/notification-endpoint';
import { useSimulator } from '../../support/simulator';
import { waitFor } from '../../support/connector';
import { testCertificate } from '../../support/certificate';
import { decryptResourceData, type EncryptedContent } from '../../../src/core/webhooks/rich-notifications';
import { Ms365Error } from '../../../src/core/errors';

describe('rich notifications: decryptResourceData against the simulator (graph.md §4)', function () {
  this.timeout(30_000);
  const sim = useSimulator();
  const endpoint = useNotificationEndpoint();
  const bodies = endpoint.bodies;
  let keys: { privateKeyPem: string; certificate: string };
  const appId = 'rich-test-app';

  before(async () => {
    const made = await testCertificate();
    keys = { privateKeyPem: made.privateKeyPem, certificate: made.certificateBase64 };
  });

  const graph = () => {
    const { token } = sim().state.accessTokens.issue({ userId: sim().state.defaultUser.id, clientId: appId, tenantId: sim().state.tenantId, scopes: ['Mail.Read'], appOnly: false });
    return axios.create({ baseURL: sim().graphBaseUrl, headers: { Authorization: `Bearer ${token}` }, validateStatus: () => true, timeout: 15_000 });
  };
  const inMinutes = (m: number) => new Date(sim().state.clock.now() + m * 60_000).toISOString();

  let delivered: { item: Record<string, unknown>; tokens: unknown; subject: string } | undefined;
  async function richDelivery() {
    if (delivered) return delivered;
    const res = await graph().post('/subscriptions', {
      changeType: 'created', notificationUrl: endpoint.url(), resource: 'me/messages?$select=subject', expirationDateTime: inMinutes(60),
      includeResourceData: true, encryptionCertificate: keys.certificate, encryptionCertificateId: 'test-cert',
    });
    assert.equal(res.status, 201, JSON.stringify(res.data));
    const subject = 'rich subject';
    const msg = sim().state.graph.store.createMessage(sim().state.defaultUser.id, { subject });
    await waitFor('the rich notification', () => bodies.some((b) => Array.isArray(b.value) && (b.value as Array<Record<string, unknown>>).some((i) => (i.resourceData as { id?: string } | undefined)?.id === msg.id)), 10_000);
    const body = bodies.find((b) => (b.value as Array<Record<string, unknown>>).some((i) => (i.resourceData as { id?: string } | undefined)?.id === msg.id))!;
    const item = (body.value as Array<Record<string, unknown>>).find((i) => (i.resourceData as { id?: string }).id === msg.id)!;
    delivered = { item, tokens: body.validationTokens, subject };
    return delivered;
  }

  it('POST /subscriptions with includeResourceData but no certificate → 400 InvalidRequest', async () => {
    const res = await graph().post('/subscriptions', { changeType: 'created', notificationUrl: endpoint.url(), resource: 'me/messages?$select=subject', expirationDateTime: inMinutes(60), includeResourceData: true, encryptionCertificateId: 'x' });
    assert.equal(res.status, 400);
    assert.equal(res.data.error.code, 'InvalidRequest');
  });

  it("the simulator refuses what Graph refuses, with Graph's 400 and message (§11.4)", async () => {
    const rich = { includeResourceData: true, encryptionCertificate: keys.certificate, encryptionCertificateId: 'c' };
    const post = (body: Record<string, unknown>) => graph().post('/subscriptions', { changeType: 'created', notificationUrl: endpoint.url(), expirationDateTime: inMinutes(60), ...body });
    const refused = async (body: Record<string, unknown>, message: RegExp) => {
      const res = await post(body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.match(res.data.error.message, message, JSON.stringify(body));
      assert.ok(res.data.error.innerError?.['request-id'], 'Graph error body with innerError');
    };
    await refused({ resource: 'me/drive/root', changeType: 'updated', ...rich }, /^File Services workload is not enabled for rich notifications$/);
    await refused({ resource: 'me/messages', ...rich }, /^select clause should be present in query string to support rich notifications$/);
    await refused({ resource: 'me/messages?$select=subject,body', ...rich }, /Body/);
    await refused({ resource: 'me/messages?$select=subject&$top=5', ...rich }, /\$top/);
    await refused({ resource: 'me/drive/root', changeType: 'created,updated' }, /Only 'updated' changeType/);
    await refused({ resource: 'me/messages?$select=subject', ...rich, expirationDateTime: inMinutes(1500) }, /can only be 1440 minutes/);
    const pem = `-----BEGIN CERTIFICATE-----\n${keys.certificate}\n-----END CERTIFICATE-----`;
    await refused({ resource: 'me/messages?$select=subject', ...rich, encryptionCertificate: pem }, /base64 X.509 certificate/);
    const bare = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
    await refused({ resource: 'me/messages?$select=subject', ...rich, encryptionCertificate: bare }, /base64 X.509 certificate/);
    const user = sim().state.defaultUser.id;
    const folder = sim().state.graph.store.createDriveItem(user, { name: 'sub', folder: true });
    const file = sim().state.graph.store.createDriveItem(user, { name: 'f.txt', content: 'x' });
    await refused({ resource: `me/drive/items/${String(file.id)}`, changeType: 'updated' }, /not on files/);
    await refused({ resource: `me/drive/items/${String(folder.id)}`, changeType: 'updated' }, /only supported on the root folder/);
    const ok = await post({ resource: 'me/messages?$select=subject', ...rich, expirationDateTime: inMinutes(1440) });
    assert.equal(ok.status, 201);
    assert.match(ok.data.expirationDateTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$/, 'seven fraction digits');
    assert.equal(ok.data.includeResourceData, true);
    await graph().delete(`/subscriptions/${String(ok.data.id)}`);
  });

  it('decryptResourceData of a simulator delivery → the message resource JSON', async () => {
    const { item, subject } = await richDelivery();
    const enc = item.encryptedContent as EncryptedContent;
    assert.equal(enc.encryptionCertificateId, 'test-cert');
    assert.match(enc.encryptionCertificateThumbprint ?? '', /^[0-9A-F]{40}$/);
    const resource = decryptResourceData(enc, keys.privateKeyPem);
    assert.equal(resource.subject, subject);
    assert.equal(resource.id, (item.resourceData as { id: string }).id);
  });

  it('decryptResourceData with altered data or dataSignature → Ms365Error tampered_notification', async () => {
    const enc = (await richDelivery()).item.encryptedContent as EncryptedContent;
    const data = Buffer.from(enc.data, 'base64');
    data[0] ^= 1;
    const sig = Buffer.from(enc.dataSignature, 'base64');
    sig[5] ^= 1;
    for (const bad of [{ ...enc, data: data.toString('base64') }, { ...enc, dataSignature: sig.toString('base64') }]) {
      assert.throws(() => decryptResourceData(bad, keys.privateKeyPem), (err: unknown) => err instanceof Ms365Error && err.code === 'tampered_notification');
    }
  });

  it('decryptResourceData with another private key → Ms365Error decryption_failed', async () => {
    const enc = (await richDelivery()).item.encryptedContent as EncryptedContent;
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    assert.throws(() => decryptResourceData(enc, other), (err: unknown) => err instanceof Ms365Error && err.code === 'decryption_failed');
  });
});
