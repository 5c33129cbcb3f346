/**
 * Assembles a running worker from config: database (waiting for it when it is down rather than
 * crash-looping), store, transport, metrics and the HTTP ops server. Used by `matchflow worker`
 * (RabbitMQ) and by `matchflow run` (embedded transport).
 */
import type { Config } from "../config.js";
import type { Database } from "../db/database.js";
import { createMatchStore } from "../db/match-store.js";
import { warmUpMessagePath } from "./warm-up.js";
import { migrate } from "../db/migrate.js";
import { openDatabase } from "../db/open.js";
import { errorMessage } from "../errors.js";
import type { Logger } from "../log.js";
import { startOpsServer, type OpsServer } from "../ops/http.js";
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
  transport: WorkTransport;
  /** Serve /metrics, /healthz, /readyz on config.metricsPort. @default true */
  serveHttp?: boolean;
  /** Apply pending migrations first (safe with several workers: advisory lock). @default true */
  migrate?: boolean;
  onSettled?: (event: SettledEvent) => void;
  /** Reuse an open database (embedded mode shares one PGlite). */
  database?: Database;
}

async function openWithPatience(config: Config, log: Logger, isStopping: () => boolean): Promise<Database> {
  let delay = 500;
  for (;;) {
    try {
      return await openDatabase(config.databaseUrl, { log, poolSize: Math.max(2, config.worker.concurrency + 1), timeouts: config.db });
    } catch (err) {
      if (isStopping()) throw err;
      log.error({ code: "database_unreachable", err: errorMessage(err), retryInMs: delay }, "database unreachable at start-up; waiting for it");
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 15_000);
    }
  }
}

export async function startWorkerApp(options: WorkerAppOptions): Promise<WorkerApp> {
  const { config, log, transport } = options;
  const metrics = createWorkerMetrics();
  const started: { worker?: Worker } = {};
  let stopping = false;
  // The HTTP server comes first so liveness answers while we wait for the database.
  const ops =
    options.serveHttp === false
      ? undefined
      : await startOpsServer({
          port: config.metricsPort,
          registry: metrics.registry,
          readiness: () => started.worker?.ready() ?? { ready: false, checks: { broker: transport.isConnected(), database: false, starting: true } },
        });
  if (ops) log.info({ port: ops.port }, "ops HTTP server listening (/metrics, /healthz, /readyz)");

  const database = options.database ?? (await openWithPatience(config, log, () => stopping));
  if (options.migrate !== false) await migrate(database, { log });
  const store = createMatchStore(database, {
    nameResolution: config.worker.nameResolution,
    closeDatabase: options.database === undefined,
  });
  // Not on the first deliveries' clock: one connection per concurrent batch with the write
  // statement prepared on each, and the decode/validate path compiled by the JIT.
  const warmed = await store.warmUp(config.worker.concurrency);
  if (warmed < config.worker.concurrency) log.warn({ warmed, wanted: config.worker.concurrency }, "could not prepare the write statement on every connection (table locked or database busy?): the first batches will");
  warmUpMessagePath(config);
  const worker = new Worker(transport, store, {
    taskName: config.topology.taskName,
    maxMessageBytes: config.maxMessageBytes,
    concurrency: config.worker.concurrency,
    prefetch: config.worker.prefetch,
    batchSize: config.worker.batchSize,
    logIntervalMs: config.worker.logIntervalMs,
    retry: config.retry,
    resultBackend: config.worker.resultBackend,
    log,
    metrics,
    onSettled: options.onSettled,
  });
  started.worker = worker;
  await worker.start();

  let stopPromise: Promise<void> | undefined;
  const w = worker;
  return {
    worker: w,
    metrics,
    ops,
    database,
    stop(graceMs = config.worker.shutdownGraceMs) {
      stopping = true;
      stopPromise ??= (async () => {
        await w.stop(graceMs);
        await ops?.close();
      })();
      return stopPromise;
    },
  };
}
