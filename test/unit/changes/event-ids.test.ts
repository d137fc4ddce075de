/**
 * eventIds and event dates are part of the contract (CONTRACT "The event": the same change seen twice gets the same
 * eventId, across versions of the package too: a restarted poller re-sends its last round, receivers dedupe on it).
 * The expected values below were computed with the implementation before the CPU work of issue 18 item 2; any
 * faster hashing or date formatting must give exactly these.
 */
import assert from 'node:assert/strict';
import { changeEventId, isoDate } from '../../../src/core/events';
import { makeEvent, readDate, readField, type EngineContext } from '../../../src/core/changes/shared';
import { parsePollerConfiguration } from '../../../src/core/opencon/poller-config';
import type { GraphClient } from '../../../src/core/graph/client';
import { parseGraphUtcDate } from '../../../src/core/dates/graph-iso';

describe('events: eventIds and dates are stable', () => {
  it('changeEventId: the same ids as before for ASCII, non-ASCII, empty, null/undefined and numeric parts', () => {
    const cases: Array<[Array<string | number | undefined | null>, string]> = [
      [['polling', 'messages', 'AAMkAGI2TG93AAA=', 'CREATED', 'W/"CQAAABYAAAA"'], '24J1JwR9pdoCI5WdNZVLHwfmx5adoTsc'],
      [['polling', 'events', 'AAMkAGI2TG93AAA=', 'DELETED', 'removed'], 'wz3kIIyl_ZxM-uKdK7YjQoyUTkknzmnp'],
      [['polling', 'driveItems', '01BYE5RZ6QN3ZWBTUFOFD3GSPGOHDJD36K', 'UPDATED', '"{1A2B},3"'], '-xdxQPbYdBuooY26kGLLgvY4XbRvSpqR'],
      [['polling', 'contacts', 'é ü 日本 🙂', 'UPDATED', ''], 'w402K-Dirnl3nU2s_x6imhnFBx5hIWYm'],
      [['webhook', 'sub-1', 'updated', 'obj', undefined], 'ah3GTT3izqigbdiRyH1z9i5GeZNjh_yh'],
      [['notification', 'inst', 'outlookemail', 'messages', 42, null, 'x'], 'jFMHvunNPTllLAeoFHEd6WMXCTY8b0pT'],
      [[], '47DEQpj8HBSa-_TImW-5JCeuQeRkm5NM'],
    ];
    for (const [parts, id] of cases) assert.equal(changeEventId(...parts), id, JSON.stringify(parts));
  });

  it('isoDate: milliseconds in UTC, whatever was formatted just before', () => {
    const values = [0, 1_764_695_933_000, 1_764_695_933_123, 0, 1_764_695_933_000, -1, 1_764_695_933_123, 1_764_695_933_123];
    for (const ms of values) assert.equal(isoDate(ms), new Date(ms).toISOString());
  });

  it('makeEvent: the whole event of a change, id and dates included', () => {
    const [resource] = parsePollerConfiguration({ messages: { url: '/me/mailFolders/inbox/messages/delta', idField: 'id' } }, { elementKey: 'outlookemail', timezone: 'UTC', mePath: '/me' });
    const ctx: EngineContext = { graph: {} as GraphClient, elementKey: 'outlookemail', instanceName: 'inst', pollStart: Date.UTC(2026, 11, 2, 17, 20, 0, 250) };
    const raw = { id: 'AAMkAGI2TG93AAA=', lastModifiedDateTime: '2026-12-02T17:18:53Z', changeKey: 'CQAAABYAAAA' };
    const events = [
      makeEvent(resource!, ctx, raw, raw.id, 'CREATED', Date.UTC(2026, 11, 2, 17, 18, 53), 'CQAAABYAAAA'),
      makeEvent(resource!, ctx, raw, raw.id, 'UPDATED', Date.UTC(2026, 11, 2, 17, 19, 1), 'CQAAABYAAAB'),
      makeEvent(resource!, ctx, raw, raw.id, 'DELETED', ctx.pollStart, 'removed'),
    ];
    assert.deepEqual(
      events.map(({ raw: r, ...e }) => ({ ...e, raw: r === raw })),
      [
        { eventId: 'KPJPT3_hkVGiNDKReYIUPJBbmNw4WigD', eventType: 'CREATED', objectType: 'messages', objectId: raw.id, elementKey: 'outlookemail', instanceName: 'inst', date: '2026-12-02T17:18:53.000Z', pollDate: '2026-12-02T17:20:00.250Z', source: 'polling', raw: true },
        { eventId: 'TSeNWX8zzj2KAUNkEhEkGG0zBZ8jO6oL', eventType: 'UPDATED', objectType: 'messages', objectId: raw.id, elementKey: 'outlookemail', instanceName: 'inst', date: '2026-12-02T17:19:01.000Z', pollDate: '2026-12-02T17:20:00.250Z', source: 'polling', raw: true },
        { eventId: 'Nm5FERhg2RkwfJm69cwtKn1iDTo-WLon', eventType: 'DELETED', objectType: 'messages', objectId: raw.id, elementKey: 'outlookemail', instanceName: 'inst', date: '2026-12-02T17:20:00.250Z', pollDate: '2026-12-02T17:20:00.250Z', source: 'polling', raw: true },
      ],
    );
  });

  it('readField / readDate: a field read again, or from another object, gives that object\'s value', () => {
    const a = { id: 'a', createdDateTime: '2026-12-02T17:18:53Z', lastModifiedDateTime: '2026-12-02T17:18:53Z', Fields: { Due: 'x' } };
    const b = { id: 'b', createdDateTime: '2026-12-02T17:18:54Z', lastModifiedDateTime: '2026-12-02T17:19:00.1234567Z' };
    for (let i = 0; i < 3; i += 1) {
      assert.equal(readField(a, 'id'), 'a');
      assert.equal(readField(b, 'id'), 'b');
      assert.equal(readField(a, 'fields.due'), 'x');
      assert.equal(readField(b, 'fields.due'), undefined);
      assert.equal(readDate(a, 'createdDateTime', undefined, 'UTC'), Date.UTC(2026, 11, 2, 17, 18, 53));
      assert.equal(readDate(a, 'lastModifiedDateTime', undefined, 'UTC'), Date.UTC(2026, 11, 2, 17, 18, 53));
      assert.equal(readDate(b, 'createdDateTime', undefined, 'UTC'), Date.UTC(2026, 11, 2, 17, 18, 54));
      assert.equal(readDate(b, 'lastModifiedDateTime', undefined, 'UTC'), Date.UTC(2026, 11, 2, 17, 19, 0, 123));
      assert.equal(readDate({ d: '2026-12-02T17:18:53+02:00' }, 'd', undefined, 'UTC'), Date.UTC(2026, 11, 2, 15, 18, 53));
    }
  });
});

