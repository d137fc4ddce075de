/**
 * The bookkeeping of a SIGKILL reliability test: every change made in the simulated tenant (object id + event type,
 * with a description and when), every kill, and what the receiver got. `missing` and `splitIds` are the two ways the
 * "every change out, never lost, never twice" promise fails (a repeat is allowed only with the same eventId); `report`
 * prints them readably, with the kill times, for a failure message.
 */
export interface LedgerEvent {
  objectId: string;
  eventType: string;
  eventId: string;
}

export class ChangeLedger {
  /** `<objectId> <eventType>` → when and what. */
  readonly made = new Map<string, string>();
  readonly kills: string[] = [];

  change(objectId: string, eventType: string, what: string): void {
    this.made.set(`${objectId} ${eventType}`, `${what} at ${new Date().toISOString()}`);
  }

  killed(detail = ''): void {
    this.kills.push(`${new Date().toISOString()}${detail ? ` (${detail})` : ''}`);
  }

  /** Changes made that no received event stands for. */
  missing(events: readonly LedgerEvent[]): string[] {
    const got = new Set(events.map((e) => `${e.objectId} ${e.eventType}`));
    return [...this.made.keys()].filter((c) => !got.has(c));
  }

  /** Changes that came out under more than one eventId. */
  splitIds(events: readonly LedgerEvent[]): string[] {
    const ids = new Map<string, Set<string>>();
    for (const e of events) {
      const key = `${e.objectId} ${e.eventType}`;
      ids.set(key, (ids.get(key) ?? new Set()).add(e.eventId));
    }
    return [...ids].filter(([, set]) => set.size > 1).map(([key]) => key);
  }

  /** How many events were repeats (same change received again). */
  repeats(events: readonly LedgerEvent[]): number {
    return events.length - new Set(events.map((e) => `${e.objectId} ${e.eventType}`)).size;
  }

  /** A readable account: what is missing (and when it was made), which changes split, when the kills came. */
  report(events: readonly LedgerEvent[], extra: string[] = []): string {
    const missing = this.missing(events);
    const split = this.splitIds(events);
    return [
      `${this.made.size} changes made, ${events.length} events received, ${missing.length} changes missing, ${split.length} under two eventIds`,
      ...missing.slice(0, 40).map((c) => `  missing ${c.slice(-28)}: ${this.made.get(c) ?? '?'}`),
      ...(missing.length > 40 ? [`  ... and ${missing.length - 40} more`] : []),
      ...split.slice(0, 20).map((c) => `  two eventIds: ${c.slice(-28)}`),
      `  kills: ${this.kills.join(', ')}`,
      ...extra,
    ].join('\n');
  }
}
