import assert from 'node:assert/strict';
import { useSimulator } from '../../support/simulator';
import { deltaRound, delegatedToken, get, type Json } from './graph-helpers';

/** OneDrive for Business and personal OneDrive answer drive delta differently ("driveItem: delta", §5, §11.5). */
describe('simulated Graph: business and personal drives', () => {
  const sim = useSimulator();
  const store = () => sim().state.graph.store;
  const business = () => sim().state.defaultUser.id;
  const personal = () => sim().state.users.find((u) => u.driveType === 'personal')!.id;

  beforeEach(() => {
    sim().state.graph.reset();
    sim().state.clock.reset();
  });

  it('GET /me/drive names the driveType; items carry it in parentReference; personal ids are {driveId}!{n}', async () => {
    const work = await get(sim(), delegatedToken(sim(), business()), '/me/drive');
    assert.equal(work.data.driveType, 'business');
    const home = await get(sim(), delegatedToken(sim(), personal()), '/me/drive');
    assert.equal(home.data.driveType, 'personal');
    assert.match(home.data.id, /^[0-9A-F]{16}$/);
    const item = store().createDriveItem(personal(), { name: 'a.txt' });
    assert.match(item.id!, new RegExp(`^${home.data.id}!\\d+$`));
    assert.equal(item.parentReference?.driveType, 'personal');
  });

  it('folder delta: business → 501 notSupported "view.delta can only be called on the root."; personal → the folder subtree only', async () => {
    const workFolder = store().createDriveItem(business(), { name: 'Reports', folder: true });
    const refused = await get(sim(), delegatedToken(sim(), business()), `/me/drive/items/${workFolder.id}/delta`);
    assert.equal(refused.status, 501);
    assert.equal(refused.data.error.code, 'notSupported');
    assert.equal(refused.data.error.message, 'view.delta can only be called on the root.');
    const byDrive = await get(sim(), delegatedToken(sim(), business()), `/drives/${store().user(business()).driveId}/items/${workFolder.id}/delta`);
    assert.equal(byDrive.status, 501);

    const token = delegatedToken(sim(), personal());
    const folder = store().createDriveItem(personal(), { name: 'Photos', folder: true });
    const sub = store().createDriveItem(personal(), { name: '2026', folder: true, parentId: folder.id! });
    store().createDriveItem(personal(), { name: 'in.jpg', parentId: sub.id! });
    store().createDriveItem(personal(), { name: 'outside.txt' });
    const first = await deltaRound(sim(), token, `/me/drive/items/${folder.id}/delta`);
    assert.deepEqual(first.items.map((i) => i.name).sort(), ['2026', 'Photos', 'in.jpg']);
    const inside = store().createDriveItem(personal(), { name: 'later.jpg', parentId: sub.id! });
    store().createDriveItem(personal(), { name: 'later-outside.txt' });
    store().deleteDriveItem(personal(), inside.id!);
    const second = await deltaRound(sim(), token, first.deltaLink);
    const names = second.items.filter((i) => i.deleted === undefined).map((i) => i.name);
    assert.ok(!names.includes('later-outside.txt'));
    const deleted = second.items.find((i) => i.id === inside.id) as Json;
    // Personal OneDrive: deleted items keep their name, omit size and cTag (§11.5).
    assert.deepEqual(deleted.deleted, {});
    assert.equal(deleted.name, 'later.jpg');
    assert.equal(deleted.size, undefined);
    assert.equal(deleted.cTag, undefined);
  });

  it('timestamp tokens: business drives only; personal → 400 invalidRequest', async () => {
    const work = await get(sim(), delegatedToken(sim(), business()), '/me/drive/root/delta?token=2021-09-29T20%3A00%3A00Z');
    assert.equal(work.status, 200);
    const home = await get(sim(), delegatedToken(sim(), personal()), '/me/drive/root/delta?token=2021-09-29T20%3A00%3A00Z');
    assert.equal(home.status, 400);
    assert.equal(home.data.error.code, 'invalidRequest');
  });

  it('business deletions omit name and cTag', async () => {
    const token = delegatedToken(sim(), business());
    const file = store().createDriveItem(business(), { name: 'q.txt', content: 'x' });
    const { deltaLink } = await deltaRound(sim(), token, '/me/drive/root/delta');
    store().deleteDriveItem(business(), file.id!);
    const round = await deltaRound(sim(), token, deltaLink);
    const deleted = round.items.find((i) => i.id === file.id) as Json;
    assert.deepEqual(deleted.deleted, {});
    assert.equal(deleted.name, undefined);
    assert.equal(deleted.cTag, undefined);
  });
});
