/**
 * A set that remembers at most `capacity` keys, forgetting the oldest first: the dedupe of at-least-once
 * notification delivery (`reference/graph.md` §2.2) in bounded memory.
 */
export class BoundedSet {
  private readonly keys = new Set<string>();

  constructor(private readonly capacity: number) {}

  /** Add `key`; false when it was already there (a duplicate). */
  add(key: string): boolean {
    if (this.keys.has(key)) return false;
    this.keys.add(key);
    if (this.keys.size > this.capacity) this.keys.delete(this.keys.values().next().value as string);
    return true;
  }

  get size(): number {
    return this.keys.size;
  }
}
