/** Pure parts shared by the poller engines: field reading, date reading, the Open Connectors CREATED/UPDATED rule. */
import assert from 'node:assert/strict';
import { classify, readDate, readField } from '../../../src/core/changes/shared';
import { filterUrl, startFilter } from '../../../src/core/changes/filter-engine';
import { initialDeltaUrl } from '../../../src/core/changes/delta-engine';
import { parsePollerConfiguration } from '../../../src/core/opencon/poller-config';
import type { EngineContext } from '../../../src/core/changes/shared';
import type { GraphClient } from '../../../src/core/graph/client';

describe('poller engines: classification and field reading', () => {
  it('classify: updated equal to created within the tolerance → CREATED', () => {
    assert.equal(classify(1_000_000, 1_001_500, 2), 'CREATED');
    assert.equal(classify(1_000_000, 1_000_000, 0), 'CREATED');
  });
  it('classify: updated later than created beyond the tolerance → UPDATED', () => {
    assert.equal(classify(1_000_000, 1_003_000, 2), 'UPDATED');
  });
  it('classify: a missing created date → UPDATED', () => {
    assert.equal(classify(undefined, 1_000_000, 2), 'UPDATED');
  });
  it('readField: dotted paths, case-insensitive segments and Open Connectors PascalCase', () => {
    const obj = { id: 'a', fields: { lastModifiedDateTime: 'x' }, receivedDateTime: 'r' };
    assert.equal(readField(obj, 'fields.lastModifiedDateTime'), 'x');
    assert.equal(readField(obj, 'ID'), 'a');
    assert.equal(readField(obj, 'ReceivedDateTime'), 'r');
    assert.equal(readField(obj, 'missing.deep'), undefined);
  });
  it('readDate: ISO with Z, a Java pattern in a zone, and unreadable values → undefined', () => {
    assert.equal(readDate({ d: '2024-03-01T10:00:00Z' }, 'd', undefined, 'UTC'), Date.UTC(2024, 2, 1, 10));
    assert.equal(readDate({ d: '2024-03-01 11:00:00' }, 'd', 'yyyy-MM-dd HH:mm:ss', 'Europe/Paris'), Date.UTC(2024, 2, 1, 10));
    assert.equal(readDate({ d: 'not a date' }, 'd', undefined, 'UTC'), undefined);
    assert.equal(readDate({}, 'd', undefined, 'UTC'), undefined);
    assert.equal(readDate({ d: 'x' }, undefined, undefined, 'UTC'), undefined);
  });
});

describe('poller engines: URLs and starting points', () => {
  const ctx = { elementKey: 'outlookemail' as const, timezone: 'UTC', mePath: '/me' };
  it('filterUrl: macros rendered at the window start and $top = pageSize', () => {
    const [r] = parsePollerConfiguration({ messages: { url: "/me/messages?$filter=lastModifiedDateTime ge '${date:yyyy-MM-dd'T'HH:mm:ss'Z'}'", pageSize: 25 } }, ctx);
    const url = filterUrl(r!, Date.UTC(2024, 0, 2, 3, 4, 5));
    assert.match(url, /2024-01-02T03:04:05Z/);
    assert.match(url, /\$top=25$/);
  });
  it('initialDeltaUrl: calendarView delta gets a start/end window, messages delta does not', () => {
    const now = Date.UTC(2024, 5, 1);
    const [cal] = parsePollerConfiguration({ events: { url: '/me/calendarView/delta' } }, ctx);
    assert.match(initialDeltaUrl(cal!, now), /startDateTime=2023-06-02T00:00:00\.000Z&endDateTime=2026-06-01T00:00:00\.000Z$/);
    const [mail] = parsePollerConfiguration({ messages: { url: '/me/mailFolders/inbox/messages/delta' } }, ctx);
    assert.equal(initialDeltaUrl(mail!, now), '/me/mailFolders/inbox/messages/delta');
  });
  it('startFilter: the first round emits nothing, makes no request and sets the watermark to the poll start', () => {
    const engine: EngineContext = { graph: {} as GraphClient, elementKey: 'outlookemail', instanceName: 'i', pollStart: 42_000 };
    const round = startFilter(engine);
    assert.deepEqual(round, { events: [], cursor: { mode: 'filter', watermark: 42_000, seen: [], startedAt: 42_000 }, requests: 0 });
  });
});
