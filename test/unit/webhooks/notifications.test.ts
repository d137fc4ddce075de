/**
 * `core/webhooks/notifications`: a body Node-RED's parser already parsed gives exactly the batch (or the 400 message)
 * its JSON text gives, and the clientState check (§2.2) with its digest computed once.
 */
import assert from 'node:assert/strict';
import { clientStateCheck, clientStateMatches, notificationBatchOf, parseNotificationBody } from '../../../src/core/webhooks/notifications';

describe('core/webhooks/notifications', () => {
  const outcome = (f: () => unknown) => {
    try {
      return { batch: f() };
    } catch (err) {
      return { error: (err as Error).message };
    }
  };

  it('notificationBatchOf(parsed) = parseNotificationBody(its JSON), batches and refusals alike', () => {
    const item = { subscriptionId: 's', clientState: 'c', changeType: 'created', resource: 'Users/u/Messages/m', resourceData: { id: 'm' } };
    const bodies: unknown[] = [
      { value: [item, { ...item, changeType: 'updated' }], validationTokens: ['a', 5, 'b'] },
      { value: [] },
      { value: [item], validationTokens: 'x' },
      { value: [{ clientState: 'c' }] },
      { value: [null] },
      { value: 5 },
      { value: 'x' },
      { other: [] },
      [],
      null,
      { value: [item], __proto__: { polluted: true } },
    ];
    for (const body of bodies) {
      assert.deepEqual(outcome(() => notificationBatchOf(body)), outcome(() => parseNotificationBody(JSON.stringify(body))), JSON.stringify(body));
    }
    assert.deepEqual(notificationBatchOf({ value: [item], validationTokens: ['a', 5] }), { items: [item], validationTokens: ['a'] });
    assert.throws(() => notificationBatchOf(null), /not a change notification collection/);
  });

  it('clientStateCheck: the expected value only, strings only', () => {
    const matches = clientStateCheck('secret-state');
    assert.equal(matches('secret-state'), true);
    for (const other of ['secret-stat', 'secret-state ', '', 5, null, undefined, { a: 1 }, ['secret-state']]) {
      assert.equal(matches(other), false, JSON.stringify(other));
      assert.equal(clientStateMatches('secret-state', other), false);
    }
    assert.equal(clientStateMatches('secret-state', 'secret-state'), true);
  });
});
