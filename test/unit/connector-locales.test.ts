/**
 * The connector's editor strings in every language the package ships (issue 16, items 4 and 6): de and ja have every
 * key of en-US (Node-RED falls back to en-US for a missing key, which would show English in a German editor), keep
 * its `__placeholders__`, and the dialog uses no key that en-US lacks.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

const NODES = path.resolve(__dirname, '..', '..', 'src', 'nodes');
type Tree = { [key: string]: string | Tree };

function flatten(tree: Tree, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, value] of Object.entries(tree)) {
    if (typeof value === 'string') out.set(prefix + key, value);
    else for (const [k, v] of flatten(value, `${prefix}${key}.`)) out.set(k, v);
  }
  return out;
}
const load = (lang: string) => flatten(JSON.parse(fs.readFileSync(path.join(NODES, 'locales', lang, 'ms365-connector.json'), 'utf8')) as Tree);
const placeholders = (text: string) => [...text.matchAll(/__(\w+)__/g)].map((m) => m[1]).sort();

describe('ms365-connector locales (en-US, de, ja)', () => {
  const en = load('en-US');
  for (const lang of ['de', 'ja']) {
    it(`${lang} has every en-US key, with the same placeholders`, () => {
      const other = load(lang);
      assert.deepEqual([...en.keys()].filter((k) => !other.has(k)), [], `${lang} lacks keys`);
      assert.deepEqual([...other.keys()].filter((k) => !en.has(k)), [], `${lang} has keys en-US does not`);
      for (const [key, text] of en) assert.deepEqual(placeholders(other.get(key)!), placeholders(text), `${lang} ${key}: placeholders differ`);
    });
  }

  it('every key the connector dialog uses (data-i18n, node._) exists in en-US', () => {
    const html = fs.readFileSync(path.join(NODES, 'ms365-connector.html'), 'utf8');
    const used = new Set([
      ...[...html.matchAll(/(?:data-i18n="(?:\[\w+\])?|node\._\(')ms365-connector\.([\w.]+)/g)].map((m) => m[1]),
      // t('key'): the dialog's shorthand for the connector's catalog.
      ...[...html.matchAll(/\bt\('([\w.]+)/g)].map((m) => m[1]),
    ]);
    // Keys built at run time: cloud.<id>, test.operation.<family>, routeError.<code>.
    for (const dynamic of [...html.matchAll(/(?:node\._\('ms365-connector\.|\bt\(')([\w.]+)\.' \+/g)].map((m) => m[1])) {
      assert.ok([...en.keys()].some((k) => k.startsWith(`ms365-connector.${dynamic}.`)), `no keys under ${dynamic}`);
      used.delete(`${dynamic}.`);
    }
    assert.deepEqual([...used].filter((k) => !en.has(`ms365-connector.${k}`)), []);
  });
});
