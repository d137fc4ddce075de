/**
 * A drive folder as a poller resource on both kinds of OneDrive (`core/changes/drive-scope.ts`, graph.md §5, §11.5):
 * personal drives answer the folder delta themselves, business drives only the root delta, narrowed here.
 */
import assert from 'node:assert/strict';
import { simGraphClient, useSimulator } from '../../support/simulator';
import type { GraphClient } from '../../../src/core/graph/client';
import { pollResource, type PollerCursor, type EngineContext } from '../../../src/core/changes';
import { parseDriveDeltaUrl } from '../../../src/core/changes/drive-scope';
import { startDelta } from '../../../src/core/changes/delta-engine';
import { parsePollerConfiguration, type ResourceConfig } from '../../../src/core/opencon/poller-config';

describe('drive folder resources (against the simulator)', function () {
  this.timeout(20_000);
  const sim = useSimulator();
  let graph: GraphClient;

  before(() => {
    graph = simGraphClient(sim());
  });

  beforeEach(() => {
    sim().state.graph.reset();
    sim().state.clock.reset();
  });

  const store = () => sim().state.graph.store;
  const business = () => sim().state.defaultUser.id;
  const personal = () => sim().state.users.find((u) => u.driveType === 'personal')!.id;
  const resourceOf = (url: string, userId: string): ResourceConfig =>
    parsePollerConfiguration({ files: { url, idField: 'id' } }, { elementKey: 'onedrivev2', timezone: 'UTC', mePath: `/users/${userId}` })[0]!;
  async function round(resource: ResourceConfig, cursor: PollerCursor | undefined) {
    sim().state.clock.advance(1000);
    const ctx: EngineContext = { graph, elementKey: 'onedrivev2', instanceName: 'test', pollStart: sim().state.clock.now() };
    const result = await pollResource(ctx, resource, cursor);
    sim().state.clock.advance(1000);
    return result;
  }
  const summary = (events: Array<{ eventType: string; raw: unknown }>) =>
    events.map((e) => [e.eventType, String((e.raw as { name?: string }).name ?? (e.raw as { id: string }).id)]).sort();

  it('parses root, folder-by-id and folder-by-path drive delta URLs', () => {
    assert.deepEqual(parseDriveDeltaUrl('/me/drive/root/delta?$select=id'), { driveBase: '/me/drive', query: '$select=id' });
    assert.deepEqual(parseDriveDeltaUrl('/drives/b!x/items/01AB/delta'), { driveBase: '/drives/b!x', folderId: '01AB', query: '' });
    assert.deepEqual(parseDriveDeltaUrl('/users/u1/drive/items/root/delta'), { driveBase: '/users/u1/drive', query: '' });
    assert.deepEqual(parseDriveDeltaUrl('/sites/s1/drives/d1/root:/A%20B/C:/delta'), { driveBase: '/sites/s1/drives/d1', folderPath: '/A B/C', query: '' });
    assert.equal(parseDriveDeltaUrl('/me/mailFolders/inbox/messages/delta'), undefined);
  });

  it('business drive: a folder resource reads the root delta narrowed to the subtree (never the 501 folder delta); deletions inside still come out', async () => {
    const reports = store().createDriveItem(business(), { name: 'Reports', folder: true });
    const sub = store().createDriveItem(business(), { name: 'Q1', folder: true, parentId: reports.id! });
    const other = store().createDriveItem(business(), { name: 'Other', folder: true });
    const resource = resourceOf(`/me/drive/items/${reports.id}/delta`, business());
    sim().state.graph.requests.clear();
    const start = await round(resource, undefined);
    assert.deepEqual(start.events, []);
    const asked = sim().state.graph.requests.list().map((r) => r.path);
    assert.ok(asked.some((p) => /\/drive\?\$select=id,driveType$/.test(p)), 'the drive type is asked');
    assert.ok(!asked.some((p) => /\/items\/[^/]+\/delta/.test(p)), 'no folder delta on a business drive');

    const inSub = store().createDriveItem(business(), { name: 'in-sub.txt', parentId: sub.id! });
    store().createDriveItem(business(), { name: 'direct.txt', parentId: reports.id! });
    store().createDriveItem(business(), { name: 'outside.txt', parentId: other.id! });
    store().createDriveItem(business(), { name: 'top.txt' });
    const second = await round(resource, start.cursor);
    assert.deepEqual(summary(second.events), [['CREATED', 'direct.txt'], ['CREATED', 'in-sub.txt'], ['UPDATED', 'Q1']]);

    // Delete the subfolder with its file: both are reported, though Graph no longer has the folder.
    sim().state.graph.requests.clear();
    store().deleteDriveItem(business(), sub.id!);
    const third = await round(resource, second.cursor);
    assert.deepEqual(third.events.map((e) => [e.eventType, e.objectId]).sort(), [['DELETED', inSub.id], ['DELETED', sub.id]].sort());
    assert.equal(sim().state.graph.requests.list(/\/drive\?\$select=id,driveType/).length, 0, 'the drive type is asked once');
    assert.equal(sim().state.graph.requests.list(/\/items\/[^/?]+\?/).length, 0, 'known folders are not fetched again');

    // A file moved in from outside is in the subtree now; a change outside stays outside.
    store().createDriveItem(business(), { name: 'late.txt', parentId: reports.id! });
    store().updateDriveItem(business(), other.id!, { name: 'Other renamed' });
    const fourth = await round(resource, third.cursor);
    assert.deepEqual(summary(fourth.events), [['CREATED', 'late.txt']]);

    // The resource now names another folder: its cursor is not reused (a new starting point, nothing emitted).
    store().createDriveItem(business(), { name: 'other-file.txt', parentId: other.id! });
    const moved = await round(resourceOf(`/me/drive/items/${other.id}/delta`, business()), fourth.cursor);
    assert.deepEqual(moved.events, []);
  });

  it('personal drive: the folder delta itself (no narrowing); the folder itself is not reported', async () => {
    const photos = store().createDriveItem(personal(), { name: 'Photos', folder: true });
    const resource = resourceOf(`/me/drive/items/${photos.id}/delta`, personal());
    sim().state.graph.requests.clear();
    const start = await round(resource, undefined);
    // The start enumerates the folder's own delta (issue 14: a token=latest taken late cannot see the gap), never the root's.
    const paths = sim().state.graph.requests.list().map((r) => r.path);
    assert.ok(paths.some((p) => p.endsWith(`/items/${photos.id}/delta`)), `folder delta enumerated: ${paths.join(' ')}`);
    assert.ok(!paths.some((p) => /\/root\/delta|token=latest/.test(p)), 'no root delta, no token=latest');
    store().createDriveItem(personal(), { name: 'beach.jpg', parentId: photos.id! });
    store().createDriveItem(personal(), { name: 'elsewhere.txt' });
    const second = await round(resource, start.cursor);
    assert.deepEqual(summary(second.events), [['CREATED', 'beach.jpg']]);

    // A cursor the delta engine started alone (webhook-in does for a subscribed folder) is kept: nothing is lost.
    const ctx: EngineContext = { graph, elementKey: 'onedrivev2', instanceName: 'test', pollStart: sim().state.clock.now() };
    const plain = await startDelta(ctx, resource);
    sim().state.clock.advance(1000);
    store().createDriveItem(personal(), { name: 'sunset.jpg', parentId: photos.id! });
    const third = await round(resource, plain.cursor);
    assert.deepEqual(summary(third.events), [['CREATED', 'sunset.jpg']]);
  });

  it('a file given as the folder (by id or by path) is refused on both kinds of drive, naming the limit, before any delta request', async () => {
    for (const userId of [business(), personal()]) {
      const reports = store().createDriveItem(userId, { name: 'Reports', folder: true });
      const file = store().createDriveItem(userId, { name: 'q1.xlsx', parentId: reports.id!, content: 'abc' });
      for (const url of [`/me/drive/items/${file.id}/delta`, '/me/drive/root:/Reports/q1.xlsx:/delta']) {
        sim().state.graph.requests.clear();
        await assert.rejects(round(resourceOf(url, userId), undefined), /is a file: Graph's drive delta tracks the root and folders only/, `${userId} ${url}`);
        assert.equal(sim().state.graph.requests.list(/\/delta/).length, 0, `${userId} ${url}: no delta request`);
      }
    }
  });

  it('a folder by path (/hubs/documents/folders/contents?path=/Reports) works on both kinds of drive', async () => {
    for (const userId of [business(), personal()]) {
      const reports = store().createDriveItem(userId, { name: 'Reports', folder: true });
      const resource = resourceOf('/hubs/documents/folders/contents?path=/Reports', userId);
      const start = await round(resource, undefined);
      store().createDriveItem(userId, { name: 'r.txt', parentId: reports.id! });
      store().createDriveItem(userId, { name: 'x.txt' });
      const second = await round(resource, start.cursor);
      assert.deepEqual(summary(second.events), [['CREATED', 'r.txt']], userId);
    }
  });
});
