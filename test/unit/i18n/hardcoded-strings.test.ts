/**
 * Every word a user sees goes through the message catalogs (issue 16 item 6): the edit dialogs (`src/nodes/<type>.html`)
 * use `data-i18n` / `RED._` / `this._`, the node files (`src/nodes/*.ts`, `src/nodes/shared/*.ts`) set statuses and
 * log errors through `RED._` (shared/i18n); en-US, de and ja hold the same keys, and every key the code names exists.
 * A plain scan of the sources: it fails on a user-facing string typed into a template or a node file.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

const NODES = path.resolve(__dirname, '..', '..', '..', 'src', 'nodes');
const TYPES = ['ms365-cluster', 'ms365-connector', 'ms365-poller', 'ms365-webhook-in', 'ms365-callback-out'];
const LANGUAGES = ['en-US', 'de', 'ja'];

/** Text that is not a word of any language: values, ids, units of code. */
const NON_WORDS = new Set(['ms365', 'Graph', 'JSON', 'URL', 'PEM', 'X.509']);

/** Natural-language text: two words of letters in a row (an example value such as `/ms365/notifications` is not). */
const WORDS = /[A-Za-z]{2,}[ ,;:'’]+[A-Za-z]{2,}/;

function isUserText(value: string): boolean {
  const text = value.replace(/&[a-z]+;|&#\d+;/g, ' ').trim();
  if (!text || NON_WORDS.has(text)) return false;
  // A single word that is a real word (not an id or URL) is user text too: "Name", "Every", "minutes".
  return WORDS.test(text) || /^[A-Za-z]{3,}$/.test(text);
}

/** The edit dialog of a type: the text/html template of `data-template-name`. */
function template(html: string, type: string): string {
  const m = new RegExp(`<script type="text/html" data-template-name="${type}">([\\s\\S]*?)</script>`).exec(html);
  assert.ok(m, `${type}.html has a data-template-name template`);
  return m[1]!;
}

/** The editor script of a type (registerType and its helpers), without comments. */
function editorScript(html: string): string {
  return [...html.matchAll(/<script type="text\/javascript">([\s\S]*?)<\/script>/g)]
    .map((m) => m[1]!)
    .join('\n')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/(^|[^:\\])\/\/.*$/gm, '$1');
}

/** Hard-coded words in a template: text nodes and placeholder/title attributes not set through data-i18n. */
export function templateFindings(tpl: string): string[] {
  const found: string[] = [];
  for (const m of tpl.matchAll(/>([^<]+)</g)) {
    if (isUserText(m[1]!)) found.push(`text "${m[1]!.trim()}"`);
  }
  for (const tag of tpl.matchAll(/<[a-zA-Z][^>]*>/g)) {
    for (const attr of tag[0].matchAll(/\s(placeholder|title|aria-label|alt)="([^"]*)"/g)) {
      if (WORDS.test(attr[2]!)) found.push(`${attr[1]}="${attr[2]}"`);
    }
  }
  return found;
}

/** Hard-coded words in an editor script: literals given to text/html/notify/attr(placeholder|title), output labels. */
export function scriptFindings(js: string): string[] {
  const found: string[] = [];
  const literal = String.raw`(['"])((?:\\.|(?!\1).)*)\1`;
  const patterns = [
    new RegExp(String.raw`\.(?:text|html|append|prepend)\(\s*` + literal, 'g'),
    new RegExp(String.raw`RED\.notify\(\s*` + literal, 'g'),
    new RegExp(String.raw`\.attr\(\s*['"](?:placeholder|title)['"]\s*,\s*` + literal, 'g'),
    new RegExp(String.raw`(?:addButton|title|confirm|alert)\s*[:(]\s*` + literal, 'g'),
    new RegExp(String.raw`outputLabels\s*:\s*\[\s*` + literal, 'g'),
    new RegExp(String.raw`\)\.text\([^)]*\+\s*` + literal, 'g'),
  ];
  for (const re of patterns) {
    for (const m of js.matchAll(re)) {
      if (isUserText(m[2]!) && !/^</.test(m[2]!)) found.push(m[0].slice(0, 100));
    }
  }
  return found;
}

