import assert from 'node:assert/strict';
import { useSimulator } from '../../support/simulator';
import { deltaRound, get } from './graph-helpers';

/**
 * The reads behind the editor's pickers (issue 16, item 2), as Graph serves them: "List calendars", "List drives",
 * "List childFolders" (`{value: [...]}` with `@odata.context`, `$select` honoured), and their permissions.
 */
describe('simulated Graph: calendars, drives and child folders (pickers)', () => {
  const sim = useSimulator();
  const user = () => sim().state.defaultUser.id;
  const delegated = (scopes: string[]) => sim().state.accessTokens.issue({ userId: user(), clientId: 'pick-client', tenantId: sim().state.tenantId, scopes, appOnly: false }).token;
  const appOnly = (roles: string[]) => sim().state.accessTokens.issue({ clientId: 'pick-client', tenantId: sim().state.tenantId, scopes: [], roles, appOnly: true }).token;

  it('GET /me/calendars: the default calendar, $select applied; Calendars.ReadBasic is enough; without it 403 ErrorAccessDenied', async () => {
    const res = await get(sim(), delegated(['Calendars.ReadBasic']), '/me/calendars?$select=id,name,isDefaultCalendar');
    assert.equal(res.status, 200);
    assert.match(res.data['@odata.context'], /\$metadata#users\('[^']+'\)\/calendars|\$metadata#.*calendars/);
    assert.equal(res.data.value.length, 1);
    assert.deepEqual(Object.keys(res.data.value[0]).sort(), ['id', 'isDefaultCalendar', 'name']);
    assert.equal(res.data.value[0].isDefaultCalendar, true);
    const denied = await get(sim(), delegated(['Mail.Read']), '/me/calendars');
    assert.equal(denied.status, 403);
    assert.equal(denied.data.error.code, 'ErrorAccessDenied');
  });

  it('GET /users/{id}/drives: the user\'s drive; Files.Read.All app-only; without a files permission 403 accessDenied', async () => {
    const res = await get(sim(), appOnly(['Files.Read.All']), `/users/${user()}/drives?$select=id,driveType,name`);
    assert.equal(res.status, 200);
    assert.equal(res.data.value.length, 1);
    assert.deepEqual(Object.keys(res.data.value[0]).sort(), ['driveType', 'id', 'name']);
    const drive = await get(sim(), appOnly(['Files.Read.All']), `/users/${user()}/drive`);
    assert.equal(res.data.value[0].id, drive.data.id);
    const denied = await get(sim(), appOnly(['Mail.Read']), `/users/${user()}/drives`);
    assert.equal(denied.status, 403);
    assert.equal(denied.data.error.code, 'accessDenied');
  });

  it('GET /me/mailFolders/{id}/childFolders: the folders below it (none below the well-known ones); unknown folder 404', async () => {
    const token = delegated(['Mail.ReadBasic']);
    const inbox = await get(sim(), token, '/me/mailFolders/inbox');
    const res = await get(sim(), token, `/me/mailFolders/${inbox.data.id}/childFolders`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.data.value, []);
    assert.ok(res.data['@odata.context']);
    const missing = await get(sim(), token, '/me/mailFolders/AAMkNOPE/childFolders');
    assert.equal(missing.status, 404);
  });

  it('GET /me/calendars/{id}: the picked calendar, its events and its calendarView delta (Calendars.Read); another id 404 ErrorItemNotFound', async () => {
    const token = delegated(['Calendars.Read']);
    const [calendar] = (await get(sim(), token, '/me/calendars')).data.value;
    const one = await get(sim(), token, `/me/calendars/${calendar.id}`);
    assert.equal(one.status, 200);
    assert.equal(one.data.id, calendar.id);
    assert.equal(one.data.isDefaultCalendar, true);
    const start = new Date(sim().state.clock.now() + 86_400_000).toISOString();
    const event = sim().state.graph.store.createEvent(user(), { subject: 'In the picked calendar', start });
    const events = await get(sim(), token, `/me/calendars/${calendar.id}/events`);
    assert.equal(events.status, 200);
    assert.deepEqual(events.data.value.map((e: { id: string }) => e.id), [event.id]);
    const from = new Date(sim().state.clock.now() - 86_400_000).toISOString();
    const to = new Date(sim().state.clock.now() + 7 * 86_400_000).toISOString();
    const round = await deltaRound(sim(), token, `/me/calendars/${calendar.id}/calendarView/delta?startDateTime=${from}&endDateTime=${to}`);
    assert.deepEqual(round.items.map((e) => e.id), [event.id]);
    assert.match(round.deltaLink, new RegExp(`/calendars/${calendar.id}/calendarView/delta\\?`));
    const later = sim().state.graph.store.createEvent(user(), { subject: 'Later', start });
    const next = await deltaRound(sim(), token, round.deltaLink);
    assert.deepEqual(next.items.map((e) => e.id), [later.id]);
    for (const path of ['/me/calendars/AAMkNOPE', '/me/calendars/AAMkNOPE/calendarView/delta']) {
      const missing = await get(sim(), token, path);
      assert.equal(missing.status, 404, path);
      assert.equal(missing.data.error.code, 'ErrorItemNotFound', path);
    }
    const denied = await get(sim(), delegated(['Mail.Read']), `/me/calendars/${calendar.id}/calendarView/delta?startDateTime=${from}&endDateTime=${to}`);
    assert.equal(denied.status, 403);
  });
});
