/** Small pieces of `ms365-poller`: its interval and the status a round ends with (texts from its catalog). */
import type { NodeStatus } from 'node-red';

const MIN_INTERVAL_MS = 1000;
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Minutes (fractions allowed) → ms, clamped to a 1 s floor and setTimeout's limit. */
export function intervalMs(minutes: unknown, refused: (value: string) => string): number {
  const n = Number(minutes === '' || minutes === undefined ? 15 : minutes);
  if (!Number.isFinite(n) || n <= 0) throw new Error(refused(JSON.stringify(minutes)));
  return Math.min(MAX_TIMER_MS, Math.max(MIN_INTERVAL_MS, Math.round(n * 60_000)));
}

function hhmmss(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}

export interface RoundOutcome {
  missingPermission?: string;
  failure?: Error;
  count: number;
  /** Graph's clock when the round began. */
  pollStart: number;
}

/** The status after a round: a missing permission, an error (with the time), or the events count. */
export function roundStatus(t: (key: string, params?: Record<string, string | number>) => string, round: RoundOutcome): NodeStatus {
  if (round.missingPermission) return { fill: 'red', shape: 'ring', text: t('status.missingPermission', { permission: round.missingPermission }) };
  if (round.failure) return { fill: 'red', shape: 'ring', text: t('status.error', { time: hhmmss(Date.now()) }) };
  return { fill: 'green', shape: 'dot', text: t(round.count === 1 ? 'status.eventsOne' : 'status.events', { time: hhmmss(round.pollStart), count: round.count }) };
}
