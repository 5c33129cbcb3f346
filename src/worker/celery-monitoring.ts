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
import { REVOKE_EXPIRES_MS, REVOKES_MAX, RevokedSet } from "../celery/revoked.js";
import { redactedConfig, type Config } from "../config.js";
import type { Queryable } from "../db/database.js";
import { loadRevoked, storeRevoked, storeRevokedAt, type StoredRevoke } from "../db/revoked.js";
import { errorMessage } from "../errors.js";
import type { Logger } from "../log.js";
import { MATCHFLOW_VERSION } from "../version.js";
import { celeryNodeName, WorkerEvents } from "./celery-events.js";
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
      log.info({ node, celeryEvents, celeryControl }, "Celery monitoring on");
    },
    close: async () => {
      await events?.close();
      await control?.close();
      await stored?.settled();
    },
  };
}

/**
 * The revokes this worker obeys, written to `celery_revoked` (db/revoked.ts) so that they outlive
 * every worker's restart, and read back at start-up. One write at a time, taking in all that came
 * meanwhile: a burst of revokes costs the worker's pool one connection, not one each. A failure is
 * logged, not fatal: the revoke still holds in memory and is passed on by mingle, as in a Celery worker.
 */
class StoredRevokes {
  /** Revoked here: stored at the database's now. */
  private ids: string[] = [];
  /** Taken over from other workers: stored at the times they flagged them. */
  private entries: StoredRevoke[] = [];
  private writing: Promise<void> | undefined;

  constructor(
    private readonly database: Queryable,
    private readonly log: Logger,
  ) {}

  store(ids: readonly string[]): void {
    for (const id of ids) this.ids.push(id);
    this.startWriting();
  }

  storeAt(entries: readonly StoredRevoke[]): void {
    for (const entry of entries) this.entries.push(entry);
    this.startWriting();
  }

  async load(): Promise<StoredRevoke[]> {
    try {
      const entries = await loadRevoked(this.database, REVOKE_EXPIRES_MS, REVOKES_MAX);
      if (entries.length > 0) this.log.info({ revoked: entries.length }, "revoked tasks read from the database");
      return entries;
    } catch (err) {
      this.log.error({ code: "revoke_not_loaded", err: errorMessage(err) }, "could not read the revoked tasks from the database: only those the other workers hold (mingle) are known");
      return [];
    }
  }

  /** The writes under way (a revoke obeyed just before the stop). */
  async settled(): Promise<void> {
    await this.writing;
  }

  private startWriting(): void {
    if (this.writing || (this.ids.length === 0 && this.entries.length === 0)) return;
    this.writing = this.writeAll().finally(() => {
      this.writing = undefined;
      this.startWriting(); // what came in as the last write ended
    });
  }

  private async writeAll(): Promise<void> {
    while (this.ids.length > 0 || this.entries.length > 0) {
      const { ids, entries } = this;
      this.ids = [];
      this.entries = [];
      try {
        await storeRevoked(this.database, ids, REVOKE_EXPIRES_MS);
        await storeRevokedAt(this.database, entries, REVOKE_EXPIRES_MS);
      } catch (err) {
        const shown = [...ids, ...entries.map((e) => e[0])].slice(0, 20);
        this.log.error({ code: "revoke_not_stored", err: errorMessage(err), ids: shown }, "revoked tasks not written to the database: a worker starting after every other one stopped will not know them");
      }
    }
  }
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
