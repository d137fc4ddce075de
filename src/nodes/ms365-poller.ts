/**
 * Node-RED adapter for `ms365-poller` (CONTRACT "ms365-poller"): a one-shot timer re-armed after each poll (polls
 * never overlap, STYLE.md §3: `core/changes/poll-loop`), one message per event. Cursors (`shared/durable-cursors`): before a round's events
 * are sent, the new cursors and those events are written atomically to `<userDir>/.ms365-events/poller-<id>.json`,
 * then mirrored in node context ("pollerState"); at start-up the newer wins and the events of an interrupted round
 * are sent again: a crash repeats at most the last round (same eventIds) and loses nothing, even with Node-RED's
 * memory-only context or its 30 s context flush. The starting point of a new poller (or one given `msg.reset`) is
 * taken when it starts and written to that file at once, before any Graph call (`start` cursors): its first round,
 * however late Graph lets it succeed, emits every change after it. With a cluster (its connector names one) the same
 * record lives in Redis, one instance owns each resource and the others show `standby` (`shared/poller-cursors`). The engines live in `core/changes`, the
 * configuration rules in `core/opencon/poller-config`.
 */
import { randomUUID } from 'node:crypto';
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { eventTopic, type Ms365Event } from '../core/events';
import { parsePollerConfiguration, type ResourceConfig } from '../core/opencon/poller-config';
import { pollResource, refusedForGood } from '../core/changes';
import { PollLoop } from '../core/changes/poll-loop';
import { MissingPermissionError } from '../core/graph/client';
import { PermissionBackoff } from '../core/graph/permissions';
import { useConnector } from './shared/use-connector';
import { pollerCursors } from './shared/poller-cursors';
import { intervalMs, roundStatus } from './shared/poller-round';
import { translator } from './shared/i18n';
import { registerPresetRoute } from './shared/preset-route';

interface PollerDef extends NodeDef {
  connector: string;
  interval: number | string;
  timezone: string;
  configuration: string | Record<string, unknown>;
  pollOnStart: boolean | string;
}

