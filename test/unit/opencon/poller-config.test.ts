/**
 * parsePollerConfiguration: the Open Connectors poller configuration (`reference/open-connectors.md` §3.1) as an
 * object or an escaped string, both key spellings, hub URL translation, `/me` for app-only connectors, defaults
 * per element key, and ConfigurationError naming the resource and key.
 */
import assert from 'node:assert/strict';
import { parsePollerConfiguration, type PollerConfigContext } from '../../../src/core/opencon/poller-config';
import { ConfigurationError } from '../../../src/core/errors';

const delegated: PollerConfigContext = { elementKey: 'outlookemail', timezone: 'UTC', mePath: '/me' };
const appOnly: PollerConfigContext = { elementKey: 'outlookemail', timezone: 'UTC', mePath: '/users/u-1' };

function rejects(input: unknown, setting: string, ctx: PollerConfigContext = delegated): void {
  assert.throws(
    () => parsePollerConfiguration(input, ctx),
    (err: unknown) => err instanceof ConfigurationError && err.setting === setting && err.message.startsWith(`${setting}: `),
  );
}

describe('parsePollerConfiguration', () => {
  it('an object and the same object as an escaped string give the same resources', () => {
    const config = { messages: { url: '/me/messages?$filter=lastModifiedDateTime ge ${gmtDate:yyyy-MM-dd\'T\'HH:mm:ss\'Z\'}', idField: 'id', pollDelay: 30 } };
    assert.deepEqual(parsePollerConfiguration(JSON.stringify(config), delegated), parsePollerConfiguration(config, delegated));
  });

  it('updatedDate* and updatedAt* (createdDate* / createdAt*) keys are both read', () => {
    const base = { url: '/me/messages', idField: 'id' };
    const [a] = parsePollerConfiguration({ m: { ...base, datesConfiguration: { updatedDateField: 'lastModifiedDateTime', updatedDateFormat: "yyyy-MM-dd'T'HH:mm:ss'Z'", updatedDateTimezone: 'Europe/Paris', createdDateField: 'createdDateTime' } } }, delegated);
    const [b] = parsePollerConfiguration({ m: { ...base, datesConfiguration: { updatedAtField: 'lastModifiedDateTime', updatedAtFormat: "yyyy-MM-dd'T'HH:mm:ss'Z'", updatedAtTimezone: 'Europe/Paris', createdAtField: 'createdDateTime' } } }, delegated);
    assert.deepEqual(a!.dates, b!.dates);
    assert.equal(a!.dates.updatedZone, 'Europe/Paris');
    assert.equal(a!.dates.createdField, 'createdDateTime');
  });

  it('per-resource options: defaults, then pollDelay, createdCheckTolerance, pageSize, filter flags and mode', () => {
    const [d] = parsePollerConfiguration({ m: { url: '/me/messages' } }, delegated);
    assert.deepEqual(
      { pollDelay: d!.pollDelay, tol: d!.createdCheckTolerance, pageSize: d!.pageSize, u: d!.filterByUpdatedDate, c: d!.filterByCurrentDate, idField: d!.idField },
      { pollDelay: 0, tol: 2, pageSize: 100, u: true, c: false, idField: 'id' },
    );
    const [r] = parsePollerConfiguration({ m: { url: '/me/mailFolders/inbox/messages/delta', pollDelay: '15', createdCheckTolerance: 5, pageSize: 5000, filterByUpdatedDate: 'false', filterByCurrentDate: true, mode: 'delta' } }, delegated);
    assert.deepEqual(
      { pollDelay: r!.pollDelay, tol: r!.createdCheckTolerance, pageSize: r!.pageSize, u: r!.filterByUpdatedDate, c: r!.filterByCurrentDate, mode: r!.mode },
      { pollDelay: 15, tol: 5, pageSize: 1000, u: false, c: true, mode: 'delta' },
    );
  });

  it('/me is rewritten to /users/{id} for an app-only connector, left alone for a delegated one', () => {
    assert.equal(parsePollerConfiguration({ m: { url: '/me/mailFolders/inbox/messages/delta' } }, appOnly)[0]!.url, '/users/u-1/mailFolders/inbox/messages/delta');
    assert.equal(parsePollerConfiguration({ m: { url: '/me/mailFolders/inbox/messages/delta' } }, delegated)[0]!.url, '/me/mailFolders/inbox/messages/delta');
  });

  it('an empty configuration gives the default resource of each element key', () => {
    const of = (elementKey: PollerConfigContext['elementKey'], input: unknown) => parsePollerConfiguration(input, { ...delegated, elementKey })[0]!;
    assert.deepEqual([of('outlookemail', '').objectType, of('outlookemail', '').mode], ['messages', 'delta']);
    assert.match(of('office365', {}).url, /calendarView\/delta/);
    assert.match(of('microsoftgraph', undefined).url, /calendarView\/delta/);
    const drive = of('onedrivev2', '  ');
    assert.deepEqual([drive.objectType, drive.url, drive.mode], ['driveItems', '/me/drive/root/delta', 'delta']);
  });

  it('a delta Graph path is delta mode; a collection with $filter is filter mode', () => {
    assert.equal(parsePollerConfiguration({ m: { url: '/me/drive/root/delta' } }, delegated)[0]!.mode, 'delta');
    assert.equal(parsePollerConfiguration({ m: { url: "/me/messages?$filter=lastModifiedDateTime ge '${date}'" } }, delegated)[0]!.mode, 'filter');
  });

  it('errors name the resource and the key', () => {
    rejects('{not json', 'configuration');
    rejects('[1,2]', 'configuration');
    rejects({ mail: 'x' }, 'configuration.mail');
    rejects({ mail: { idField: 'id' } }, 'configuration.mail.url');
    rejects({ mail: { url: '/me/messages', pollDelay: -1 } }, 'configuration.mail.pollDelay');
    rejects({ mail: { url: '/me/messages', createdCheckTolerance: 'soon' } }, 'configuration.mail.createdCheckTolerance');
    rejects({ mail: { url: '/me/messages', pageSize: 'many' } }, 'configuration.mail.pageSize');
    rejects({ mail: { url: '/me/messages', datesConfiguration: { updatedDateFormat: 'yyyy-MM-dd bbb' } } }, 'configuration.mail.datesConfiguration.updatedDateFormat');
    rejects({ mail: { url: '/me/messages', datesConfiguration: { createdAtTimezone: 'Mars/Olympus' } } }, 'configuration.mail.datesConfiguration.createdDateTimezone');
    rejects({ mail: { url: '/me/messages?$filter=x ge ${nonsense:yyyy}' } }, 'configuration.mail.url');
  });

  it('calendar URLs Graph would refuse are refused at deploy, naming the limit (reference/graph.md §11.2)', () => {
    const office: PollerConfigContext = { ...delegated, elementKey: 'office365' };
    const message = (url: string) => {
      try {
        parsePollerConfiguration({ events: { url } }, office);
      } catch (err) {
        assert.ok(err instanceof ConfigurationError);
        assert.equal(err.setting, 'configuration.events.url');
        return err.message;
      }
      return '';
    };
    assert.match(message('/me/calendarView/delta?startDateTime=2024-01-01T00:00:00Z&endDateTime=2029-01-02T00:00:00Z'), /spans 1828 days; Graph serves a calendarView window of at most 1825 days/);
    assert.match(message('/me/calendarView?$filter=subject eq \'x\''), /needs startDateTime and endDateTime.*1825 days/);
    assert.match(message('/me/calendarView/delta?startDateTime=2026-01-01T00:00:00Z'), /give both startDateTime and endDateTime/);
    assert.match(message('/me/events/delta'), /only through a calendar view: use \/me\/calendarView\/delta/);
    assert.match(message('/me/calendar/events/delta'), /calendarView\/delta/);
    // The poller supplies a window to calendarView delta (one year back, two ahead); a window within the limit is kept.
    assert.equal(message('/me/calendarView/delta'), '');
    assert.equal(message('/me/calendarView/delta?startDateTime=2024-01-01T00:00:00Z&endDateTime=2028-12-30T00:00:00Z'), '');
    assert.equal(message('/me/calendarView?startDateTime=${gmtDate:yyyy-MM-dd}&endDateTime=2030-01-01'), '');
  });
});
