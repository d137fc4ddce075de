import assert from 'node:assert/strict';
import { ceqlToODataFilter, graphFieldName, translateHubUrl } from '../../../src/core/opencon/hub-url';
import { expandUrlMacros } from '../../../src/core/dates/url-macros';
import { ConfigurationError } from '../../../src/core/errors';
import { useSimulator } from '../../support/simulator';
import { delegatedToken, deltaRound, get } from '../simulator/graph-helpers';

const T = Date.parse('2020-03-04T05:06:07.089Z');
const configError = (re: RegExp) => (e: unknown): boolean => e instanceof ConfigurationError && re.test(e.message);

describe('translateHubUrl (Open Connectors hub URL → Graph path)', () => {
  it('outlookemail example (§3.1) → /me/messages with an unquoted lastModifiedDateTime ge macro; expands to a Graph $filter', () => {
    const r = translateHubUrl("/hubs/general/messages?where=LastModifiedDateTime>='${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}'", 'outlookemail');
    assert.deepEqual(r, {
      path: "/me/messages?$filter=lastModifiedDateTime%20ge%20${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}",
      mode: 'filter',
      dateField: 'lastModifiedDateTime',
    });
    assert.equal(expandUrlMacros(r.path, T), '/me/messages?$filter=lastModifiedDateTime%20ge%202020-03-04T05:06:07Z');
  });

  it('/hubs/productivity/messages|events|contacts|calendars → /me/…, filter mode', () => {
    assert.deepEqual(translateHubUrl('/hubs/productivity/messages', 'office365'), { path: '/me/messages', mode: 'filter' });
    assert.equal(translateHubUrl('/hubs/productivity/events', 'office365').path, '/me/events');
    assert.equal(translateHubUrl('/hubs/productivity/contacts', 'office365').path, '/me/contacts');
    assert.equal(translateHubUrl('/hubs/productivity/calendars/AAA/events', 'office365').path, '/me/calendars/AAA/events');
    assert.equal(translateHubUrl('/hubs/general/folders/inbox/messages', 'outlookemail').path, '/me/mailFolders/inbox/messages');
    assert.equal(translateHubUrl('/messages', 'outlookemail').path, '/me/messages');
  });

  it('hub field names (modification_date, creation_date) and operators (>, <=, <, =, !=, and, or) map to Graph', () => {
    const r = translateHubUrl(
      "/hubs/productivity/events?where=modification_date > '${date}' and creation_date <= '2020-01-01T00:00:00Z' or (Subject = 'It''s' and IsDraft != true) and Importance < 3",
      'office365',
    );
    assert.equal(
      decodeURIComponent(r.path),
      "/me/events?$filter=lastModifiedDateTime gt ${date} and createdDateTime le 2020-01-01T00:00:00Z or (subject eq 'It''s' and isDraft ne true) and importance lt 3",
    );
    assert.equal(r.dateField, 'lastModifiedDateTime');
    assert.doesNotMatch(r.path, / /);
  });

  it("an & inside a quoted CEQL value stays in the value ('A & B' → subject eq 'A & B', encoded)", () => {
    const r = translateHubUrl("/hubs/general/messages?where=Subject = 'A & B'&pageSize=5", 'outlookemail');
    assert.equal(r.path, "/me/messages?$filter=subject%20eq%20'A%20%26%20B'&$top=5");
  });

  it('pageSize → $top, orderBy → $orderby with Graph names', () => {
    const r = translateHubUrl("/hubs/general/messages?where=ReceivedDateTime>='${gmtDate:yyyy-MM-dd'T'HH:mm:ssXXX}'&pageSize=50&orderBy=ReceivedDateTime desc", 'outlookemail');
    assert.equal(decodeURIComponent(r.path), "/me/messages?$filter=receivedDateTime ge ${gmtDate:yyyy-MM-dd'T'HH:mm:ssXXX}&$top=50&$orderby=receivedDateTime desc");
    assert.equal(r.dateField, 'receivedDateTime');
  });

  it('/hubs/documents/changes|files|folders and onedrivev2 events → /me/drive/root/delta (delta mode, where dropped)', () => {
    for (const url of ['/hubs/documents/changes', '/hubs/documents/files', '/hubs/documents/folders/contents?path=/', '/hubs/documents/events']) {
      assert.deepEqual(translateHubUrl(url, 'onedrivev2'), { path: '/me/drive/root/delta', mode: 'delta' }, url);
    }
    assert.deepEqual(translateHubUrl('/events', 'onedrivev2'), { path: '/me/drive/root/delta', mode: 'delta' });
    assert.deepEqual(translateHubUrl("/hubs/documents/changes?where=modifiedDate>'${epoch}'", 'onedrivev2'), { path: '/me/drive/root/delta', mode: 'delta' });
    assert.deepEqual(translateHubUrl('/hubs/documents/folders/F1', 'onedrivev2'), { path: '/me/drive/items/F1/delta', mode: 'delta' });
    // A folder by path: the drive scope resolves it (business drives: root delta narrowed to it).
    assert.deepEqual(translateHubUrl('/hubs/documents/folders/contents?path=/Shared Reports/2026/', 'onedrivev2'), { path: '/me/drive/root:/Shared%20Reports/2026:/delta', mode: 'delta' });
    assert.throws(() => translateHubUrl('/hubs/documents/folders/F1?path=/A', 'onedrivev2'), configError(/either by id or by path/));
    assert.throws(() => translateHubUrl('/hubs/documents/changes?path=A:B', 'onedrivev2'), configError(/must start with "\/" and contain no ":"/));
  });

  it('Graph paths pass through (/me/…, /users/…, /drives/…, me/events without slash); /delta → delta mode', () => {
    const filtered = "/me/messages?$filter=receivedDateTime ge ${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}";
    assert.deepEqual(translateHubUrl(filtered, 'outlookemail'), { path: filtered, mode: 'filter', dateField: 'receivedDateTime' });
    assert.deepEqual(translateHubUrl('/users/u1/mailFolders/inbox/messages/delta', 'office365'), { path: '/users/u1/mailFolders/inbox/messages/delta', mode: 'delta' });
    assert.deepEqual(translateHubUrl('/drives/d1/root/delta', 'onedrivev2'), { path: '/drives/d1/root/delta', mode: 'delta' });
    assert.deepEqual(translateHubUrl('me/events', 'microsoftgraph'), { path: '/me/events', mode: 'filter' });
    assert.deepEqual(translateHubUrl('https://graph.microsoft.com/v1.0/me/contacts', 'office365'), { path: '/me/contacts', mode: 'filter' });
  });

  it('untranslatable parts → ConfigurationError naming the part', () => {
    assert.throws(() => translateHubUrl('/hubs/crm/contacts', 'office365'), configError(/hub "crm"/));
    assert.throws(() => translateHubUrl('/hubs/general/widgets', 'outlookemail'), configError(/resource "\/widgets"/));
    assert.throws(() => translateHubUrl('/hubs/general/messages?foo=1', 'outlookemail'), configError(/query parameter "foo"/));
    assert.throws(() => translateHubUrl("/hubs/general/messages?where=Subject like '%x%'", 'outlookemail'), configError(/after "Subject".*found "like"/));
    assert.throws(() => translateHubUrl("/hubs/general/messages?where=Subject = 'x", 'outlookemail'), configError(/unterminated quote/));
    assert.throws(() => translateHubUrl('/hubs/general/messages?where=Subject = ', 'outlookemail'), configError(/needs a value/));
    assert.throws(() => translateHubUrl('/widgets/1', 'outlookemail'), configError(/"\/widgets" is neither/));
    assert.throws(() => translateHubUrl('', 'outlookemail'), configError(/url: is empty/));
    assert.throws(() => translateHubUrl('/me/messages?$filter=x ge ${nope}', 'outlookemail'), /unknown macro \$\{nope\}/);
  });
});

