/**
 * One poll round for one resource, whichever engine it uses: the poller node calls `pollResource` and saves the
 * returned cursor only after it has sent the events (so a crash re-emits at most one round).
 */
import type { ResourceConfig } from '../opencon/poller-config';
import { ConfigurationError } from '../errors';
import { pollDelta, startDelta, type DeltaCursor, type RoundResult } from './delta-engine';
import { withDriveScope } from './drive-scope';
import { pollFilter, pollFilterFrom, startFilter, type FilterCursor } from './filter-engine';
import type { EngineContext } from './shared';

/**
 * A starting point recorded before any round (CONTRACT "ms365-poller": a new poller, or one given `msg.reset`, takes
 * it when it starts and stores it at once): the first round of either engine emits what changed after `startedAt`,
 * however late it succeeds.
 */
export interface StartCursor {
  mode: 'start';
  /** The starting point (ms; Graph's clock when known, else ours). */
  startedAt: number;
}

export type PollerCursor = DeltaCursor | FilterCursor | StartCursor;
export type { RoundResult, DeltaCursor, FilterCursor, EngineContext };

/** The cursor of a poller that starts at `at`. */
export function startCursor(at: number): StartCursor {
  return { mode: 'start', startedAt: at };
}

export async function pollResource(ctx: EngineContext, resource: ResourceConfig, cursor: PollerCursor | undefined): Promise<RoundResult<PollerCursor>> {
  const from = cursor?.mode === 'start' ? cursor.startedAt : undefined;
  if (resource.mode === 'delta') {
    // A deltaLink from another Graph host (the connector's graphBaseUrl changed) would be refused by the client
    // forever: start again from here, as a new poller would.
    // A drive folder is read through its drive's scope (drive-scope.ts: folder delta or narrowed root delta).
    return withDriveScope(ctx, resource, cursor?.mode === 'delta' ? cursor : undefined, (r, c) =>
      c !== undefined && sameOrigin(c.deltaLink, ctx.graph.baseUrl) ? pollDelta(ctx, r, c) : startDelta(ctx, r, from),
    );
  }
  if (from !== undefined) return pollFilterFrom(ctx, resource, from);
  return cursor?.mode === 'filter' ? pollFilter(ctx, resource, cursor) : startFilter(ctx);
}

/**
 * A round failed on a configuration Graph can never serve, found only when asking it (`drive-scope.ts`: a drive item
 * given by id or path that is a file: delta tracks the root and folders only, `opencon/graph-limits.ts`). Asking again
 * at every interval cannot help (an item id is a file or a folder for life): the poller stops asking for that
 * resource until it is redeployed (or given `msg.reset`).
 */
export function refusedForGood(err: unknown): boolean {
  return err instanceof ConfigurationError;
}

function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a, b).origin === new URL(b).origin;
  } catch {
    return false;
  }
}
