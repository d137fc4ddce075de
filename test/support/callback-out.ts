/**
 * Shared by the ms365-callback-out node tests (test/nodes/callback-out*.test.ts): the retry schedule sped up, the
 * node and its two outputs once a flow `cb1` → `ok` / `fail` is loaded, the statuses a node has shown.
 */
import type { Node, NodeMessage } from 'node-red';
import { helper } from './node-red-helper';

export type Msg = NodeMessage & Record<string, unknown>;

/** MS365_CALLBACK_RETRY_UNIT_MS=1 for the suite (one schedule second = 1 ms), restored after it. */
export function useFastRetries(): void {
  const previousUnit = process.env.MS365_CALLBACK_RETRY_UNIT_MS;
  before(() => {
    process.env.MS365_CALLBACK_RETRY_UNIT_MS = '1';
  });
  after(() => {
    if (previousUnit === undefined) delete process.env.MS365_CALLBACK_RETRY_UNIT_MS;
    else process.env.MS365_CALLBACK_RETRY_UNIT_MS = previousUnit;
  });
}

/** The loaded node `cb1`, and the messages of its outputs (helper nodes `ok`: delivered, `fail`: given up). */
export function callbackOutputs(): { cb: Node; delivered: Msg[]; givenUp: Msg[] } {
  const cb = helper.getNode('cb1') as Node;
  const delivered: Msg[] = [];
  const givenUp: Msg[] = [];
  helper.getNode('ok').on('input', (m: Msg) => delivered.push(m));
  helper.getNode('fail').on('input', (m: Msg) => givenUp.push(m));
  return { cb, delivered, givenUp };
}

/** The statuses a node has shown (the helper spies Node.prototype.status, also for calls from the constructor). */
export function statusesOf(node: Node): Array<{ fill?: string; shape?: string; text?: string }> {
  const spy = Object.getPrototypeOf(node).status as { getCalls(): Array<{ thisValue: unknown; args: Array<{ fill?: string; text?: string }> }> };
  return spy.getCalls().filter((c) => c.thisValue === node).map((c) => c.args[0]!);
}