describe('dates: Graph\'s UTC form read fast, as Date.parse reads it', () => {
  it('parseGraphUtcDate: whole seconds and fractions of 1–7 digits (truncated to ms) equal Date.parse; other forms are left to it', () => {
    const samples = ['2026-12-02T17:18:53Z', '2026-12-02T00:00:00Z', '2026-12-02T23:59:59Z', '1999-01-01T12:00:00.5Z', '2026-12-02T17:19:00.1234567Z', '2026-12-02T17:19:00.999Z', '2024-02-29T10:00:00Z', '2026-02-30T00:00:00Z'];
    for (let i = 0; i < 2000; i += 1) samples.push(new Date(Date.UTC(2020, 0, 1) + i * 7_919_333).toISOString().replace(/\.\d+/, i % 2 ? '' : `.${String(i).padStart(7, '0').slice(0, 1 + (i % 7))}`));
    for (const s of samples) assert.equal(parseGraphUtcDate(s), Date.parse(s), s);
    for (const s of ['2026-12-02T24:00:00Z', '2026-12-02T17:18:53+02:00', '2026-12-02T17:18:53', '2026-12-02T17:18:53.Z', '2026-12-02T17:18:53.12345678Z', '2026-12-02 17:18:53Z', '2026-1a-02T17:18:53Z', '']) {
      assert.equal(parseGraphUtcDate(s), undefined, s);
    }
    assert.equal(readDate({ d: '2026-12-02T17:18:53.1234567Z' }, 'd', undefined, 'UTC'), Date.UTC(2026, 11, 2, 17, 18, 53, 123));
  });
});
