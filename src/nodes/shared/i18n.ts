/**
 * Runtime texts of the nodes (statuses, errors, warnings) through Node-RED's message catalogs
 * (`src/nodes/locales/<lang>/<type>.json`, issue 16 item 6). `RED._` answers in the runtime's language; where it
 * has no catalog (node-red-node-test-helper's identity `_`) the en-US catalog of this package is read instead, so
 * a status is never a bare key. Core messages (English, from src/core) are passed in as parameters, untranslated.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { NodeAPI } from 'node-red';

export type TextParams = Record<string, string | number>;

const english = new Map<string, unknown>();

/** The en-US catalog of node type `type` (`locales/en-US/<type>.json`, next to the node files in src/ and dist/). */
function englishCatalog(type: string): unknown {
  if (!english.has(type)) {
    let catalog: unknown = {};
    try {
      catalog = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'locales', 'en-US', `${type}.json`), 'utf8'));
    } catch {
      catalog = {};
    }
    english.set(type, catalog);
  }
  return english.get(type);
}

function lookup(catalog: unknown, key: string): string | undefined {
  let at: unknown = catalog;
  for (const part of key.split('.')) {
    if (!at || typeof at !== 'object') return undefined;
    at = (at as Record<string, unknown>)[part];
  }
  return typeof at === 'string' ? at : undefined;
}

/** `__name__` placeholders, as i18next (Node-RED's catalogs) fills them. */
function fill(template: string, params: TextParams): string {
  return template.replace(/__(\w+)__/g, (_m, name: string) => String(params[name] ?? ''));
}

/** The text of `key` ("<type>.<path>", e.g. "ms365-poller.status.polling") in the runtime's language. */
export function text(RED: NodeAPI, key: string, params: TextParams = {}): string {
  let translated = '';
  try {
    translated = RED._(key, params);
  } catch {
    translated = '';
  }
  if (translated && translated !== key) return translated;
  const [type, ...rest] = key.split('.');
  const template = lookup(englishCatalog(type), key) ?? lookup(englishCatalog(type), rest.join('.'));
  return template === undefined ? key : fill(template, params);
}

/** A translator bound to one node type: `t('status.polling')` is `text(RED, '<type>.status.polling')`. */
export function translator(RED: NodeAPI, type: string): (key: string, params?: TextParams) => string {
  return (key, params = {}) => text(RED, `${type}.${key}`, params);
}
