import type { Command } from "commander";
import { createAmqpWorkTransport } from "../../broker/amqp-work-transport.js";
import { defaultPrefetch, defaultRoutingKey, loadConfig, type Config } from "../../config.js";
import { ConfigError } from "../../errors.js";
import { startWorkerApp, type WorkerApp } from "../../worker/app.js";
import { cliContext } from "../context.js";
import { SignalCount } from "../interrupt.js";
import { EXIT } from "../exit-codes.js";
import { parseIntOption } from "../options.js";
import { parseLogLevelOption } from "../log-level-option.js";
import type { Logger } from "../../log.js";

export interface WorkerFlags {
  concurrency?: number;
  prefetch?: number;
  batchSize?: number;
  queues?: string;
  metricsPort?: number;
  loglevel?: Config["logLevel"];
}

/** The configuration with the command line's flags applied (flags win over the environment). */
export function workerConfigWithFlags(config: Config, flags: WorkerFlags): Config {
  const worker = { ...config.worker };
  if (flags.concurrency !== undefined) worker.concurrency = flags.concurrency;
  if (flags.batchSize !== undefined) worker.batchSize = flags.batchSize;
  if (flags.prefetch !== undefined) worker.prefetch = flags.prefetch;
  // Recomputed for the flags' shape only when WORKER_PREFETCH did not set it: that is a memory bound.
  else if (!worker.prefetchFromEnv && (flags.concurrency !== undefined || flags.batchSize !== undefined)) worker.prefetch = defaultPrefetch(worker.concurrency, worker.batchSize);
  const topology = { ...config.topology };
  if (flags.queues !== undefined) {
    const queues = flags.queues.split(",").map((q) => q.trim()).filter(Boolean);
    if (queues.length !== 1) throw new ConfigError(`--queues takes one queue name (got ${JSON.stringify(flags.queues)}); run one worker process per queue`);
    // The routing key follows the queue unless MATCHES_ROUTING_KEY named another: a queue of its
    // own, not a copy of every match sent to the shared key (a mistyped -Q filled one for ever).
    if (topology.routingKey === defaultRoutingKey(topology.queue)) topology.routingKey = defaultRoutingKey(queues[0] as string);
    topology.queue = queues[0] as string;
  }
  return { ...config, worker, topology, metricsPort: flags.metricsPort ?? config.metricsPort, logLevel: flags.loglevel ?? config.logLevel };
}

