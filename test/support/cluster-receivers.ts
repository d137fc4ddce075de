/**
 * The set-up of core-level tests where several `WebhookReceiver`s stand for one webhook-in node on several instances:
 * the simulator, one real redis-server with a Redis client per instance (`useRedisStates`), a notification endpoint
 * that passes Graph's handshake, the simulator's request log cleared before each test and every receiver made by the
 * test closed after it.
 */
import axios from 'axios';
import { useSimulator } from './simulator';
import { useRedisServer, useRedisStates } from './redis';
import { useNotificationEndpoint } from './notification-endpoint';
import { waitFor } from './connector';
import type { WebhookReceiver } from '../../src/core/webhooks/receiver';

export function useClusterReceivers(prefix: string) {
  const sim = useSimulator();
  const redis = useRedisServer();
  const states = useRedisStates(redis, prefix);
  const endpoint = useNotificationEndpoint();
  const receivers: WebhookReceiver[] = [];
  beforeEach(async () => {
    await axios.delete(`${sim().controlUrl}/requests`);
  });
  afterEach(async () => {
    await Promise.all(receivers.splice(0).map((r) => r.close(false)));
  });
  return { sim, redis, states, endpoint, receivers, user: () => sim().state.defaultUser.id };
}

/** `waitFor` with the 10 s these multi-instance tests allow (lease TTLs of a second or two, a loaded machine). */
export const waitLong = (what: string, check: () => boolean | Promise<boolean>, ms = 10_000) => waitFor(what, check, ms);
