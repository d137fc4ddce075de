/**
 * ms365-poller "Watch" presets (core/opencon/presets.ts) on a real Node-RED runtime against the simulated tenant:
 * each preset's configuration, stored as the dialog stores it (`watch`, `watchTarget`, `configuration`), polls and
 * emits CREATED for a new object.
 */
import assert from 'node:assert/strict';
import type { NodeMessage } from 'node-red';
import { helper, allNodes, useNodeRed } from '../support/node-red-helper';
import { useSimulator } from '../support/simulator';
import { connectorFlowNode, waitFor } from '../support/connector';
import { presetConfigurationText, type WatchPreset } from '../../src/core/opencon/presets';
import type { Ms365Event } from '../../src/core/events';

describe('ms365-poller presets (node, against the simulator)', function () {
  this.timeout(60_000);
  const sim = useSimulator();
  useNodeRed();
  const user = () => sim().state.defaultUser.id;
  const store = () => sim().state.graph.store;
  afterEach(() => {
    sim().state.graph.reset();
    sim().state.clock.reset();
  });

  async function loadPreset(watch: WatchPreset, watchTarget = '') {
    const { node: conn, credentials } = connectorFlowNode(sim());
    const flow = [
      conn,
      { id: 'p1', type: 'ms365-poller', connector: conn.id, interval: 60, timezone: 'UTC', watch, watchTarget, configuration: presetConfigurationText(watch, watchTarget || undefined), pollOnStart: false, wires: [['out']] },
      { id: 'out', type: 'helper' },
    ];
    const events: Ms365Event[] = [];
    await helper.load(allNodes, flow, credentials);
    helper.getNode('out').on('input', (msg: NodeMessage) => events.push(msg.payload as Ms365Event));
    const poller = helper.getNode('p1');
    const poll = async () => {
      const before = events.length;
      const announced = await new Promise<number>((resolve, reject) => {
        const emitter = poller as unknown as NodeJS.EventEmitter;
        const timeout = setTimeout(() => reject(new Error('poll did not finish in 15 s')), 15_000);
        const onStatus = (call: { args: Array<{ text?: string }> }) => {
          const text = call.args[0]?.text ?? '';
          if (!/^\d\d:\d\d:\d\d: \d+ event|^error \d/.test(text)) return;
          emitter.removeListener('call:status', onStatus);
          clearTimeout(timeout);
          if (text.startsWith('error')) reject(new Error(`poll ended with '${text}'`));
          else resolve(Number(/: (\d+) event/.exec(text)?.[1] ?? 0));
        };
        emitter.on('call:status', onStatus);
        poller.receive({ payload: 'poll' });
      });
      await waitFor(`${announced} events delivered`, () => events.length - before >= announced);
      return events.slice(before).map((e) => [e.eventType, e.objectType, e.objectId]);
    };
    // The starting point, then a change a few seconds later (not in the starting second).
    assert.deepEqual(await poll(), [], 'the starting point');
    sim().state.clock.advance(5_000);
    return poll;
  }

  it('new mail in a folder: CREATED for a mail in that folder, nothing for one elsewhere, nothing repeated', async () => {
    const folder = store().folder(user(), 'sentitems')!.id;
    const poll = await loadPreset('newMail', folder);
    const mail = store().createMessage(user(), { subject: 'Hello', folder });
    store().createMessage(user(), { subject: 'Elsewhere' });
    assert.deepEqual(await poll(), [['CREATED', 'messages', mail.id]]);
    assert.deepEqual(await poll(), [], 'nothing new: the mail is not repeated');
  });

  it('mail created/updated/deleted in a folder (the Inbox by default): CREATED', async () => {
    const poll = await loadPreset('mail');
    const mail = store().createMessage(user(), { subject: 'Hello' });
    assert.deepEqual(await poll(), [['CREATED', 'messages', mail.id]]);
  });

  it('calendar events of the default calendar: CREATED', async () => {
    const poll = await loadPreset('calendar');
    const now = sim().state.clock.now();
    const event = store().createEvent(user(), { subject: 'Review', start: new Date(now + 86_400_000).toISOString() });
    assert.deepEqual(await poll(), [['CREATED', 'events', event.id]]);
  });

  it('calendar events of a picked calendar (/me/calendars/{id}/calendarView/delta): CREATED, then DELETED', async () => {
    const calendarId = store().user(user()).calendarId;
    const poll = await loadPreset('calendar', calendarId);
    const now = sim().state.clock.now();
    const event = store().createEvent(user(), { subject: 'Picked', start: new Date(now + 86_400_000).toISOString() });
    assert.deepEqual(await poll(), [['CREATED', 'events', event.id]]);
    sim().state.clock.advance(5_000);
    store().deleteEvent(user(), event.id!);
    assert.deepEqual(await poll(), [['DELETED', 'events', event.id]]);
  });

  it('contacts: CREATED', async () => {
    const poll = await loadPreset('contacts');
    const contact = store().createContact(user(), { displayName: 'Ada Lovelace' });
    assert.deepEqual(await poll(), [['CREATED', 'contacts', contact.id]]);
  });

  it('files in the drive: CREATED', async () => {
    const poll = await loadPreset('files');
    const file = store().createDriveItem(user(), { name: 'a.txt' });
    const seen = await poll();
    assert.ok(seen.some(([type, , id]) => type === 'CREATED' && id === file.id), JSON.stringify(seen));
  });

  it('files in a folder: CREATED', async () => {
    const folder = store().createDriveItem(user(), { name: 'Reports', folder: true });
    sim().state.clock.advance(5_000);
    const poll = await loadPreset('files', folder.id);
    const file = store().createDriveItem(user(), { name: 'b.txt', parentId: folder.id });
    const seen = await poll();
    assert.ok(seen.some(([type, , id]) => type === 'CREATED' && id === file.id), JSON.stringify(seen));
  });

  it('admin route ms365-poller/preset: the configuration the node runs, which picker, a 400 naming a bad watch or target', async () => {
    const { node: conn, credentials } = connectorFlowNode(sim());
    await helper.load(allNodes, [conn], credentials);
    const ok = await helper.request().get('/ms365-poller/preset').query({ watch: 'newMail', target: 'f-1' }).expect(200);
    assert.deepEqual(ok.body, { configuration: presetConfigurationText('newMail', 'f-1'), target: 'mailFolder' });
    const files = await helper.request().get('/ms365-poller/preset').query({ watch: 'files' }).expect(200);
    assert.equal(files.body.target, 'driveFolder');
    assert.equal((await helper.request().get('/ms365-poller/preset').query({ watch: 'calendar' }).expect(200)).body.target, 'calendar');
    assert.equal((await helper.request().get('/ms365-poller/preset').query({ watch: 'contacts' }).expect(200)).body.target, null);
    assert.match((await helper.request().get('/ms365-poller/preset').query({ watch: 'advanced' }).expect(400)).body.error, /^watch: "advanced" is not a preset/);
    assert.match((await helper.request().get('/ms365-poller/preset').query({ watch: 'mail', target: 'a/b' }).expect(400)).body.error, /^watchTarget: /);
  });
});
