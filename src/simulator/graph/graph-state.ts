/**
 * Everything the simulated Graph keeps for one simulator, reachable in-process as `state.graph`:
 * the object store, the fault injector, the request log and the per-mailbox in-flight counters.
 */
import type { SimState } from '../state';
import { ObjectStore } from './store';
import { FaultInjector } from './faults';
import { RequestLog } from './request-log';

export class GraphState {
  readonly store: ObjectStore;
  readonly faults = new FaultInjector();
  readonly requests = new RequestLog();
  /** Requests being handled per mailbox (user id, drive id, or client id for app-wide calls). */
  readonly inFlight = new Map<string, number>();
  /** Drive deltaLinks as `delta?token=...` (default) or `delta(token='...')`; both forms are accepted (§5). */
  driveDeltaLinkStyle: 'query' | 'function' = 'query';
  /**
   * calendarView delta also returns a series' master (full event, `type: "seriesMaster"`) beside its occurrences.
   * Contested (`reference/graph.md` §11.2): a Microsoft engineer said no (2018), later sync code sees one. Default
   * false, the harsher choice: a client must fetch the master by `seriesMasterId` itself.
   */
  calendarSeriesMaster = false;

  constructor(state: SimState) {
    this.store = new ObjectStore(state);
  }

  /** Forget objects, faults and the request log (in-flight counters stay: those requests are still running). */
  reset(): void {
    this.store.reset();
    this.faults.clear();
    this.requests.clear();
    this.driveDeltaLinkStyle = 'query';
    this.calendarSeriesMaster = false;
  }
}
