/**
 * Assembles a running worker from config: the HTTP ops server first (liveness answers while we
 * wait), then the broker and the database (waiting for each when it is down rather than
 * crash-looping), store, metrics. Used by `matchflow worker` (RabbitMQ) and by `matchflow run`
 * (embedded transport).
 */
import { getHeapStatistics } from "node:v8";
import type { Config } from "../config.js";
import type { Database } from "../db/database.js";
import { DATABASE_REFUSALS } from "../db/errors.js";
import { createMatchStore } from "../db/match-store.js";
import { warmUpMessagePath } from "./warm-up.js";
import { migrate } from "../db/migrate.js";
import { openDatabase } from "../db/open.js";
import { untilItWorks } from "../patience.js";
import { ConfigError, errorMessage, isMatchflowError } from "../errors.js";
import type { Logger } from "../log.js";
import { startOpsServer, type OpsServer } from "../ops/http.js";
import { autoBatchBytes } from "./batch-bytes.js";
import { celeryMonitoringOf } from "./celery-monitoring.js";
import { createWorkerMetrics, type WorkerMetrics } from "./metrics.js";
import type { WorkTransport } from "./transport.js";
import { Worker, type SettledEvent } from "./worker.js";

export interface WorkerApp {
  worker: Worker;
  metrics: WorkerMetrics;
  ops: OpsServer | undefined;
  database: Database;
  /** Graceful stop (memoised): worker first, then the HTTP server. */
  stop(graceMs?: number): Promise<void>;
}

export interface WorkerAppOptions {
  config: Config;
  log: Logger;
  /**
   * The transport, or how to connect one: called once the HTTP server is up, so that /healthz
   * answers and /readyz says "not ready" while it waits for the broker; it should give up when
   * the signal it gets aborts.
   */
  transport: WorkTransport | ((giveUp: AbortSignal) => Promise<WorkTransport>);
  /** Ends the start-up's waits for the broker and the database (a signal before the worker runs). */
  startUp?: AbortSignal;
  /** Serve /metrics, /healthz, /readyz on config.metricsPort. @default true */
  serveHttp?: boolean;
  /** Apply pending migrations first (safe with several workers: advisory lock). @default true */
  migrate?: boolean;
  onSettled?: (event: SettledEvent) => void;
  /** Reuse an open database (embedded mode shares one PGlite). */
  database?: Database;
}

/** The pause after the n-th failed start-up attempt on the database: 0.5 s doubling to 15 s. */
const startUpDelayMs = (failures: number) => Math.min(500 * 2 ** Math.min(failures - 1, 5), 15_000);

function openWithPatience(config: Config, log: Logger, startUp: AbortSignal | undefined): Promise<Database> {
  return untilItWorks(() => openDatabase(config.databaseUrl, { log, poolSize: Math.max(2, config.worker.concurrency + 1), timeouts: config.db }), {
    signal: startUp,
    delayMs: startUpDelayMs,
    onFailure: (err, _failures, retryInMs) => log.error({ code: "database_unreachable", err: errorMessage(err), retryInMs }, "database unreachable at start-up; waiting for it"),
    // Another process holding an embedded database does not go away by waiting: exit 5 now.
    isFinal: (err) => err instanceof ConfigError || (isMatchflowError(err) && err.code === "database_in_use"),
  });
}

/**
 * Failures of the migrations at start-up that waiting can cure: the database unreachable, or
 * refusing for a reason of its own (db/errors.ts DATABASE_REFUSALS: a failover's standby, a full
 * disk, a missing grant) but for `db_schema`, a migration the schema refuses, which needs a person.
 */
const waitedAtMigration = (code: string) => code === "db_connection" || (code !== "db_schema" && DATABASE_REFUSALS.has(code));

/**
 * Migrates, waiting like `openWithPatience` while the database refuses it for a reason of its
 * own: a worker restarted during a failover met a read-only database here and exited 5 into a
 * crash loop (it holds batches through the same refusal once running).
 */
function migrateWithPatience(database: Database, log: Logger, startUp: AbortSignal | undefined): Promise<unknown> {
  return untilItWorks(() => migrate(database, { log }), {
    signal: startUp,
    delayMs: startUpDelayMs,
    onFailure: (err, _failures, retryInMs) => log.error({ code: isMatchflowError(err) ? err.code : undefined, err: errorMessage(err), retryInMs }, "database refuses the migrations at start-up; waiting for it"),
    isFinal: (err) => !(isMatchflowError(err) && waitedAtMigration(err.code)),
  });
}