describe('graphFieldName / ceqlToODataFilter', () => {
  it('graphFieldName: PascalCase, snake_case, hub aliases and dotted paths', () => {
    assert.equal(graphFieldName('LastModifiedDateTime'), 'lastModifiedDateTime');
    assert.equal(graphFieldName('modification_date'), 'lastModifiedDateTime');
    assert.equal(graphFieldName('creation_date'), 'createdDateTime');
    assert.equal(graphFieldName('ReceivedDateTime'), 'receivedDateTime');
    assert.equal(graphFieldName('From.EmailAddress.Address'), 'from/emailAddress/address');
    assert.equal(graphFieldName('parent_reference'), 'parentReference');
  });

  it('ceqlToODataFilter: unbalanced parentheses and a dangling "and" → ConfigurationError', () => {
    assert.throws(() => ceqlToODataFilter("(a = 'x'"), configError(/unbalanced parentheses/));
    assert.throws(() => ceqlToODataFilter("a = 'x' and"), configError(/ends where a comparison is expected/));
    assert.deepEqual(ceqlToODataFilter('CreatedDateTime >= ${epoch:ms}'), { filter: 'createdDateTime ge ${epoch:ms}', dateField: 'createdDateTime' });
  });
});

describe('translateHubUrl + expandUrlMacros against the simulated Graph', () => {
  const sim = useSimulator();
  const store = () => sim().state.graph.store;
  const user = () => sim().state.defaultUser.id;

  beforeEach(() => {
    sim().state.graph.reset();
    sim().state.clock.reset();
  });

  it('outlookemail hub URL → GET answers 200 with only the messages modified at or after the macro instant', async () => {
    const token = delegatedToken(sim());
    const before = store().createMessage(user(), { subject: 'before' });
    sim().state.clock.advance(120_000);
    const pollStart = sim().state.clock.now();
    sim().state.clock.advance(60_000);
    store().createMessage(user(), { subject: 'after' });
    const { path } = translateHubUrl("/hubs/general/messages?where=LastModifiedDateTime>='${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}'", 'outlookemail');
    const res = await get(sim(), token, expandUrlMacros(path, pollStart));
    assert.equal(res.status, 200, JSON.stringify(res.data));
    const subjects = (res.data.value as Array<{ subject: string }>).map((m) => m.subject);
    assert.deepEqual(subjects, ['after']);
    assert.ok(before.id);
  });

  it('the same with ${date:…XXX} in Europe/Berlin (an encoded + offset) and ${gmtDate:…SSS\'Z\'} → 200', async () => {
    const token = delegatedToken(sim());
    store().createMessage(user(), { subject: 'x' });
    for (const macro of ["${date:yyyy-MM-dd'T'HH:mm:ssXXX}", "${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSS'Z'}"]) {
      const { path } = translateHubUrl(`/hubs/general/messages?where=ReceivedDateTime>'${macro}'`, 'outlookemail');
      const res = await get(sim(), token, expandUrlMacros(path, sim().state.clock.now() - 3_600_000, 'Europe/Berlin'));
      assert.equal(res.status, 200, `${macro}: ${JSON.stringify(res.data)}`);
      assert.equal((res.data.value as unknown[]).length, 1, macro);
    }
  });

  it('onedrivev2 events → /me/drive/root/delta answers 200 with a deltaLink', async () => {
    const token = delegatedToken(sim());
    const { path, mode } = translateHubUrl('/hubs/documents/events', 'onedrivev2');
    assert.equal(mode, 'delta');
    const round = await deltaRound(sim(), token, path);
    assert.match(round.deltaLink, /delta/);
  });
});
