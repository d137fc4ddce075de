import { strict as assert } from 'node:assert';
import { createHmac } from 'node:crypto';
import { signElementsBody, verifyElementsSignature } from '../../../src/core/delivery/signature';
import { verifyElementsSignature as exported } from '../../../src/core';

describe('delivery/signature', () => {
  const key = 'MySecretEventSignatureKey';
  const body = '<INSERT_EVENT_NOTIFICATION_RESPONSE_BODY>';
  const vector = 'sha256=jHdbRx5EZAsOfTwAPJOGkNUzQMVVdu5VJlxcsk+G6jQ=';

  it('signElementsBody(reference key, reference body) gives the reference vector (open-connectors.md §2)', () => {
    assert.equal(signElementsBody(key, body), vector);
    assert.equal(signElementsBody(key, Buffer.from(body)), vector);
  });

  it('verifyElementsSignature accepts the reference vector (also from src/core)', () => {
    assert.equal(verifyElementsSignature(key, body, vector), true);
    assert.equal(exported(key, Buffer.from(body), [vector]), true);
  });

  it('verifyElementsSignature rejects a changed body, a wrong key, a sha1/hex/missing/short header', () => {
    assert.equal(verifyElementsSignature(key, body + ' ', vector), false);
    assert.equal(verifyElementsSignature('other', body, vector), false);
    assert.equal(verifyElementsSignature(key, body, vector.replace('sha256=', 'sha1=')), false);
    const hex = 'sha256=' + createHmac('sha256', key).update(body).digest('hex');
    assert.equal(verifyElementsSignature(key, body, hex), false);
    assert.equal(verifyElementsSignature(key, body, undefined), false);
    assert.equal(verifyElementsSignature(key, body, 'sha256=abc'), false);
  });

  it('sign and verify throw a prefixed TypeError for an empty key or a non-bytes body', () => {
    assert.throws(() => signElementsBody('', body), /^TypeError: \[signElementsBody\] key/);
    assert.throws(() => verifyElementsSignature(key, {} as unknown as string, vector), /\[verifyElementsSignature\] body/);
  });
});