/** Status texts, errors and warnings written as literals in a node file (not through RED._ / shared/i18n). */
export function nodeFileFindings(ts: string): string[] {
  const code = ts.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:\\])\/\/.*$/gm, '$1');
  const found: string[] = [];
  const literal = String.raw`(['"\x60])((?:\\.|(?!\1)[\s\S])*?)\1`;
  const patterns = [
    // node.status({ ..., text: 'polling' }) and objects of statuses
    new RegExp(String.raw`\btext\s*:\s*` + literal, 'g'),
    // node.error('...'), user.warn(`...`), RED.log.error('...'), throw new Error('...') of the node's own words
    new RegExp(String.raw`\.(?:error|warn|log|trace|debug)\(\s*` + literal, 'g'),
    new RegExp(String.raw`new Error\(\s*` + literal, 'g'),
  ];
  for (const re of patterns) {
    for (const m of code.matchAll(re)) {
      const words = m[2]!.replace(/\$\{[^}]*\}/g, ' ');
      if (isUserText(words)) found.push(m[0].replace(/\s+/g, ' ').slice(0, 100));
    }
  }
  return found;
}

function flatten(value: unknown, prefix = ''): string[] {
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => flatten(v, prefix ? `${prefix}.${k}` : k));
  return [prefix];
}

function catalog(lang: string, type: string): Record<string, unknown> | undefined {
  const file = path.join(NODES, 'locales', lang, `${type}.json`);
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>) : undefined;
}

