/**
 * Promise access to a node's own context (the configured store, persistent or not): what pollers and webhook
 * nodes keep between restarts (cursors, subscription ids). Never secrets: context is readable by function nodes.
 */
import type { Node } from 'node-red';

export interface NodeContextStore {
  get<T>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown): Promise<void>;
}

export function nodeContextStore(node: Node): NodeContextStore {
  const context = node.context();
  return {
    get: <T>(key: string) =>
      new Promise<T | undefined>((resolve, reject) =>
        context.get(key, (err: Error | undefined, value: unknown) => (err ? reject(err) : resolve(value as T | undefined))),
      ),
    set: (key: string, value: unknown) => new Promise<void>((resolve, reject) => context.set(key, value, (err?: Error) => (err ? reject(err) : resolve()))),
  };
}
