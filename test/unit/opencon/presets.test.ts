/**
 * The poller's "Watch" presets (core/opencon/presets.ts): each builds a configuration parsePollerConfiguration
 * accepts (which also runs graph-limits), in the mode and with the date rules the preset promises.
 */
import assert from 'node:assert/strict';
import { presetConfiguration, presetConfigurationText, isWatchPreset, PRESET_TARGET, WATCH_PRESETS } from '../../../src/core/opencon/presets';
import { parsePollerConfiguration, type PollerConfigContext } from '../../../src/core/opencon/poller-config';
import { checkGraphLimits } from '../../../src/core/opencon/graph-limits';
import { ConfigurationError } from '../../../src/core/errors';
import { ELEMENT_KEYS } from '../../../src/core/elements';

const delegated: PollerConfigContext = { elementKey: 'outlookemail', timezone: 'UTC', mePath: '/me' };
const appOnly: PollerConfigContext = { elementKey: 'outlookemail', timezone: 'UTC', mePath: '/users/u-1' };

describe('poller presets', () => {
  for (const watch of WATCH_PRESETS) {
    for (const target of [undefined, 'AAMkAGI2-folder=']) {
      it(`${watch}${target ? ' with a target' : ''}: parsePollerConfiguration accepts it, graph-limits does not refuse it`, () => {
        const config = presetConfiguration(watch, target);
        for (const spec of Object.values(config)) assert.doesNotThrow(() => checkGraphLimits({ url: String(spec.url) }, 'url'));
        const resources = parsePollerConfiguration(config, delegated);
        assert.equal(resources.length, 1);
        assert.deepEqual(parsePollerConfiguration(presetConfigurationText(watch, target), appOnly).map((r) => r.url), resources.map((r) => r.url.replace(/^\/me/, '/users/u-1')));
      });
    }
  }

  it('every preset is accepted under every element key (Graph paths are kept as written)', () => {
    for (const elementKey of ELEMENT_KEYS) {
      for (const watch of WATCH_PRESETS) {
        const [r] = parsePollerConfiguration(presetConfiguration(watch), { ...delegated, elementKey });
        assert.equal(r!.url, String(Object.values(presetConfiguration(watch))[0]!.url), `${elementKey} ${watch}`);
      }
    }
  });

  it('new mail: a receivedDateTime filter with the same field for both dates and filterByUpdatedDate false (only CREATED)', () => {
    const [r] = parsePollerConfiguration(presetConfiguration('newMail', 'f-1'), delegated);
    assert.equal(r!.mode, 'filter');
    assert.match(r!.url, /^\/me\/mailFolders\/f-1\/messages\?\$filter=receivedDateTime ge \$\{gmtDate:/);
    assert.equal(r!.dates.updatedField, 'receivedDateTime');
    assert.equal(r!.dates.createdField, 'receivedDateTime');
    assert.equal(r!.filterByUpdatedDate, false);
  });

  it('mail: the folder message delta, the Inbox by default', () => {
    assert.equal(presetConfiguration('mail').messages!.url, '/me/mailFolders/inbox/messages/delta');
    const [r] = parsePollerConfiguration(presetConfiguration('mail', 'f-2'), delegated);
    assert.equal(r!.mode, 'delta');
    assert.equal(r!.url, '/me/mailFolders/f-2/messages/delta');
  });

  it('calendar, contacts and files: the default or a picked calendar\'s calendarView delta, contacts filter, drive root or folder delta', () => {
    assert.equal(parsePollerConfiguration(presetConfiguration('calendar'), delegated)[0]!.url, '/me/calendarView/delta');
    const [cal] = parsePollerConfiguration(presetConfiguration('calendar', 'AAMkCal-1='), delegated);
    assert.equal(cal!.url, '/me/calendars/AAMkCal-1=/calendarView/delta');
    assert.equal(cal!.mode, 'delta');
    assert.equal(PRESET_TARGET.calendar, 'calendar');
    assert.equal(PRESET_TARGET.contacts, undefined);
    assert.equal(parsePollerConfiguration(presetConfiguration('contacts', 'ignored'), delegated)[0]!.url.startsWith('/me/contacts?'), true);
    const [c] = parsePollerConfiguration(presetConfiguration('contacts'), delegated);
    assert.equal(c!.mode, 'filter');
    assert.equal(c!.dates.createdField, 'createdDateTime');
    assert.equal(presetConfiguration('files').driveItems!.url, '/me/drive/root/delta');
    assert.equal(presetConfiguration('files', '01ABC').driveItems!.url, '/me/drive/items/01ABC/delta');
  });

  it('refuses a target that is not a Graph id and a watch that is not a preset', () => {
    assert.throws(() => presetConfiguration('mail', '../x?$top=1'), (err: unknown) => err instanceof ConfigurationError && err.setting === 'watchTarget');
    assert.throws(() => presetConfiguration('advanced' as never), (err: unknown) => err instanceof ConfigurationError && err.setting === 'watch');
    assert.equal(isWatchPreset('advanced'), false);
    assert.equal(isWatchPreset('files'), true);
  });
});
