/**
 * What a Celery monitor sees of the worker, as the settings ask: its events (CELERY_EVENTS,
 * celery-events.ts), its answers to inspect commands and, with CELERY_CONTROL=control, what it
 * obeys (revoked ids, task events switched on and off: broker/control-channel.ts), under one node
 * name. Both ride on the transport's publishing connection and are closed, after the last task's
 * events and worker-offline, before the worker's connections close.
 */
import { brokerAddress } from "../broker/broker-url.js";
import { fieldText } from "../broker/field-values.js";
import type { TaskSeen, WorkerControls, WorkerFacts } from "../celery/control.js";
import { isObject } from "../celery/decode.js";
import { revokedForHello, revokedFromHello, type Clocks } from "../celery/mingle.js";
import { RevokedSet } from "../celery/revoked.js";
import { redactedConfig, type Config } from "../config.js";
import type { Queryable } from "../db/database.js";
import type { Logger } from "../log.js";
import { MATCHFLOW_VERSION } from "../version.js";
import { celeryNodeName, WorkerEvents } from "./celery-events.js";
import { StoredRevokes } from "./stored-revokes.js";
import type { WorkerMetrics } from "./metrics.js";
import type { SettledEvent } from "./settle.js";
import type { CeleryControl, InboundMessage, WorkTransport } from "./transport.js";
import type { Worker } from "./worker.js";

export interface CeleryMonitoring {
  /** For the settler: each task's events (CELERY_EVENTS=all, or worker switchable by enable_events with CELERY_CONTROL=control). */
  taskEvents: WorkerEvents | undefined;
  /** For the worker: the ids `celery control revoke` flagged (CELERY_CONTROL=control). */
  isRevoked: ((taskId: string) => boolean) | undefined;
  /** Counts the tasks settled for good (heartbeats and `inspect stats` report it). */
  onSettled(event: SettledEvent): void;
  /** Before the worker consumes: the mailbox, and with CELERY_CONTROL=control the other workers' revoked ids (mingle). */
  open(): Promise<void>;
  /** Once the worker consumes: its events (worker-online first). */
  start(): Promise<void>;
  /** The last events (worker-offline), then the channels close. */
  close(): Promise<void>;
}