export = function register(RED: NodeAPI): void {
  function Ms365PollerNode(this: Node, def: PollerDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const t = translator(RED, 'ms365-poller');
    const connector = useConnector(RED, node, def.connector);
    if (!connector) return;

    let resources: ResourceConfig[];
    let every: number;
    try {
      // A cluster that is named but not deployed: no fall-back to the state file (the connector says why).
      if (connector.clusterId && !connector.cluster) throw new Error(t('errors.clusterMissing', { cluster: connector.clusterId }));
      every = intervalMs(def.interval, (value) => t('errors.badInterval', { value }));
      resources = parsePollerConfiguration(def.configuration, {
        elementKey: connector.elementKey,
        timezone: def.timezone || 'UTC',
        mePath: connector.mePath,
      });
    } catch (err) {
      // The red status stays: the connector's status no longer fans out to a poller that will not start.
      connector.deregister(node);
      node.status({ fill: 'red', shape: 'ring', text: t('status.invalidConfig') });
      node.error(t('errors.invalidConfig', { error: (err as Error).message }));
      return;
    }

    const sendEvents = (events: Ms365Event[]) => {
      for (const event of events) node.send({ _msgid: randomUUID(), topic: eventTopic(event), payload: event } as NodeMessage);
    };
    const keys = resources.map((resource) => resource.objectType);
    // The state file, or with a cluster Redis and one owner per resource: a resource just taken over is polled at once.
    const cursors = pollerCursors(RED, node, connector.cluster, {
      keys,
      resend: sendEvents,
      onOwnership: (_key, owned) => owned && setImmediate(() => loop.poke()),
      onError: (err) => node.warn(t('errors.cluster', { error: err.message })),
    });
    // The starting point is now (Graph's clock if the connector knows it, else ours), on disk before any Graph call.
    const recordFailed = (err: Error) => node.warn(t('errors.recordStart', { error: err.message }));
    const started = cursors.begin(keys, connector.graph.serverNow()).catch(recordFailed);

    let closing = false;
    /** The latest `msg.reset` recorded (rounds wait for it). */
    let resetting: Promise<void> = Promise.resolve();
    const abort = new AbortController();
    /** Resources Graph refused with 403: skipped for a growing number of polls (core/graph/permissions). */
    const permissions = new PermissionBackoff();
    /** Resources refused for good (core/changes `refusedForGood`): not asked again until redeploy or `msg.reset`. */
    const refused = new Map<string, Error>();

    /** One poll of every resource, in order. Errors of one resource do not stop the others. */
    const pollOnce = async (trigger?: NodeMessage): Promise<Error | undefined> => {
      await started;
      await resetting;
      const pollStart = connector.graph.serverNow(); // Graph's clock (its Date header): windows survive clock jumps
      const epoch = cursors.epoch;
      let count = 0;
      let failure: Error | undefined;
      let missingPermission: string | undefined;
      let owned = 0;
      cursors.startRound();
      for (const resource of resources) {
        if (closing) return undefined;
        if (!cursors.owns(resource.objectType)) continue; // another instance of the cluster polls it
        if (owned++ === 0) node.status({ fill: 'blue', shape: 'dot', text: t('status.polling') });
        // A `msg.reset` came during this round: every cursor starts again there (the round after this one reads them).
        if (cursors.epoch !== epoch) break;
        const refusal = refused.get(resource.objectType);
        if (refusal) {
          failure ??= refusal; // still red; logged once, when it was refused
          continue;
        }
        if (permissions.skip(resource.objectType)) {
          missingPermission ??= permissions.missing(resource.objectType);
          continue;
        }
        try {
          const round = await pollResource(
            { graph: connector.graph, elementKey: connector.elementKey, instanceName: connector.instanceName, pollStart, signal: abort.signal },
            resource,
            cursors.get(resource.objectType),
          );
          if (closing) return undefined;
          // Stored before the send: the cursor never passes events that are nowhere but in memory. After a reset
          // came during the round, its events (changes before the reset) still go out, its cursor does not. False:
          // the resource is no longer ours (a stale owner's write was refused): another instance sends them.
          if (!(await cursors.beforeSend(resource.objectType, cursors.epoch === epoch ? round.cursor : undefined, round.events))) continue;
          sendEvents(round.events);
          count += round.events.length;
          if (round.resynced) node.warn(t('errors.resynced', { objectType: resource.objectType }));
          await cursors.afterSend(resource.objectType);
          permissions.succeeded(resource.objectType);
        } catch (err) {
          if (closing) return undefined;
          if (err instanceof MissingPermissionError) {
            permissions.refused(resource.objectType, err.permission ?? 'unknown');
            missingPermission ??= err.permission ?? 'unknown';
          }
          failure = new Error(t('errors.resource', { objectType: resource.objectType, error: (err as Error).message }));
          if (refusedForGood(err)) refused.set(resource.objectType, failure);
          // A poll started by a message reports through done(err) (Catch nodes); a timer poll through node.error.
          if (!trigger) node.error(failure.message, { payload: { objectType: resource.objectType } } as NodeMessage);
        }
      }
      if (!owned && resources.length && !closing) {
        const owner = await cursors.standbyOwner().catch(() => null);
        node.status(owner === null ? { fill: 'red', shape: 'ring', text: t('status.clusterUnavailable') } : { fill: 'grey', shape: 'ring', text: t('status.standby', { owner: owner ?? '?' }) });
        return undefined;
      }
      node.status(roundStatus(t, { missingPermission, failure, count, pollStart }));
      return failure;
    };

    const loop = new PollLoop<NodeMessage, Error | undefined>({ everyMs: every, poll: pollOnce, onError: (err) => node.error(err.message) });

    node.on('input', (msg: NodeMessage & { reset?: unknown }, _send: unknown, done: (err?: Error) => void) => {
      void (async () => {
        // Recorded now, before any Graph call; a round running now does not save its cursors over it.
        if (msg.reset === true) {
          permissions.clear();
          refused.clear();
          resetting = cursors.restart(keys, connector.graph.serverNow()).catch(recordFailed);
        }
        done(await loop.run(msg));
      })().catch((err: Error) => done(err));
    });

    node.on('close', (removed: boolean, done: () => void) => {
      closing = true;
      abort.abort();
      const guard = setTimeout(done, 5000);
      void (async () => {
        await loop.stop();
        await cursors.close(removed);
      })()
        .catch((err: Error) => node.warn(t('errors.saveOnClose', { error: err.message })))
        .finally(() => {
          clearTimeout(guard);
          done();
        });
    });

    const pollOnStart = def.pollOnStart === undefined || def.pollOnStart === true || def.pollOnStart === 'true';
    if (pollOnStart) setImmediate(() => loop.poke());
    else {
      node.status({ fill: 'grey', shape: 'ring', text: t('status.waiting') });
      loop.arm();
    }
  }

  RED.nodes.registerType('ms365-poller', Ms365PollerNode);
  registerPresetRoute(RED);
};
