/**
 * A node status that changes with every message (a count of notifications received) costs a translation and a
 * publish to the editor each time: thousands per second under load, for a text a person reads a few times a second.
 * `coalescedStatus` shows such a status at most once per `everyMs`: the first at once, the last of a burst when its
 * interval ends (nothing is lost: the newest text always shows). Any other status (a state change, an error) shows at
 * once and cancels the pending one, so an older count never overwrites it.
 */
import type { NodeStatus } from 'node-red';

export interface CoalescedStatus {
  /** A frequent status, computed only when it is shown. */
  frequent(status: () => NodeStatus): void;
  /** A state change: shown now. */
  now(status: NodeStatus): void;
  /** Node closing: the pending status is dropped and its timer stopped. */
  close(): void;
}

export function coalescedStatus(show: (status: NodeStatus) => void, everyMs = 250): CoalescedStatus {
  let pending: (() => NodeStatus) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    timer = undefined;
    if (!pending) return;
    const next = pending;
    pending = undefined;
    show(next());
    timer = setTimeout(tick, everyMs); // the interval starts again with what was just shown
    timer.unref();
  };
  return {
    frequent(status) {
      if (timer) {
        pending = status;
        return;
      }
      show(status());
      timer = setTimeout(tick, everyMs);
      timer.unref();
    },
    now(status) {
      pending = undefined;
      show(status);
    },
    close() {
      pending = undefined;
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
  };
}
