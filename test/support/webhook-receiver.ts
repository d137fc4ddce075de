/**
 * `core/webhooks/receiver` options for the unit tests on the simulator (test/unit/webhooks/): node `office365` of the
 * simulator's default user, no subscriptions stored, no cursors kept, every callback a no-op unless overridden.
 */
import { simGraphClient } from './simulator';
import type { Simulator } from '../../src/simulator/server';
import type { Ms365Event } from '../../src/core/events';
import { WebhookReceiver, type WebhookCursors, type WebhookReceiverOptions } from '../../src/core/webhooks/receiver';
import { SIM_CLIENT_ID } from '../../src/simulator/identity';

/** Cursors that keep nothing (receivers whose tests do not read through drive delta or catch up). */
export const noCursors: WebhookCursors = {
  loaded: Promise.resolve(),
  get: () => undefined,
  note: () => undefined,
  flush: async () => undefined,
  beforeSend: async () => undefined,
  afterSend: async () => undefined,
  close: async () => undefined,
};

/** The options of a receiver on `sim`; `overrides` replace any of them. */
export function receiverOptions(sim: Simulator, overrides: Partial<WebhookReceiverOptions> = {}): WebhookReceiverOptions {
  return {
    graph: simGraphClient(sim),
    elementKey: 'office365',
    instanceName: 'unit',
    mePath: `/users/${sim.state.defaultUser.id}`,
    clientState: 'unit-state',
    fetchResource: false,
    notificationUrl: 'http://127.0.0.1:9/unused',
    specs: [],
    authorityHost: sim.authorityHost,
    appId: SIM_CLIENT_ID,
    cursors: noCursors,
    loadSubscriptions: async () => [],
    saveSubscriptions: async () => undefined,
    sendEvent: () => undefined,
    sendSide: () => undefined,
    status: () => undefined,
    warn: () => undefined,
    error: () => undefined,
    ...overrides,
  };
}

/** A receiver on `sim` (options as `receiverOptions`) whose events and errors are collected. */
export function collectingReceiver(sim: Simulator, overrides: Partial<WebhookReceiverOptions> = {}) {
  const events: Ms365Event[] = [];
  const errors: string[] = [];
  const r = new WebhookReceiver(receiverOptions(sim, { sendEvent: (event) => void events.push(event), error: (message) => void errors.push(message), ...overrides }));
  return { r, events, errors };
}
