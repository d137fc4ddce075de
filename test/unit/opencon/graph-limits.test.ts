/**
 * graph-limits: what Microsoft Graph cannot serve is refused at deploy, naming the limit and what to use instead
 * (issue 14; `reference/graph.md` §5, §6, §11.2, §11.3, §11.5). Each rule here is the page its code comment cites.
 */
import assert from 'node:assert/strict';
import { checkDriveDeltaItem, filterProperties, graphLimitProblem, inefficientFilterProblem } from '../../../src/core/opencon/graph-limits';
import { parsePollerConfiguration, type PollerConfigContext } from '../../../src/core/opencon/poller-config';
import { ConfigurationError } from '../../../src/core/errors';

const problem = (url: string, original?: string) => graphLimitProblem({ url, ...(original !== undefined ? { original } : {}) });

describe('graph-limits: what Graph cannot serve, refused at deploy', () => {
  it('mailbox-wide message delta ("message: delta" is per folder) → use the folder form', () => {
    for (const url of ['/me/messages/delta', '/me/messages/delta()', '/users/u-1/messages/delta?$select=subject']) {
      const text = problem(url);
      assert.ok(text, url);
      assert.match(text, /no mailbox-wide message delta/);
      assert.match(text, /Change tracking is not supported against 'microsoft\.graph\.message'/);
    }
    assert.match(problem('/me/messages/delta')!, /use \/me\/mailFolders\/\{folder\}\/messages\/delta, e\.g\. \/me\/mailFolders\/inbox\/messages\/delta/);
    assert.match(problem('/users/u-1/messages/delta')!, /use \/users\/u-1\/mailFolders\/\{folder\}\/messages\/delta/);
    assert.equal(problem('/me/mailFolders/inbox/messages/delta'), undefined);
    assert.equal(problem("/me/mailFolders('Inbox')/messages/delta"), undefined);
    assert.equal(problem('/me/messages'), undefined);
  });

  it('/events/delta and /calendar/events/delta ("event: delta": calendar view only) → use /calendarView/delta', () => {
    for (const url of ['/me/events/delta', '/me/calendar/events/delta', '/me/calendars/c-1/events/delta', '/users/u-1/events/delta']) {
      assert.match(problem(url) ?? '', /only through a calendar view.*use \/(me|users\/u-1)\/calendarView\/delta/, url);
    }
    assert.equal(problem('/me/calendarView/delta'), undefined);
  });

  it('/contacts/delta ("contact: delta" is per contact folder) → use the folder form', () => {
    assert.match(problem('/me/contacts/delta') ?? '', /per contact folder only; use \/me\/contactFolders\/\{folderId\}\/contacts\/delta/);
    assert.equal(problem('/me/contactFolders/f-1/contacts/delta'), undefined);
    assert.equal(problem('/me/contacts'), undefined);
  });

  it('message delta: $filter only receivedDateTime ge|gt, $orderby only receivedDateTime desc, no $search', () => {
    const url = '/me/mailFolders/inbox/messages/delta';
    assert.equal(problem(`${url}?$filter=receivedDateTime ge 2026-01-01T00:00:00Z`), undefined);
    assert.equal(problem(`${url}?$filter=receivedDateTime%20gt%20\${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}&$orderby=receivedDateTime desc`), undefined);
    assert.equal(problem(`${url}?$select=subject,isRead&$top=50`), undefined);
    assert.match(problem(`${url}?$filter=isRead eq false`) ?? '', /\$filter=isRead eq false: Graph's message delta takes only \$filter=receivedDateTime ge \{date\}/);
    assert.match(problem(`${url}?$filter=receivedDateTime ge 2026-01-01 and isRead eq false`) ?? '', /takes only \$filter=receivedDateTime/);
    assert.match(problem(`${url}?$filter=receivedDateTime lt 2026-01-01`) ?? '', /takes only \$filter=receivedDateTime/);
    assert.match(problem(`${url}?$orderby=receivedDateTime`) ?? '', /takes only \$orderby=receivedDateTime desc/);
    assert.match(problem(`${url}?$orderby=subject desc`) ?? '', /takes only \$orderby=receivedDateTime desc/);
    assert.match(problem(`${url}?$search="invoice"`) ?? '', /does not support \$search/);
  });

  it('calendarView delta: $select, $filter, $orderby, $search, $expand are not supported ("event: delta")', () => {
    const url = '/me/calendarView/delta?startDateTime=2026-01-01T00:00:00Z&endDateTime=2027-01-01T00:00:00Z';
    assert.equal(problem(url), undefined);
    assert.match(problem(`${url}&$select=subject`) ?? '', /calendarView delta does not support \$select/);
    assert.match(problem('/me/calendarView/delta?$filter=isAllDay eq false&$orderby=start/dateTime') ?? '', /does not support \$filter, \$orderby/);
    assert.match(problem('/me/calendarView/delta?$search="x"') ?? '', /\$search/);
    assert.match(problem('/me/calendarView/delta?$expand=attachments') ?? '', /\$expand/);
  });

  it('calendarView window ("List calendarView", "event: delta"): both ends, at most 1825 days; delta without one is supplied by the poller', () => {
    const window = (s: string, e: string) => `startDateTime=${s}&endDateTime=${e}`;
    assert.equal(graphLimitProblem({ url: '/me/calendarView/delta', mode: 'delta' }), undefined);
    assert.equal(problem(`/me/calendarView?${window('2026-01-01T00:00:00Z', '2030-12-30T00:00:00Z')}`), undefined);
    assert.match(problem(`/me/calendarView/delta?${window('2024-01-01T00:00:00Z', '2029-01-02T00:00:00Z')}`) ?? '', /the window spans 1828 days; Graph serves a calendarView window of at most 1825 days/);
    assert.match(graphLimitProblem({ url: '/me/calendarView', mode: 'filter' }) ?? '', /needs startDateTime and endDateTime/);
    assert.match(problem('/me/calendarView/delta?endDateTime=2027-01-01T00:00:00Z') ?? '', /give both startDateTime and endDateTime/);
    assert.match(problem(`/me/calendarView?${window('2027-01-01T00:00:00Z', '2026-01-01T00:00:00Z')}`) ?? '', /endDateTime must be after startDateTime/);
  });

  it('$filter + $orderby on Outlook collections: the InefficientFilter rule ("List messages")', () => {
    // Ordered properties first in $filter, same order: served.
    assert.equal(problem("/me/messages?$filter=receivedDateTime ge 2026-01-01T00:00:00Z and subject eq 'x'&$orderby=receivedDateTime desc"), undefined);
    assert.equal(problem('/me/messages?$filter=receivedDateTime ge ${gmtDate:yyyy-MM-dd} and from/emailAddress/address eq \'a@b.c\'&$orderby=receivedDateTime desc,from/emailAddress/address'), undefined);
    assert.equal(problem('/me/messages?$filter=isRead eq false'), undefined);
    assert.equal(problem('/me/messages?$orderby=subject'), undefined);
    // Not in $filter, after another property, or in another order: InefficientFilter.
    const bad = problem("/me/messages?$filter=isRead eq false&$orderby=receivedDateTime desc");
    assert.match(bad ?? '', /Graph answers 400 InefficientFilter \("The restriction or sort order is too complex for this operation"\)/);
    assert.match(bad ?? '', /start the \$filter with receivedDateTime \.\.\., or leave out \$orderby/);
    assert.ok(problem("/me/mailFolders/inbox/messages?$filter=isRead eq false and receivedDateTime ge 2026-01-01&$orderby=receivedDateTime desc"));
    assert.ok(problem("/me/events?$filter=lastModifiedDateTime ge 2026-01-01 and subject eq 'a'&$orderby=subject,lastModifiedDateTime"));
    assert.ok(problem("/me/contacts?$filter=contains(displayName,'a')&$orderby=lastModifiedDateTime"));
    // Not an Outlook collection: not this rule.
    assert.equal(problem("/me/drive/root/children?$filter=name eq 'a'&$orderby=lastModifiedDateTime"), undefined);
  });

  it('filterProperties reads properties in order, past macros, quoted values and functions', () => {
    assert.deepEqual(filterProperties("receivedDateTime ge ${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'} and (subject eq 'ge x' or contains(from/emailAddress/address,'y')) and not isRead eq true"), ['receivedDateTime', 'subject', 'from/emailAddress/address', 'isRead']);
    assert.deepEqual(filterProperties("categories/any(c:c eq 'Red') and receivedDateTime ge 2026-01-01"), ['categories', 'receivedDateTime']);
    assert.equal(inefficientFilterProblem('receivedDateTime ge 2026-01-01', 'ReceivedDateTime DESC'), undefined);
  });

  it('a hub /hubs/documents/files/{id} names one file: drive delta tracks folders and the drive only', () => {
    assert.match(problem('/me/drive/items/F1/delta', '/hubs/documents/files/F1') ?? '', /not one file; poll the folder that holds it \(\/hubs\/documents\/folders\/\{folderId\}\)/);
    assert.equal(problem('/me/drive/items/D1/delta', '/hubs/documents/folders/D1'), undefined);
    assert.match(problem('/me/drive/root:/Reports/q1.xlsx:/delta', '/hubs/documents/files/contents?path=/Reports/q1.xlsx') ?? '', /not one file/);
    assert.equal(problem('/me/drive/root/delta', '/hubs/documents/files'), undefined);
    assert.equal(problem('/me/drive/root:/Reports:/delta', '/hubs/documents/folders/contents?path=/Reports'), undefined);
  });

  it('checkDriveDeltaItem: the root or a folder passes; a file is refused, naming the limit', () => {
    checkDriveDeltaItem({ id: 'D1', folder: { childCount: 0 } }, 'drive item D1');
    checkDriveDeltaItem({ id: 'R', root: {} }, 'drive item R');
    assert.throws(
      () => checkDriveDeltaItem({ id: 'F1' }, 'drive item /Reports/q1.xlsx'),
      (err: unknown) => err instanceof ConfigurationError && /drive item \/Reports\/q1\.xlsx is a file: Graph's drive delta tracks the root and folders only/.test(err.message),
    );
  });

  it('parsePollerConfiguration refuses them with a ConfigurationError naming the resource url', () => {
    const ctx: PollerConfigContext = { elementKey: 'outlookemail', timezone: 'UTC', mePath: '/users/u-1' };
    assert.throws(
      () => parsePollerConfiguration({ mail: { url: '/me/messages/delta' } }, ctx),
      (err: unknown) => err instanceof ConfigurationError && err.setting === 'configuration.mail.url' && /^configuration\.mail\.url: \/me\/messages\/delta: Graph has no mailbox-wide message delta/.test(err.message),
    );
    assert.throws(() => parsePollerConfiguration({ files: { url: '/hubs/documents/files/F1' } }, { ...ctx, elementKey: 'onedrivev2' }), /not one file/);
    assert.throws(() => parsePollerConfiguration({ m: { url: '/hubs/general/messages?where=isRead = false&orderBy=receivedDateTime desc' } }, ctx), /InefficientFilter/);
    assert.equal(parsePollerConfiguration({ mail: { url: '/me/mailFolders/inbox/messages/delta' } }, ctx)[0]!.url, '/users/u-1/mailFolders/inbox/messages/delta');
  });
});
