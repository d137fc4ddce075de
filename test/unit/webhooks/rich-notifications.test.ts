/**
 * Rich notifications (`reference/graph.md` §4): the simulator encrypts resource data for a subscriber's certificate
 * and signs `validationTokens`; the core decrypts, detects tampering and validates the tokens.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import axios from 'axios';
import { useSimulator } from '../../support/simulator';
import { waitFor } from '../../support/connector';
import { signJwt } from '../../../src/simulator/jwt';
import { decryptResourceData, validateValidationTokens, GRAPH_NOTIFICATION_PUBLISHER_APP_ID, type EncryptedContent, type Jwks } from '../../../src/core/webhooks/rich-notifications';
import { Ms365Error } from '../../../src/core/errors';

/** An RSA key pair and a self-signed certificate (openssl when present, else the PEM public key the simulator also accepts). */
function keyMaterial(): { privateKeyPem: string; certificate: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'ms365-rich-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'c.pem'), '-subj', '/CN=test', '-days', '1'], { stdio: 'ignore', timeout: 20_000 });
    const pem = readFileSync(path.join(dir, 'c.pem'), 'utf8');
    const der = pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
    return { privateKeyPem: readFileSync(path.join(dir, 'k.pem'), 'utf8'), certificate: der };
  } catch {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    return { privateKeyPem: pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), certificate: pair.publicKey.export({ format: 'pem', type: 'spki' }).toString() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('rich notifications: decryptResourceData / validateValidationTokens against the simulator (graph.md §4)', function () {
  this.timeout(30_000);
  const sim = useSimulator();
  const bodies: Array<Record<string, unknown>> = [];
  let server: http.Server;
  let url = '';
  let keys: { privateKeyPem: string; certificate: string };
  const appId = 'rich-test-app';

  before(async () => {
    keys = keyMaterial();
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const token = new URL(req.url ?? '/', 'http://x').searchParams.get('validationToken');
        if (token !== null) {
          res.writeHead(200, { 'Content-Type': 'text/plain' });
          res.end(token);
          return;
        }
        bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>);
        res.writeHead(202);
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const graph = () => {
    const { token } = sim().state.accessTokens.issue({ userId: sim().state.defaultUser.id, clientId: appId, tenantId: sim().state.tenantId, scopes: ['Mail.Read'], appOnly: false });
    return axios.create({ baseURL: sim().graphBaseUrl, headers: { Authorization: `Bearer ${token}` }, validateStatus: () => true, timeout: 15_000 });
  };
  const inMinutes = (m: number) => new Date(sim().state.clock.now() + m * 60_000).toISOString();
  const jwks = async (): Promise<Jwks> => (await axios.get<Jwks>(`${sim().state.baseUrl}/common/discovery/v2.0/keys`, { timeout: 10_000 })).data;
  const options = () => ({ appId, tenantIds: [sim().state.tenantId], jwks, now: sim().state.clock.now() });

  let delivered: { item: Record<string, unknown>; tokens: unknown; subject: string } | undefined;
  async function richDelivery() {
    if (delivered) return delivered;
    const res = await graph().post('/subscriptions', {
      changeType: 'created', notificationUrl: url, resource: 'me/messages?$select=subject', expirationDateTime: inMinutes(60),
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
    const res = await graph().post('/subscriptions', { changeType: 'created', notificationUrl: url, resource: 'me/messages', expirationDateTime: inMinutes(60), includeResourceData: true, encryptionCertificateId: 'x' });
    assert.equal(res.status, 400);
    assert.equal(res.data.error.code, 'InvalidRequest');
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

  it('validateValidationTokens of the delivered batch → accepted', async () => {
    const { tokens } = await richDelivery();
    assert.ok(Array.isArray(tokens) && tokens.length === 1);
    await validateValidationTokens(tokens, options());
  });

  const token = (patch: Record<string, unknown>) =>
    signJwt(sim().state, { aud: appId, iss: `https://sts.windows.net/${sim().state.tenantId}/`, appid: GRAPH_NOTIFICATION_PUBLISHER_APP_ID, exp: Math.floor(sim().state.clock.now() / 1000) + 3600, ...patch });
  const rejects = (tokens: unknown, reason: RegExp) =>
    assert.rejects(validateValidationTokens(tokens, options()), (err: unknown) => err instanceof Ms365Error && err.code === 'invalid_validation_token' && reason.test(err.message));

  it('validateValidationTokens with a wrong aud → rejected (audience)', () => rejects([token({ aud: 'someone-else' })], /audience/));
  it('validateValidationTokens with a wrong appid → rejected (publisher)', () => rejects([token({ appid: 'not-graph' })], /publisher/));
  it('validateValidationTokens with a wrong iss tenant → rejected (issuer)', () => rejects([token({ iss: 'https://sts.windows.net/other/' })], /issuer/));
  it('validateValidationTokens with an expired token → rejected (expired)', () => rejects([token({ exp: Math.floor(sim().state.clock.now() / 1000) - 3600 })], /expired/));
  it('validateValidationTokens with a bad signature → rejected (signature)', () => {
    const [h, p, s] = token({}).split('.');
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), aud: appId, extra: 1 })).toString('base64url');
    return rejects([`${h}.${forged}.${s}`], /signature/);
  });
  it('validateValidationTokens with one good and one bad token → rejected; missing tokens → rejected', async () => {
    await rejects([token({}), token({ aud: 'x' })], /audience/);
    await rejects(undefined, /missing/);
  });
});