export function registerWorker(program: Command): void {
  // The defaults the help names come from the config module (an empty environment), not copies.
  const defaults = loadConfig({});
  program
    .command("worker")
    .description("consume match tasks from RabbitMQ and upsert them into the database; waits for either service that is not up yet (Ctrl-C / SIGTERM stops gracefully)")
    .option("-c, --concurrency <n>", `transactions processed at once (default WORKER_CONCURRENCY or ${defaults.worker.concurrency})`, parseIntOption("--concurrency", 1, 256))
    .option("--prefetch <n>", "deliveries held unacked at most (bounds memory; default WORKER_PREFETCH, else concurrency x batch size, at least 2 x batch size, at most 65535)", parseIntOption("--prefetch", 1, 65535))
    .option("--batch-size <n>", `tasks per transaction at most (default WORKER_BATCH_SIZE or ${defaults.worker.batchSize})`, parseIntOption("--batch-size", 1, 5000))
    .option("-Q, --queues <name>", `the work queue to consume (default MATCHES_QUEUE or ${defaults.topology.queue}); bound with the routing key <queue>.process unless MATCHES_ROUTING_KEY names another`)
    .option("--metrics-port <port>", `HTTP port for /metrics, /healthz, /readyz (default METRICS_PORT or ${defaults.metricsPort}; 0 = any free port)`, parseIntOption("--metrics-port", 0, 65535))
    .option("-l, --loglevel <level>", "log level, as Celery's worker takes it: debug, info, warning, error, critical (default LOG_LEVEL or info)", parseLogLevelOption)
    .action(async (flags: WorkerFlags) => {
      const ctx = cliContext({ service: true });
      const config = workerConfigWithFlags(ctx.config, flags);
      const { log } = ctx;
      log.level = config.logLevel;
      if (!config.rabbitmqUrl) throw new ConfigError("RABBITMQ_URL is not set: the worker consumes from RabbitMQ (e.g. amqp://user:pass@host:5672//); `matchflow run` works without it");
      // No silent embedded default for a service: a missing Secret key would otherwise have every
      // match acked into a PGlite directory inside the container. Embedded stays possible, asked for.
      if (!config.databaseUrl) throw new ConfigError("DATABASE_URL is not set: the worker writes to PostgreSQL (e.g. postgresql://user@host:5432/matchflow); for the embedded single-process database say so: DATABASE_URL=pglite://./.matchflow/db");
      const rabbitmqUrl = config.rabbitmqUrl;
      const stop = stopOnSignals(config, log);
      let app: WorkerApp;
      try {
        app = await startWorkerApp({
          config,
          log,
          transport: (giveUp) => createAmqpWorkTransport({ url: rabbitmqUrl, config, log, waitUntil: giveUp }),
          startUp: stop.startUp,
        });
      } catch (err) {
        if (!stop.startUp.aborted) throw err;
        log.info("worker stopped before it started");
        log.flush();
        return;
      }
      stop.started(app);
      await stop.done;
      log.flush();
      // Stopped: anything still holding the process open is work abandoned after the grace
      // period (a statement waiting on a lock: not acked, redone after redelivery). Normally the
      // process has exited by itself long before this fires.
      setTimeout(() => process.exit(), 1_000).unref();
    });
}

/**
 * SIGTERM/SIGINT, handled from the start: while the worker waits for the broker or the database
 * nothing is in flight, and a stop then is clean (exit 0). First signal: graceful stop within
 * SHUTDOWN_GRACE (a start-up still running sees `startUp` abort; one in a step that cannot be
 * interrupted is stopped as soon as it returns). Second: exit at once (nothing is lost: unacked
 * deliveries go back to the queue when the connection drops).
 */
function stopOnSignals(config: Config, log: Logger): { startUp: AbortSignal; started(app: WorkerApp): void; done: Promise<void> } {
  const startUp = new AbortController();
  let app: WorkerApp | undefined;
  const signals = new SignalCount();
  let first = true;
  let stopped!: () => void;
  const done = new Promise<void>((resolve) => (stopped = resolve));
  const stopGracefully = (running: WorkerApp) => {
    // A process that will not exit after the grace period is forced out.
    setTimeout(() => process.exit(EXIT.internal), config.worker.shutdownGraceMs + 10_000).unref();
    running.stop().then(stopped, (err: unknown) => {
      log.error({ err: String(err) }, "error while stopping");
      stopped();
    });
  };
  const onSignal = (signal: NodeJS.Signals) => {
    const count = signals.received(signal);
    if (count === 1) {
      if (!first) return; // the first one, delivered again (npm forwards it)
      first = false;
      log.info({ signal }, app ? "stopping gracefully (send again to exit at once)" : "stopping before the worker has started (send again to exit at once)");
      startUp.abort();
      if (app) stopGracefully(app);
    } else {
      log.warn({ signal }, "second signal: exiting now; unacked deliveries return to the queue");
      // Closing politely is bounded to one second: "at once" must hold even with a dead broker.
      const atMostOneSecond = new Promise((resolve) => setTimeout(resolve, 1000).unref());
      void Promise.race([app?.worker.forceStop(), atMostOneSecond]).finally(() => process.exit(EXIT.secondSignal));
    }
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  return {
    startUp: startUp.signal,
    started(running) {
      app = running;
      if (startUp.signal.aborted) stopGracefully(running);
    },
    done,
  };
}
