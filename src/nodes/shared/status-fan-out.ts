/**
 * A config node's status shown on itself and on every node that uses it (STYLE.md §1: core MQTT's broker keeps its
 * users by node id and sets all their statuses at once). `register` shows the current status to a new user at once;
 * `close` forgets them all.
 */
import type { Node, NodeStatus } from 'node-red';

export interface StatusFanOut {
  show(status: NodeStatus): void;
  register(user: Node): void;
  deregister(user: Node): void;
  current(): NodeStatus;
  close(): void;
}

export function statusFanOut(owner: Node): StatusFanOut {
  const users = new Map<string, Node>();
  let current: NodeStatus = { fill: 'grey', shape: 'ring', text: '' };
  return {
    show(status) {
      current = status;
      owner.status(status);
      for (const user of users.values()) user.status(status);
    },
    register(user) {
      users.set(user.id, user);
      user.status(current);
    },
    deregister(user) {
      users.delete(user.id);
    },
    current: () => current,
    close: () => users.clear(),
  };
}
