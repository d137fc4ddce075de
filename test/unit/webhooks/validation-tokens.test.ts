/**
 * Validation tokens of rich notifications (`core/webhooks/validation-tokens.ts`, jose) against the simulated identity
 * platform's OpenID configuration and key set (`reference/graph.md` §4, §11.4): both forms Graph issues (v1 with
 * `appid`, v2 with `azp`), every refusal, a bounded clock skew, and signing-key rotation (the old key kept
 * published; an unknown key id fetched again, after the cooldown when it falls inside one).
 */
import assert from 'node:assert/strict';
import axios from 'axios';
import { useNotificationEndpoint } from '../../support/notification-endpoint';
import { useSimulator } from '../../support/simulator';
import { waitFor } from '../../support/connector';
import { testCertificate } from '../../support/certificate';
import { issuer, signJwt } from '../../../src/simulator/jwt';
import { GRAPH_NOTIFICATION_PUBLISHER_APP_ID, MAX_WAITING, ValidationTokenVerifier } from '../../../src/core/webhooks/validation-tokens';
import { Ms365Error } from '../../../src/core/errors';

describe('core/webhooks/validation-tokens against the simulated identity platform (graph.md §4, §11.4)', function () {
  this.timeout(30_000);
  const sim = useSimulator();
  const appId = 'validation-test-app';
  const tenant = () => sim().state.tenantId;
  const nowS = () => Math.floor(sim().state.clock.now() / 1000);
  const verifier = (options: { cooldownMs?: number } = {}) => new ValidationTokenVerifier({ authorityHost: sim().authorityHost, appId, now: () => sim().state.clock.now(), ...options });
  const v1 = (patch: Record<string, unknown> = {}) =>
    signJwt(sim().state, { aud: appId, iss: `https://sts.windows.net/${tenant()}/`, appid: GRAPH_NOTIFICATION_PUBLISHER_APP_ID, tid: tenant(), ver: '1.0', exp: nowS() + 3600, ...patch });
  const v2 = (patch: Record<string, unknown> = {}) =>
    signJwt(sim().state, { aud: appId, iss: issuer(sim().state, tenant()), azp: GRAPH_NOTIFICATION_PUBLISHER_APP_ID, tid: tenant(), ver: '2.0', exp: nowS() + 3600, ...patch });
  const rejects = (promise: Promise<void>, reason: RegExp) =>
    assert.rejects(promise, (err: unknown) => err instanceof Ms365Error && err.code === 'invalid_validation_token' && reason.test(err.message));

  it('accepts the v1 form (sts.windows.net issuer, appid) and the v2 form (v2.0 issuer, azp)', async () => {
    const v = verifier();
    await v.verifyAll([v1()], [tenant()]);
    await v.verifyAll([v2()], [tenant()]);
    await v.verifyAll([v1(), v2()], ['other-tenant', tenant()]);
  });

  it('refuses: wrong audience, wrong publisher (appid on v1, azp on v2, appid on v2), wrong issuer tenant, version/issuer mismatch', async () => {
    const v = verifier();
    await rejects(v.verifyAll([v1({ aud: 'someone-else' })], [tenant()]), /audience/);
    await rejects(v.verifyAll([v1({ appid: 'not-graph' })], [tenant()]), /publisher/);
    await rejects(v.verifyAll([v2({ azp: 'not-graph' })], [tenant()]), /publisher/);
    await rejects(v.verifyAll([v2({ azp: undefined, appid: GRAPH_NOTIFICATION_PUBLISHER_APP_ID })], [tenant()]), /publisher/);
    await rejects(v.verifyAll([v1({ iss: 'https://sts.windows.net/other/' })], [tenant()]), /issuer/);
    await rejects(v.verifyAll([v2()], ['other-tenant']), /issuer/);
    await rejects(v.verifyAll([v1({ ver: '2.0' })], [tenant()]), /version/);
  });

  it('refuses an expired token beyond the 5-minute skew, accepts one inside it; a forged signature; one bad among good; none', async () => {
    const v = verifier();
    await v.verifyAll([v1({ exp: nowS() - 200 })], [tenant()]);
    await rejects(v.verifyAll([v1({ exp: nowS() - 400 })], [tenant()]), /expired/);
    await rejects(v.verifyAll([v1({ nbf: nowS() + 600 })], [tenant()]), /not valid yet/);
    const [h, p, s] = v1().split('.');
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p!, 'base64url').toString()), extra: 1 })).toString('base64url');
    await rejects(v.verifyAll([`${h}.${forged}.${s}`], [tenant()]), /signature/);
    await rejects(v.verifyAll([v1(), v1({ aud: 'x' })], [tenant()]), /audience/);
    await rejects(v.verifyAll(undefined, [tenant()]), /missing/);
    await rejects(v.verifyAll([], [tenant()]), /missing/);
  });

  it('a key rotation drops nothing: a token of the new key makes the verifier fetch the key set again; old-key tokens still verify', async () => {
    const v = verifier({ cooldownMs: 0 });
    const before = v1();
    await v.verifyAll([before], [tenant()]);
    const rotated = await axios.post(`${sim().controlUrl}/signing-keys/rotate`, { keepOldSeconds: 3600 });
    assert.equal(rotated.status, 200);
    const after = v2();
    assert.equal(JSON.parse(Buffer.from(after.split('.')[0]!, 'base64url').toString()).kid, rotated.data.kid);
    await v.verifyAll([after], [tenant()]);
    await v.verifyAll([before], [tenant()]);
  });

  it('a token of a key rotated in just after a fetch waits for the cooldown, then verifies (not dropped)', async () => {
    const v = verifier({ cooldownMs: 2000 });
    await v.verifyAll([v1()], [tenant()]); // fetched now: the cooldown runs
    const fetchedAt = Date.now();
    await axios.post(`${sim().controlUrl}/signing-keys/rotate`, {});
    await v.verifyAll([v1()], [tenant()]);
    assert.ok(Date.now() - fetchedAt >= 1900, 'the key set was not fetched again inside the cooldown');
  });

  it(`at most ${MAX_WAITING} batches wait for a cooldown: tokens naming made-up keys are refused at once beyond that`, async () => {
    const v = verifier({ cooldownMs: 3000 });
    await v.verifyAll([v1()], [tenant()]);
    const made = () => signJwt(sim().state, { aud: appId, iss: `https://sts.windows.net/${tenant()}/`, appid: GRAPH_NOTIFICATION_PUBLISHER_APP_ID, exp: nowS() + 600 }, { kid: 'made-up' });
    const started = Date.now();
    const settled: number[] = [];
    const all = Array.from({ length: MAX_WAITING + 10 }, () => v.verifyAll([made()], [tenant()]).then(() => 'ok', () => 'refused').finally(() => settled.push(Date.now() - started)));
    await waitFor('the ones beyond the limit', () => settled.length >= 10, 2000);
    assert.ok(settled.slice(0, 10).every((ms) => ms < 2000), 'refused without waiting');
    assert.deepEqual(new Set(await Promise.all(all)), new Set(['refused']));
  });

  it('a key retired from the set after its time: its tokens are refused', async () => {
    const v = verifier({ cooldownMs: 0 });
    const old = v1();
    await axios.post(`${sim().controlUrl}/signing-keys/rotate`, { keepOldSeconds: 60 });
    sim().state.clock.advance(120_000);
    await rejects(new ValidationTokenVerifier({ authorityHost: sim().authorityHost, appId, now: () => sim().state.clock.now(), cooldownMs: 0, clockSkewSeconds: 300 }).verifyAll([old], [tenant()]), /kid|key/);
    await v.verifyAll([v1()], [tenant()]);
  });

  describe('as the simulator delivers them', () => {
    const endpoint = useNotificationEndpoint<{ validationTokens?: string[] }>();
    const bodies = endpoint.bodies;

    it('v1, v2 and alternating batches (control API switch) all verify; each form is the documented one', async () => {
      const cert = await testCertificate();
      const { token } = sim().state.accessTokens.issue({ userId: sim().state.defaultUser.id, clientId: appId, tenantId: tenant(), scopes: ['Mail.Read'], appOnly: false });
      const graph = axios.create({ baseURL: sim().graphBaseUrl, headers: { Authorization: `Bearer ${token}` }, validateStatus: () => true });
      const created = await graph.post('/subscriptions', {
        changeType: 'created', notificationUrl: endpoint.url(), resource: 'me/messages?$select=subject', expirationDateTime: new Date(sim().state.clock.now() + 3600_000).toISOString(),
        includeResourceData: true, encryptionCertificate: cert.certificateBase64, encryptionCertificateId: 'c1',
      });
      assert.equal(created.status, 201, JSON.stringify(created.data));
      const forms: string[] = [];
      const v = verifier();
      for (const mode of ['v1', 'v2', 'alternate', 'alternate'] as const) {
        await axios.put(`${sim().controlUrl}/subscriptions/options`, { validationTokens: mode });
        bodies.length = 0;
        sim().state.graph.store.createMessage(sim().state.defaultUser.id, { subject: mode });
        const body = await waitFor('a rich batch', () => bodies.find((b) => b.validationTokens?.length), 10_000);
        const claims = JSON.parse(Buffer.from(body.validationTokens![0]!.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
        forms.push(String(claims.ver));
        if (claims.ver === '1.0') {
          assert.equal(claims.iss, `https://sts.windows.net/${tenant()}/`);
          assert.equal(claims.appid, GRAPH_NOTIFICATION_PUBLISHER_APP_ID);
        } else {
          assert.equal(claims.iss, issuer(sim().state, tenant()));
          assert.equal(claims.azp, GRAPH_NOTIFICATION_PUBLISHER_APP_ID);
          assert.equal(claims.appid, undefined);
        }
        await v.verifyAll(body.validationTokens, [tenant()]);
      }
      assert.deepEqual(forms.slice(0, 2), ['1.0', '2.0']);
      assert.notEqual(forms[2], forms[3], 'alternate: one of each');
    });
  });
});