export async function startWorkerApp(options: WorkerAppOptions): Promise<WorkerApp> {
  const { config, log } = options;
  // Without the HTTP server (`run`, and `schedule`'s in-process runs: an app per run in one
  // long-lived process) nobody reads the process metrics, and prom-client never takes their GC
  // observer and event-loop monitor off: each run's registry stayed reachable, with a timer each.
  const metrics = createWorkerMetrics({ defaultMetrics: options.serveHttp !== false });
  const started: { worker?: Worker; transport?: WorkTransport; database?: Database; migrated?: boolean } = { database: options.database };
  if (typeof options.transport !== "function") started.transport = options.transport;
  // The HTTP server comes first so liveness answers while we wait for the broker and the database.
  const ops =
    options.serveHttp === false
      ? undefined
      : await startOpsServer({
          port: config.metricsPort,
          registry: metrics.registry,
          readiness: () => started.worker?.ready() ?? { ready: false, checks: { broker: started.transport?.isConnected() ?? false, database: started.database !== undefined && started.migrated !== false, starting: true } },
        });
  if (ops) log.info({ port: ops.port }, "ops HTTP server listening (/metrics, /healthz, /readyz)");

  let database: Database;
  try {
    const connected = await connectBoth(options, started, metrics);
    database = connected.database;
    const transport = connected.transport;
    if (options.migrate !== false) {
      // Down until the migrations are taken, as /readyz says: a database refusing them (read-only
      // after a failover) is waited for, and read 1 here while MatchflowDatabaseDown stayed silent.
      started.migrated = false;
      metrics.databaseUp.set(0);
      await migrateWithPatience(database, log, options.startUp);
      started.migrated = true;
      metrics.databaseUp.set(1);
    }
    const store = createMatchStore(database, {
      nameResolution: config.worker.nameResolution,
      nameCacheTtlMs: config.worker.nameCacheTtlMs,
      closeDatabase: options.database === undefined,
    });
    // Not on the first deliveries' clock: one connection per concurrent batch with the write
    // statement prepared on each, and the decode/validate path compiled by the JIT.
    const warmed = await store.warmUp(config.worker.concurrency);
    if (warmed < config.worker.concurrency) log.warn({ warmed, wanted: config.worker.concurrency }, "could not prepare the write statement on every connection (table locked or database busy?): the first batches will");
    warmUpMessagePath(config);
    const monitoring = celeryMonitoringOf(config, transport, database, metrics, log, () => started.worker);
    const worker = new Worker(transport, store, {
      taskName: config.topology.taskName,
      maxMessageBytes: config.maxMessageBytes,
      concurrency: config.worker.concurrency,
      prefetch: config.worker.prefetch,
      batchSize: config.worker.batchSize,
      batchBytes: config.worker.batchBytes === "auto" ? autoBatchBytes(getHeapStatistics().heap_size_limit, config.worker.concurrency) : config.worker.batchBytes,
      logIntervalMs: config.worker.logIntervalMs,
      retry: config.retry,
      resultBackend: config.worker.resultBackend,
      celeryCanvas: config.worker.celeryCanvas,
      celeryDefaultQueue: config.worker.celeryDefaultQueue,
      ownRoute: { taskName: config.topology.taskName, exchange: config.topology.exchange, routingKey: config.topology.routingKey, queue: config.topology.queue },
      log,
      metrics,
      onSettled: monitoring ? (event) => (monitoring.onSettled(event), options.onSettled?.(event)) : options.onSettled,
      taskEvents: monitoring?.taskEvents,
      isRevoked: monitoring?.isRevoked,
      beforeClose: monitoring && (() => monitoring.close()),
    });
    started.worker = worker;
    // The revoked ids of the other workers first (mingle), as a Celery worker takes them before consuming.
    await monitoring?.open();
    await worker.start();
    await monitoring?.start();
  } catch (err) {
    // Nothing was consumed yet: close what this start opened, or its handles keep the process alive.
    await closeStarted(options, started);
    await ops?.close().catch(() => undefined);
    throw err;
  }

  let stopPromise: Promise<void> | undefined;
  const w = started.worker;
  return {
    worker: w,
    metrics,
    ops,
    database,
    stop(graceMs = config.worker.shutdownGraceMs) {
      stopPromise ??= (async () => {
        // Worker-offline is sent once the in-flight tasks are settled (beforeClose): their events
        // after it would make a monitor count the worker alive again.
        await w.stop(graceMs);
        await ops?.close();
      })();
      return stopPromise;
    },
  };
}

/**
 * The broker and the database, waited for at the same time: each wait's log lines and gauge
 * (`matchflow_broker_up`, `matchflow_database_up`) then say which of the two is missing, instead
 * of the second reading "down" while the first is awaited. If one fails for good, the other's
 * wait ends too.
 */
async function connectBoth(options: WorkerAppOptions, started: { transport?: WorkTransport; database?: Database }, metrics: WorkerMetrics): Promise<{ transport: WorkTransport; database: Database }> {
  const failed = new AbortController();
  const giveUp = options.startUp ? AbortSignal.any([options.startUp, failed.signal]) : failed.signal;
  const transport = options.transport;
  const broker = typeof transport === "function"
    ? transport(giveUp).then((t) => {
        started.transport = t;
        // Read at every scrape, as /readyz reads it: the connection can go again while the database is awaited.
        metrics.watchBroker(() => t.isConnected());
        return t;
      })
    : Promise.resolve(transport);
  const database = started.database
    ? Promise.resolve(started.database)
    : openWithPatience(options.config, options.log, giveUp).then((db) => {
        started.database = db;
        metrics.databaseUp.set(1);
        return db;
      });
  // The first failure is the one to report (the other wait then fails only because it was ended).
  let firstFailure: { error: unknown } | undefined;
  const endTheOther = (err: unknown): never => {
    firstFailure ??= { error: err };
    failed.abort();
    throw err;
  };
  const [b, d] = await Promise.allSettled([broker.catch(endTheOther), database.catch(endTheOther)]);
  if (b.status === "fulfilled" && d.status === "fulfilled") return { transport: b.value, database: d.value };
  throw firstFailure?.error;
}

/** Closes what this start opened itself (a transport or database the caller passed stays the caller's). */
async function closeStarted(options: WorkerAppOptions, started: { transport?: WorkTransport; database?: Database }): Promise<void> {
  if (typeof options.transport === "function") await started.transport?.close().catch(() => undefined);
  if (options.database === undefined) await started.database?.close().catch(() => undefined);
}
