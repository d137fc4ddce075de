/**
 * `core/webhooks/subscription-specs`: the `subscriptions` setting checked at deploy against what Graph accepts
 * (`reference/graph.md` §1.1, §4, §11.4), and the encryption certificate as Graph wants it.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { testCertificate, type TestCertificate } from '../../support/certificate';
import { Ms365Error } from '../../../src/core/errors';
import {
  certificateForGraph,
  isDriveResource,
  parseSubscriptionSpecs,
  resolveSpecs,
  resourceDataPlan,
  richOutlookProblem,
} from '../../../src/core/webhooks/subscription-specs';

const refused = (fn: () => unknown, message: RegExp) => assert.throws(fn, (err: unknown) => err instanceof Ms365Error && err.code === 'invalid_configuration' && message.test(err.message));

describe('core/webhooks/subscription-specs', () => {
  it('a missing changeType means every change type Graph accepts: drive "updated", Outlook "created,updated,deleted"', () => {
    assert.deepEqual(parseSubscriptionSpecs('[{"resource":"me/drive/root"},{"resource":"me/messages"},{"resource":"drives/d1/root","changeType":" updated "}]'), [
      { resource: 'me/drive/root', changeType: 'updated', expirationMinutes: undefined },
      { resource: 'me/messages', changeType: 'created,updated,deleted', expirationMinutes: undefined },
      { resource: 'drives/d1/root', changeType: 'updated', expirationMinutes: undefined },
    ]);
    assert.deepEqual(parseSubscriptionSpecs(''), []);
    assert.deepEqual(parseSubscriptionSpecs([{ resource: '/me/events', expirationMinutes: 60 }]), [{ resource: 'me/events', changeType: 'created,updated,deleted', expirationMinutes: 60 }]);
  });

  it('refuses, with a clear message: another changeType on a drive, an unknown change type, no resource, not JSON, bad minutes', () => {
    refused(() => parseSubscriptionSpecs('[{"resource":"me/drive/root","changeType":"created,updated,deleted"}]'), /OneDrive subscription takes only changeType "updated"/);
    refused(() => parseSubscriptionSpecs('[{"resource":"users/u/drive/items/f1","changeType":"deleted"}]'), /only changeType "updated"/);
    refused(() => parseSubscriptionSpecs('[{"resource":"me/messages","changeType":"moved"}]'), /must be a comma list/);
    refused(() => parseSubscriptionSpecs('[{"changeType":"created"}]'), /needs a "resource"/);
    refused(() => parseSubscriptionSpecs('[{'), /not JSON/);
    refused(() => parseSubscriptionSpecs('{"resource":"me/messages"}'), /JSON array/);
    refused(() => parseSubscriptionSpecs('[{"resource":"me/messages","expirationMinutes":-1}]'), /positive number/);
  });

  it('isDriveResource: drive roots and drive items, not Outlook', () => {
    for (const drive of ['me/drive/root', 'users/u/drive/root', 'drives/d/root', '/me/drive/root/', 'me/drive/items/f1', 'drives/d/items/f1']) assert.ok(isDriveResource(drive), drive);
    for (const other of ['me/messages', 'me/events', 'me/driveItems', "me/mailFolders('Inbox')/messages"]) assert.ok(!isDriveResource(other), other);
  });

  it('resource data: Outlook needs $select (not body/uniqueBody; no $top/$skip/$orderby/$expand); drive and others go without, with the reason', () => {
    assert.deepEqual(resourceDataPlan('users/u/messages?$select=subject,from'), { include: true });
    assert.deepEqual(resourceDataPlan("me/mailFolders('Inbox')/messages?$select=subject"), { include: true });
    assert.deepEqual(resourceDataPlan('teams/t1/channels/c1/messages'), { include: true });
    assert.match(richOutlookProblem('me/messages') ?? '', /need a \$select/);
    assert.match(richOutlookProblem('me/events?$select=subject,uniqueBody') ?? '', /cannot \$select body or uniqueBody/);
    assert.match(richOutlookProblem('me/contacts?$select=displayName&$orderby=displayName') ?? '', /no \$orderby/);
    refused(() => resourceDataPlan('me/messages'), /need a \$select/);
    const drive = resourceDataPlan('me/drive/root');
    assert.equal(drive.include, false);
    assert.match(drive.include ? '' : drive.reason, /File Services workload is not enabled for rich notifications/);
    assert.equal(resourceDataPlan('users').include, false);
  });

  it('resolveSpecs: me/ rewritten for an app connector; with a certificate, resource data decided per resource', () => {
    const specs = parseSubscriptionSpecs([{ resource: 'me/messages?$select=subject' }, { resource: 'me/drive/root' }]);
    assert.deepEqual(resolveSpecs(specs, '/users/u1', false).map((s) => s.resource), ['users/u1/messages?$select=subject', 'users/u1/drive/root']);
    assert.deepEqual(resolveSpecs(specs, '/me', false).map((s) => s.resource), ['me/messages?$select=subject', 'me/drive/root']);
    const rich = resolveSpecs(specs, '/me', true);
    assert.equal(rich[0]!.includeResourceData, true);
    assert.equal(rich[1]!.includeResourceData, false);
    assert.match(rich[1]!.note ?? '', /OneDrive/);
  });

  describe('certificateForGraph', () => {
    let cert: TestCertificate;
    before(async () => {
      cert = await testCertificate();
    });

    it('PEM → the base64 DER Graph wants; base64 DER stays as it is', () => {
      assert.equal(certificateForGraph(cert.certificatePem), cert.certificateBase64);
      assert.equal(certificateForGraph(`  ${cert.certificateBase64}\n`), cert.certificateBase64);
    });

    it('refuses a bare public key, a private key, text that is no certificate, an RSA key under 2048 bits', async () => {
      refused(() => certificateForGraph(cert.publicKeyPem), /bare public key/);
      const der = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
      refused(() => certificateForGraph(der), /not an X\.509 certificate/);
      refused(() => certificateForGraph(cert.privateKeyPem), /private key/);
      refused(() => certificateForGraph('hello world'), /not an X\.509 certificate/);
      const small = await testCertificate(1024);
      refused(() => certificateForGraph(small.certificatePem), /2048 to 4096 bits/);
    });
  });
});
