/**
 * The shared state of one simulated Microsoft 365 tenant. Each concern (identity, mail, calendar, drive,
 * delta, subscriptions, faults) lives in its own module and reads what it shares with the others here.
 */
import { EventEmitter } from 'node:events';
import { SimClock } from './clock';
import { AccessTokenRegistry } from './access-tokens';
import { GraphState } from './graph/graph-state';

export interface SimUser {
  id: string;
  userPrincipalName: string;
  displayName: string;
  mail: string;
  /**
   * The kind of OneDrive the user has (Graph `drive.driveType`): `business` (OneDrive for Business, work or school
   * accounts) or `personal` (consumer OneDrive, Microsoft accounts of the `consumers` tenant). The kinds answer
   * differently (`reference/graph.md` §5, §11.5; "driveItem: delta"): folder delta, timestamp tokens, deleted items.
   */
  driveType: 'business' | 'personal';
}

/** Kinds of objects the simulated Graph stores. */
export type SimResourceKind = 'message' | 'event' | 'driveItem' | 'contact';

/**
 * One change to one object, emitted on `SimState.changes` ('change') by the object store whenever the
 * control API (or the scripted activity) creates, updates or deletes something. Subscriptions turn these
 * into change notifications.
 */
export interface SimChange {
  kind: SimResourceKind;
  changeType: 'created' | 'updated' | 'deleted';
  userId: string;
  id: string;
  /** Mail folder id for messages, calendar id for events, drive id for drive items. */
  parentId?: string;
  etag?: string;
  /** Simulated clock time of the change (ms). */
  at: number;
}

export class SimState {
  readonly clock = new SimClock();
  readonly accessTokens = new AccessTokenRegistry(this.clock);
  /** The simulated Graph: object store, faults, request log (`graph/graph-state.ts`). */
  readonly graph: GraphState = new GraphState(this);
  /** 'change' events carry a SimChange. */
  readonly changes = new EventEmitter();
  /** Set by the server once it listens, e.g. `http://127.0.0.1:40123`. */
  baseUrl = "";
  readonly tenantId = '84bd8158-6d4d-4958-8b9f-9d6445542f95';
  readonly users: SimUser[] = [
    {
      id: '8ee44408-0679-472c-bc2a-692812af3437',
      userPrincipalName: 'adele@contoso.example',
      displayName: 'Adele Vance',
      mail: 'adele@contoso.example',
      driveType: 'business',
    },
    {
      id: '5b7b0fe2-3cc2-4a3e-9f47-2c2e1b6f1e10',
      userPrincipalName: 'megan@contoso.example',
      displayName: 'Megan Bowen',
      mail: 'megan@contoso.example',
      driveType: 'business',
    },
    {
      // A Microsoft account (consumers tenant): personal OneDrive.
      id: '00000000-0000-0000-b3a1-5c2f9e7d4a60',
      userPrincipalName: 'pat.personal@outlook.example',
      displayName: 'Pat Personal',
      mail: 'pat.personal@outlook.example',
      driveType: 'personal',
    },
  ];

  constructor() {
    this.changes.setMaxListeners(100);
  }

  get defaultUser(): SimUser {
    return this.users[0];
  }

  findUser(idOrUpn: string): SimUser | undefined {
    const key = idOrUpn.toLowerCase();
    return this.users.find((u) => u.id === key || u.userPrincipalName.toLowerCase() === key);
  }

  emitChange(change: SimChange): void {
    this.changes.emit('change', change);
  }
}
