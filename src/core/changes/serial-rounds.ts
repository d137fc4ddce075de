/**
 * Rounds of one cursor must not overlap: two rounds read from the same cursor and the one that ends last saves its
 * cursor, so an older delta token could overwrite a newer one and changes already emitted would come out again (as
 * CREATED, and their UPDATED never). `serialRounds` runs one round at a time per key; a request made while a round
 * runs is served by one more round after it (requests meanwhile share that round: it reads every change since).
 */
export function serialRounds(round: (key: string) => Promise<void>): (key: string) => Promise<void> {
  const state = new Map<string, { running?: Promise<void>; next?: Promise<void> }>();
  const run = (key: string): Promise<void> => {
    let entry = state.get(key);
    if (!entry) state.set(key, (entry = {}));
    const slot = entry;
    if (!slot.running) {
      slot.running = round(key).finally(() => {
        slot.running = undefined;
        if (!slot.next) state.delete(key);
      });
      return slot.running;
    }
    slot.next ??= slot.running
      .catch(() => undefined)
      .then(() => {
        slot.next = undefined;
        state.set(key, slot);
        return run(key);
      });
    return slot.next;
  };
  return run;
}