/** Keys the editor and node code name: data-i18n="[html]type.a.b", RED._('type.a.b'), _('a.b') inside a type's html, t('a.b'). */
function keysUsed(type: string): string[] {
  const keys = new Set<string>();
  const html = fs.readFileSync(path.join(NODES, `${type}.html`), 'utf8');
  for (const m of html.matchAll(/data-i18n="(?:\[[a-z]+\])?([^"]+)"/g)) for (const k of m[1]!.split(';')) keys.add(k.replace(/^\[[a-z]+\]/, ''));
  for (const m of html.matchAll(/(?:RED|node|this|\))\._\(\s*['"]([^'"]+)['"]/g)) keys.add(m[1]!);
  if (/var T = '([^']+)'/.test(html)) for (const m of html.matchAll(/[^.\w]_\(\s*'([^']+)'/g)) keys.add(`${type}.${m[1]}`);
  const ts = path.join(NODES, `${type}.ts`);
  if (fs.existsSync(ts)) {
    const code = fs.readFileSync(ts, 'utf8');
    if (code.includes(`translator(RED, '${type}')`)) {
      for (const m of code.matchAll(/\bt\(\s*'([a-zA-Z]+\.[a-zA-Z.]+)'/g)) keys.add(`${type}.${m[1]}`);
      for (const m of code.matchAll(/\bt\(\s*count === 1 \? '([^']+)' : '([^']+)'/g)) keys.add(`${type}.${m[1]}`).add(`${type}.${m[2]}`);
    }
  }
  return [...keys].filter((k) => k.startsWith(`${type}.`) && !k.endsWith('.')); // a key ending in '.' is completed at run time
}

describe('every user-facing word through the message catalogs (issue 16 item 6)', () => {
  describe('the scanners find what they look for', () => {
    it('a hard-coded label, placeholder and script text are found; data-i18n, ids and URLs are not', () => {
      assert.deepEqual(templateFindings('<label><i class="fa"></i> Name</label><input placeholder="https://x.example">'), ['text "Name"']);
      assert.deepEqual(templateFindings('<label><span data-i18n="a.b"></span></label><input placeholder="/ms365/notifications">'), []);
      assert.equal(templateFindings('<input placeholder="generated when empty">').length, 1);
      assert.equal(scriptFindings("out.text('Invalid JSON: ' + e.message)").length, 1);
      assert.equal(scriptFindings("out.text(_('preview.empty'))").length, 0);
      assert.equal(nodeFileFindings("node.status({ fill: 'red', shape: 'ring', text: 'invalid configuration' });").length, 1);
      assert.equal(nodeFileFindings('node.error(`ms365-poller: recording the starting point: ${err.message}`);').length, 1);
      assert.equal(nodeFileFindings("node.status({ fill: 'blue', shape: 'dot', text: t('status.polling') });").length, 0);
      assert.equal(nodeFileFindings('node.error(err.message);').length, 0);
    });
  });

  for (const type of TYPES) {
    describe(type, () => {
      const html = fs.readFileSync(path.join(NODES, `${type}.html`), 'utf8');

      it('its edit dialog has no hard-coded words (data-i18n on labels, tips, options, placeholders)', () => {
        assert.deepEqual(templateFindings(template(html, type)), []);
      });

      it('its editor script shows no hard-coded words (RED._ / this._ for texts, labels, validators)', () => {
        assert.deepEqual(scriptFindings(editorScript(html)), []);
      });

      it('en-US, de and ja have the same keys, help for each language, and every key the code names', () => {
        const en = catalog('en-US', type);
        assert.ok(en, `locales/en-US/${type}.json`);
        const enKeys = flatten(en).sort();
        for (const lang of LANGUAGES) {
          const c = catalog(lang, type);
          assert.ok(c, `locales/${lang}/${type}.json exists`);
          assert.deepEqual(flatten(c).sort(), enKeys, `locales/${lang}/${type}.json has exactly the en-US keys`);
          for (const key of flatten(c)) {
            const value: unknown = key.split('.').reduce<unknown>((at, k) => (at as Record<string, unknown>)[k], c);
            assert.equal(typeof value, 'string', `${lang} ${key}`);
            assert.ok(String(value).trim(), `${lang} ${key} is not empty`);
          }
          const help = path.join(NODES, 'locales', lang, `${type}.html`);
          assert.ok(fs.existsSync(help), `locales/${lang}/${type}.html exists`);
          assert.match(fs.readFileSync(help, 'utf8'), new RegExp(`data-help-name="${type}"`));
        }
        const missing = keysUsed(type).filter((k) => !enKeys.includes(k));
        assert.deepEqual(missing, [], `keys named in the code but missing in locales/en-US/${type}.json`);
      });

      it('placeholders (__name__) are the same in every language', () => {
        const en = catalog('en-US', type)!;
        for (const lang of LANGUAGES.slice(1)) {
          const c = catalog(lang, type);
          if (!c) continue; // reported by the test above
          for (const key of flatten(en)) {
            const get = (o: unknown) => String(key.split('.').reduce<unknown>((at, k) => (at as Record<string, unknown> | undefined)?.[k], o) ?? '');
            const names = (s: string) => [...s.matchAll(/__(\w+)__/g)].map((m) => m[1]).sort();
            assert.deepEqual(names(get(c)), names(get(en)), `${lang} ${key}`);
          }
        }
      });
    });
  }

  describe('node files (src/nodes/*.ts, src/nodes/shared/*.ts)', () => {
    const files = [
      ...fs.readdirSync(NODES).filter((f) => f.endsWith('.ts')).map((f) => path.join(NODES, f)),
      ...fs.readdirSync(path.join(NODES, 'shared')).filter((f) => f.endsWith('.ts')).map((f) => path.join(NODES, 'shared', f)),
    ];
    for (const file of files) {
      it(`${path.relative(NODES, file)}: statuses, errors and warnings through RED._ (no hard-coded words)`, () => {
        assert.deepEqual(nodeFileFindings(fs.readFileSync(file, 'utf8')), []);
      });
    }
  });
});
