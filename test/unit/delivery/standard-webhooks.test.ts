/**
 * Standard Webhooks signing, checked with the reference verifier (`standardwebhooks`' own `Webhook.verify`) and with
 * the package's sibling of verifyElementsSignature. A replayed request (stale timestamp) and a tampered one fail.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import {
  signStandardWebhook,
  standardWebhookKey,
  verifyStandardWebhookSignature,
} from '../../../src/core/delivery/standard-webhooks';
import { NotificationSigner, parseSigning } from '../../../src/core/delivery/signing';
import { verifyElementsSignature, verifyStandardWebhookSignature as exported } from '../../../src/core';
import type { Notification } from '../../../src/core/delivery/envelope';

const body = JSON.stringify({ message: { eventId: 'n-1', instanceName: 'I', elementKey: 'outlookemail', events: [], raw: { objectType: 'messages', messages: [] } } });
const secret = 'whsec_' + randomBytes(32).toString('base64');
const notification = { id: 'n-1', body } as unknown as Notification;

function headersAt(signing: 'standard-webhooks' | 'both', key: string, nowMs: number): Record<string, string> {
  return new NotificationSigner(signing, key).headers(notification, Buffer.from(body), nowMs);
}

describe('delivery/standard-webhooks', () => {
  it('signStandardWebhook(whsec_ key) is accepted by the reference verifier (standardwebhooks Webhook.verify)', () => {
    const timestamp = Math.floor(Date.now() / 1000);
    const signature = signStandardWebhook(secret, 'n-1', timestamp, body);
    assert.match(signature, /^v1,[A-Za-z0-9+/]{43}=$/);
    const payload = new Webhook(secret).verify(body, { 'webhook-id': 'n-1', 'webhook-timestamp': String(timestamp), 'webhook-signature': signature });
    assert.deepEqual(payload, JSON.parse(body));
    // The reference signer gives the same value.
    assert.equal(new Webhook(secret).sign('n-1', new Date(timestamp * 1000), body), signature);
  });

  it('a key without whsec_ signs with its UTF-8 bytes: the reference verifier accepts it as a raw key', () => {
    const key = 'clé-partagée';
    const headers = headersAt('standard-webhooks', key, Date.now());
    new Webhook(Buffer.from(key, 'utf8'), { format: 'raw' }).verify(body, headers);
    assert.deepEqual(standardWebhookKey(key), Buffer.from(key, 'utf8'));
  });

  it('the signer sends webhook-id = notification id, webhook-timestamp = seconds of the attempt, and a verifiable signature', () => {
    const now = Date.now();
    const headers = headersAt('standard-webhooks', secret, now);
    assert.equal(headers['webhook-id'], 'n-1');
    assert.equal(headers['webhook-timestamp'], String(Math.floor(now / 1000)));
    assert.equal(headers['Elements-Webhook-Id'], 'n-1');
    assert.equal(headers['Elements-Webhook-Signature'], undefined);
    new Webhook(secret).verify(body, headers);
    assert.equal(exported(secret, body, headers), true);
  });

  it('a replayed request (timestamp 6 minutes old) is refused by the reference verifier and by the package', () => {
    const headers = headersAt('standard-webhooks', secret, Date.now() - 6 * 60_000);
    assert.throws(() => new Webhook(secret).verify(body, headers), (e: unknown) => e instanceof WebhookVerificationError && /too old/.test(e.message));
    assert.equal(verifyStandardWebhookSignature(secret, body, headers), false);
    // Within the tolerance the same request verifies (receivers de-duplicate on webhook-id), and one from the future fails.
    assert.equal(verifyStandardWebhookSignature(secret, body, headers, { toleranceSeconds: 400 }), true);
    assert.equal(verifyStandardWebhookSignature(secret, body, headersAt('standard-webhooks', secret, Date.now() + 6 * 60_000)), false);
  });

  it('a tampered body, id, timestamp or signature, or another key, is refused by both verifiers', () => {
    const now = Date.now();
    const good = headersAt('standard-webhooks', secret, now);
    const refusals: Array<[string, Record<string, string>, string]> = [
      ['body', good, body.replace('n-1', 'n-2')],
      ['id', { ...good, 'webhook-id': 'n-2' }, body],
      ['timestamp', { ...good, 'webhook-timestamp': String(Math.floor(now / 1000) - 1) }, body],
      ['signature', { ...good, 'webhook-signature': good['webhook-signature']!.replace(/.(=)$/, (m, eq) => (m[0] === 'A' ? 'B' : 'A') + eq) }, body],
      ['version', { ...good, 'webhook-signature': good['webhook-signature']!.replace('v1,', 'v2,') }, body],
      ['missing', { 'webhook-id': 'n-1', 'webhook-timestamp': good['webhook-timestamp']! }, body],
    ];
    for (const [what, headers, payload] of refusals) {
      assert.throws(() => new Webhook(secret).verify(payload, headers), WebhookVerificationError, what);
      assert.equal(verifyStandardWebhookSignature(secret, payload, headers), false, what);
    }
    const other = 'whsec_' + randomBytes(32).toString('base64');
    assert.throws(() => new Webhook(other).verify(body, good), WebhookVerificationError);
    assert.equal(verifyStandardWebhookSignature(other, body, good), false);
  });

  it('verifyStandardWebhookSignature accepts one good value among several (key rotation), any header case, a fetch Headers', () => {
    const now = Date.now();
    const good = headersAt('standard-webhooks', secret, now);
    const several = { 'Webhook-Id': 'n-1', 'Webhook-Timestamp': good['webhook-timestamp']!, 'Webhook-Signature': `v1,AAAA v1a,xyz ${good['webhook-signature']}` };
    assert.equal(verifyStandardWebhookSignature(secret, Buffer.from(body), several, { nowMs: now }), true);
    assert.equal(verifyStandardWebhookSignature(secret, body, new Headers(good)), true);
  });

  it('both: the Elements signature (UTF-8 of the whole key) and the Standard Webhooks one are sent, each verifiable', () => {
    const headers = headersAt('both', secret, Date.now());
    assert.equal(verifyElementsSignature(secret, body, headers['Elements-Webhook-Signature']), true);
    new Webhook(secret).verify(body, headers);
  });

  it('configuration errors: standard-webhooks/both without a key, a whsec_ key that is not base64, an unknown signing', () => {
    assert.throws(() => new NotificationSigner('standard-webhooks'), /^TypeError: signing "standard-webhooks" needs a signature key$/);
    assert.throws(() => new NotificationSigner('both', ''), /needs a signature key/);
    assert.throws(() => new NotificationSigner('both', 'whsec_not base64!'), (e: unknown) => e instanceof TypeError && /whsec_/.test(e.message) && !/not base64!/.test(e.message));
    assert.throws(() => standardWebhookKey('whsec_'), TypeError);
    assert.doesNotThrow(() => new NotificationSigner('open-connectors'));
    assert.deepEqual(['', undefined, 'both', 'standard-webhooks', 'open-connectors', 'hmac'].map(parseSigning), [
      'open-connectors', 'open-connectors', 'both', 'standard-webhooks', 'open-connectors', undefined,
    ]);
    assert.throws(() => verifyStandardWebhookSignature('', body, {}), /^TypeError: \[verifyStandardWebhookSignature\] key/);
  });
});
