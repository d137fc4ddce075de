import { strict as assert } from 'node:assert';
import type { Ms365Event } from '../../../src/core/events';
import { buildNotifications, parseEvents, InvalidEventError, type CallbackEnvelope } from '../../../src/core/delivery/envelope';

function event(i: number, over: Partial<Ms365Event> = {}): Ms365Event {
  return {
    eventId: `e${i}`,
    eventType: 'CREATED',
    objectType: 'messages',
    objectId: `m${i}`,
    elementKey: 'outlookemail',
    instanceName: 'My Outlook',
    date: '2026-11-22T10:15:02.000Z',
    pollDate: '2026-11-22T10:16:00.000Z',
    source: 'polling',
    raw: { id: `m${i}` },
    ...over,
  };
}

const parse = (body: string) => JSON.parse(body) as CallbackEnvelope;

describe('delivery/envelope', () => {
  it('buildNotifications(25 polling events) gives batches of 10, 10, 5 with raw keyed by objectType', () => {
    const list = buildNotifications(Array.from({ length: 25 }, (_, i) => event(i)));
    assert.deepEqual(list.map((n) => n.eventCount), [10, 10, 5]);
    const m = parse(list[0]!.body).message;
    assert.equal(m.eventId, list[0]!.id);
    assert.equal(m.instanceName, 'My Outlook');
    assert.equal(m.elementKey, 'outlookemail');
    assert.equal(m.events.length, 10);
    assert.equal((m.events[0] as Record<string, unknown>).raw, undefined);
    assert.equal(m.events[0]!.objectId, 'm0');
    assert.equal(m.raw.objectType, 'messages');
    assert.deepEqual((m.raw.messages as unknown[])[9], { id: 'm9' });
    assert.deepEqual(Object.keys(parse(list[2]!.body).message), ['eventId', 'instanceName', 'elementKey', 'events', 'raw']);
  });

  it('buildNotifications(45 webhook events) gives batches of 20, 20, 5; batchSize 7 overrides', () => {
    const hooks = Array.from({ length: 45 }, (_, i) => event(i, { source: 'webhook' }));
    assert.deepEqual(buildNotifications(hooks).map((n) => n.eventCount), [20, 20, 5]);
    assert.deepEqual(buildNotifications(hooks, 7).map((n) => n.eventCount), [7, 7, 7, 7, 7, 7, 3]);
  });

  it('buildNotifications splits by objectType, elementKey and instance, in order of first appearance', () => {
    const list = buildNotifications([
      event(1),
      event(2, { objectType: 'events', raw: { id: 'ev' } }),
      event(3),
      event(4, { instanceName: 'Other' }),
      event(5, { elementKey: 'onedrivev2', objectType: 'driveItems' }),
    ]);
    const messages = list.map((n) => parse(n.body).message);
    assert.deepEqual(messages.map((m) => [m.instanceName, m.elementKey, m.raw.objectType, m.events.length]), [
      ['My Outlook', 'outlookemail', 'messages', 2],
      ['My Outlook', 'outlookemail', 'events', 1],
      ['Other', 'outlookemail', 'messages', 1],
      ['My Outlook', 'onedrivev2', 'driveItems', 1],
    ]);
    assert.deepEqual(messages[1]!.raw.events, [{ id: 'ev' }]);
  });

  it('buildNotifications gives the same notification eventId for the same batch, another for another batch', () => {
    const a = buildNotifications([event(1), event(2)]);
    const b = buildNotifications([event(1), event(2)]);
    const c = buildNotifications([event(1), event(3)]);
    assert.equal(a[0]!.id, b[0]!.id);
    assert.equal(a[0]!.body, b[0]!.body);
    assert.notEqual(a[0]!.id, c[0]!.id);
  });

  it('parseEvents accepts an event or an array and rejects bad input with the field named', () => {
    assert.equal(parseEvents(event(1)).length, 1);
    assert.equal(parseEvents([event(1), event(2)]).length, 2);
    assert.throws(() => parseEvents('hello'), (e: unknown) => e instanceof InvalidEventError && /msg\.payload is not an event/.test(e.message));
    assert.throws(() => parseEvents([]), /empty array/);
    assert.throws(() => parseEvents([event(1), { ...event(2), objectId: '' }]), /msg\.payload\[1\]\.objectId/);
    assert.throws(() => parseEvents({ ...event(1), eventType: 'NEW' }), /eventType must be one of/);
    assert.throws(() => parseEvents({ ...event(1), source: 'mail' }), /source must be/);
  });
});