/** Undefined when neither setting asks for anything. */
export function celeryMonitoringOf(config: Config, transport: WorkTransport, database: Queryable, metrics: WorkerMetrics, log: Logger, worker: () => Worker | undefined): CeleryMonitoring | undefined {
  const { celeryEvents, celeryControl } = config.worker;
  if (celeryEvents === "off" && celeryControl === "off") return undefined;
  if (!transport.celeryEventSink || !transport.celeryControl) {
    log.warn({ celeryEvents, celeryControl }, "CELERY_EVENTS or CELERY_CONTROL is set, but the in-process broker has no Celery monitor: nothing is sent or answered");
    return undefined;
  }
  const node = celeryNodeName();
  const started = Date.now();
  let processed = 0;
  const events = celeryEvents === "off" ? undefined : new WorkerEvents(transport.celeryEventSink(), { scope: celeryEvents, active: () => worker()?.inFlight ?? 0, processed: () => processed, metrics, version: MATCHFLOW_VERSION });
  const revoked = celeryControl === "control" ? new RevokedSet() : undefined;
  const facts = (clock: number): WorkerFacts => ({
    node,
    pid: process.pid,
    version: MATCHFLOW_VERSION,
    uptime: (Date.now() - started) / 1000,
    concurrency: config.worker.concurrency,
    prefetch: config.worker.prefetch,
    taskName: config.topology.taskName,
    processed,
    queue: { name: config.topology.queue, exchange: config.topology.exchange, exchangeType: "direct", routingKey: config.topology.routingKey, durable: true, queueType: config.topology.queueType },
    broker: brokerAddress(config.rabbitmqUrl ?? "") ?? { hostname: "", port: 0, virtualHost: "" },
    clock,
    conf: () => redactedConfig(config),
    tasks: () => {
      const now = worker()?.tasksNow();
      return { active: (now?.active ?? []).map(seen), reserved: (now?.reserved ?? []).map(seen), scheduled: (now?.scheduled ?? []).map(seen) };
    },
    revoked: () => revoked?.entries() ?? [],
    clocks: clocksNow(),
  });
  const stored = revoked && new StoredRevokes(database, log);
  const controls: WorkerControls | undefined = revoked && {
    revoke: (ids) => {
      revoked.add(ids);
      stored?.store(ids);
    },
    // A starting worker's hello: what it brings that this one did not know goes to the database too.
    mergeRevoked: (entries) => stored?.storeAt(revoked.merge(entries)),
    taskEvents: (on) => events?.setTaskEvents(on),
    heartbeat: () => (events ? (events.heartbeat(), true) : false),
  };
  const control: CeleryControl | undefined = celeryControl === "off" ? undefined : transport.celeryControl(node, facts, controls);
  return {
    taskEvents: celeryEvents === "all" || controls ? events : undefined,
    isRevoked: revoked && ((taskId) => revoked.has(taskId)),
    onSettled: (event) => {
      if (event.final) processed++;
    },
    open: async () => {
      await control?.open();
      // The database's revokes first, so that the hello carries them to Celery's workers too.
      if (revoked && stored) revoked.merge(await stored.load());
      if (control && revoked) await mingle(control, revoked, stored, log);
    },
    start: async () => {
      await events?.start();
      stored?.watch((entries) => {
        // Those this worker did not hold: revoked while it was not listening.
        const unknown = revoked ? entries.filter(([id]) => !revoked.has(id)) : [];
        revoked?.merge(entries);
        if (unknown.length > 0) log.info({ revoked: unknown.length, ids: unknown.slice(0, 20).map(([id]) => id) }, "revoked tasks read from the database that this worker had not been told of");
      });
      log.info({ node, celeryEvents, celeryControl }, "Celery monitoring on");
    },
    close: async () => {
      await events?.close();
      await control?.close();
      await stored?.settled();
    },
  };
}

/** Now on both clocks mingle's stamps need (process.hrtime reads CLOCK_MONOTONIC, as Python's time.monotonic()). */
function clocksNow(): Clocks {
  return { wallMs: Date.now(), monotonicS: Number(process.hrtime.bigint()) / 1e9 };
}

/** Celery's mingle at start-up: the revoked ids of every worker that answers within a second join ours. */
async function mingle(control: CeleryControl, revoked: RevokedSet, stored: StoredRevokes | undefined, log: Logger): Promise<void> {
  const replies = await control.hello(revokedForHello(revoked.entries(), clocksNow()));
  const clocks = clocksNow();
  // What only the others knew (revoked on Celery's workers alone) is written too, at its own time.
  for (const reply of replies.values()) if (isObject(reply)) stored?.storeAt(revoked.merge(revokedFromHello(reply.revoked, clocks)));
  if (replies.size === 0) log.info("Celery mingle: no other worker answered (no revoked tasks to take over)");
  else log.info({ nodes: [...replies.keys()].slice(0, 20), answered: replies.size, revoked: revoked.size }, "Celery mingle: took over the other workers' revoked tasks");
}

/** A held delivery as inspect shows it, from its headers (Celery protocol 2; a protocol 1 task shows its id only). */
function seen(message: InboundMessage): TaskSeen {
  const h: Record<string, unknown> = message.properties.headers ?? {};
  return {
    id: text(h.id) ?? text(message.properties.correlationId),
    name: text(h.task),
    argsrepr: text(h.argsrepr),
    kwargsrepr: text(h.kwargsrepr),
    eta: text(h.eta),
    priority: typeof message.properties.priority === "number" ? message.properties.priority : 0,
    exchange: message.exchange,
    routingKey: message.routingKey,
    redelivered: message.redelivered,
    receivedAt: message.receivedAt,
  };
}

function text(value: unknown): string | null {
  return fieldText(value) ?? null;
}
