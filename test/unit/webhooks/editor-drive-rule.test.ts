/**
 * The webhook-in dialog limits a drive subscription to changeType "updated" with a copy of the core's rule (the editor
 * cannot import src/core): that copy must answer as `isDriveResource` (core/webhooks/subscription-specs) does.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { isDriveResource } from '../../../src/core/webhooks/subscription-specs';

const html = fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'src', 'nodes', 'ms365-webhook-in.html'), 'utf8');

/** The dialog's function, evaluated from its source (regex and normalisation as the browser runs them). */
function editorIsDrive(): (resource: string) => boolean {
  const regex = /var DRIVE_RESOURCE = (\/.+\/i);/.exec(html)?.[1];
  const body = /function isDriveResource\(resource\) \{([\s\S]*?)\n {4}\}/.exec(html)?.[1];
  assert.ok(regex && body, 'the dialog defines DRIVE_RESOURCE and isDriveResource');
  return new Function('resource', `var DRIVE_RESOURCE = ${regex};${body}`) as (resource: string) => boolean;
}

describe('webhook-in dialog: the drive rule is the core one (isDriveResource)', () => {
  const samples = [
    'me/drive/root',
    '/me/drive/root/',
    'users/u1/drive/root',
    'drives/b!abc/root',
    'me/drive/items/01ABC',
    'drives/b!abc/items/01ABC',
    'me/drive/root?x=1',
    'me/messages',
    'me/events',
    'me/drive/root/children',
    'me/mailFolders/inbox/messages',
    'users/u1/contacts',
    'sites/s1/drive/root',
    'me/drive',
    'ME/DRIVE/ROOT',
    '',
  ];
  it('answers as the core for resources of every kind', () => {
    const editor = editorIsDrive();
    for (const resource of samples) assert.equal(editor(resource), isDriveResource(resource), resource);
  });
});
