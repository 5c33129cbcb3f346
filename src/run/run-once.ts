/**
 * The main job in one process: scrape, publish, process until every published match is
 * settled, report. On RabbitMQ and PostgreSQL when RABBITMQ_URL / DATABASE_URL are set,
 * otherwise on the embedded defaults: an in-process broker and PGlite in ./.matchflow/db.
 */
import { createAmqpWorkTransport } from "../broker/amqp-work-transport.js";
import { MemoryBroker } from "../broker/memory-transport.js";
import { clientOptionsFrom, connectOptionsFrom, MatchQueueClient, type SubmitReport } from "../broker/publisher.js";
import type { Config } from "../config.js";
import { migrate } from "../db/migrate.js";
import { openDatabase } from "../db/open.js";
import { latestResults, type MatchSummary } from "../db/queries.js";
import { ConfigError } from "../errors.js";
import type { Logger } from "../log.js";
import { raceAbort } from "../patience.js";
import { closeQuietly, isNotFound, quietChannel, withBroker } from "../ops/broker-session.js";
import { scrapeStream, type ScrapeOptions, type ScrapeSummary } from "../scraper/scrape.js";
import type { FeedFetcher } from "../sources/http.js";
import { startWorkerApp } from "../worker/app.js";
import type { SettledEvent } from "../worker/worker.js";

export type FinalOutcome = "created" | "updated" | "unchanged" | "dead_lettered";

export interface RunReport {
  mode: { broker: "rabbitmq" | "in-process"; database: "postgres" | "pglite" };
  scrape: ScrapeSummary;
  submit: SubmitReport;
  outcomes: Record<FinalOutcome, number>;
  /**
   * Tasks of the work queue that were not this run's (queued before it: a run stopped earlier,
   * a `scrape` with no worker), settled by its worker too: stored, but not among `outcomes`.
   */
  queuedBefore: Record<FinalOutcome, number>;
  /** Submitted tasks not settled when the wait ran out (0 on a complete run). */
  pending: number;
  latest: MatchSummary[];
  /** The whole run, start-up included (opening and migrating the database, starting the worker). */
  elapsedMs: number;
  /** From the first match submitted to the last one settled (or the wait running out). */
  processingMs: number;
}

export interface RunOnceOptions {
  config: Config;
  log: Logger;
  scrapeOptions: ScrapeOptions;
  fetcher: FeedFetcher;
  /** Give up waiting for processing after this long. */
  waitMs: number;
  latestCount?: number;
  now?: () => Date;
  /**
   * Aborted (Ctrl-C, SIGTERM): no more matches are published and the wait ends; the worker
   * then stops as it does after the wait (what it holds settles within the grace period) and
   * the database is closed, so the report still tells what was done.
   */
  signal?: AbortSignal;
}

/**
 * `items` until `signal` aborts (a sync sequence stays sync: the publisher's fast path). `items`
 * is left open, not closed: the rest is read afterwards, unpublished, for the scrape's summary.
 */
export function* untilAborted<T>(items: Iterable<T>, signal: AbortSignal): Generator<T> {
  const it = items[Symbol.iterator]();
  for (;;) {
    if (signal.aborted) return;
    const next = it.next();
    if (next.done) return;
    yield next.value;
  }
}

export async function runOnce(options: RunOnceOptions): Promise<RunReport> {
  const { config, log } = options;
  const started = Date.now();
  // Read the source first: an unreachable one fails fast, before anything is opened. The
  // matches themselves are produced as the publisher takes them.
  const scraped = await scrapeStream(options.scrapeOptions, { fetcher: options.fetcher, now: options.now ?? (() => new Date()), log });

  if (config.rabbitmqUrl) await refuseSharedQueue(config.rabbitmqUrl, config.topology.queue, log);

  const database = await openDatabase(config.databaseUrl, { log });
  try {
    await migrate(database, { log });
    const embedded = !config.rabbitmqUrl;
    const memory = embedded ? new MemoryBroker({ exchange: config.topology.exchange, routingKey: config.topology.routingKey, queue: config.topology.queue }) : undefined;
    const transport = memory ?? (await createAmqpWorkTransport({ url: config.rabbitmqUrl as string, config, log }));

    const settled = new Map<string, FinalOutcome>();
    let waiting: { ids: Set<string>; resolve: () => void } | undefined;
    const onSettled = (e: SettledEvent) => {
      if (!e.final || !e.taskId || e.outcome === "retried" || e.outcome === "deferred") return;
      settled.set(e.taskId, e.outcome);
      if (waiting?.ids.delete(e.taskId) && waiting.ids.size === 0) waiting.resolve();
    };
    const app = await startWorkerApp({ config, log, transport, database, serveHttp: false, migrate: false, onSettled }).catch(async (err: unknown) => {
      await transport.close(); // ours: a failed start leaves it to us (an open connection keeps the process alive)
      throw err;
    });

    let submit: SubmitReport;
    const processingStarted = Date.now();
    let processingMs = 0;
    let waitRanOut = false;
    try {
      const client = memory
        ? MatchQueueClient.fromSink(memory.asSink(), clientOptionsFrom(config, log))
        : await MatchQueueClient.connect(connectOptionsFrom(config, config.rabbitmqUrl as string, log));
      try {
        submit = await client.submitMatches(options.signal ? untilAborted(scraped.matches, options.signal) : scraped.matches, { checked: scraped.checked });
      } finally {
        await client.close();
      }
      // Stopped: the rest of the source is read (downloaded already), not published, so that the
      // report counts the whole of it.
      if (options.signal?.aborted) for (const unpublished of scraped.matches) void unpublished;
      const ids = new Set(submit.submitted.map((s) => s.taskId).filter((id) => !settled.has(id)));
      if (ids.size > 0) {
        let timer: NodeJS.Timeout | undefined;
        await raceAbort(
          Promise.race([new Promise<void>((resolve) => (waiting = { ids, resolve })), new Promise<void>((resolve) => (timer = setTimeout(resolve, options.waitMs)))]),
          options.signal,
        );
        clearTimeout(timer);
        waitRanOut = ids.size > 0;
      }
      processingMs = Date.now() - processingStarted;
    } finally {
      // Stopping lets the deliveries in flight finish (the grace period): they settle here.
      await app.stop(config.worker.shutdownGraceMs);
    }
    // Counted after the stop, from the same record as the outcomes: a match that settled while
    // the worker stopped is an outcome, not pending (counting before the stop reported both).
    const pending = submit.submitted.filter((s) => !settled.has(s.taskId)).length;
    if (waitRanOut) {
      processingMs = Date.now() - processingStarted;
      const where = embedded ? "the in-process broker keeps nothing: run again to store them" : "they stay queued, or retry later";
      if (pending > 0) log.warn({ pending, waitMs: options.waitMs }, `stopped waiting: some matches are not processed yet (${where})`);
    }

    const outcomes: Record<FinalOutcome, number> = { created: 0, updated: 0, unchanged: 0, dead_lettered: 0 };
    const queuedBefore: Record<FinalOutcome, number> = { created: 0, updated: 0, unchanged: 0, dead_lettered: 0 };
    const ours = new Set(submit.submitted.map((s) => s.taskId));
    // The others are said apart: the database holds more than the report counted, silently.
    for (const [taskId, outcome] of settled) (ours.has(taskId) ? outcomes : queuedBefore)[outcome]++;
    return {
      mode: { broker: embedded ? "in-process" : "rabbitmq", database: database.kind },
      scrape: scraped.summary(),
      submit,
      outcomes,
      queuedBefore,
      pending,
      // This run's matches only: the database may hold other leagues from earlier runs.
      latest: await latestResults(database, options.latestCount ?? 10, { playedOnly: true, externalMatchIds: submit.submitted.map((s) => s.externalMatchId) }),
      elapsedMs: Date.now() - started,
      processingMs,
    };
  } finally {
    await database.close();
  }
}

/**
 * A run reports each match's outcome as its own worker settles it. Workers already consuming
 * the work queue take part of the matches, whose outcomes this process never sees: the run
 * then waited silently for the whole --wait (10 min by default) and reported them "still
 * pending" though they were stored. Refused before anything is opened or published.
 */
async function refuseSharedQueue(url: string, queue: string, log: Logger): Promise<void> {
  const consumers = await withBroker(url, log, async (conn) => {
    const ch = await quietChannel(conn);
    try {
      return (await ch.checkQueue(queue)).consumerCount;
    } catch (err) {
      if (isNotFound(err)) return 0;
      throw err;
    } finally {
      await closeQuietly(ch);
    }
  });
  if (consumers === 0) return;
  throw new ConfigError(
    `work queue ${queue} already has ${consumers} consumer${consumers === 1 ? "" : "s"} (running workers?): they would store some of this run's matches without this run seeing it. ` +
      "To publish for them, use `matchflow scrape` with the same flags; for a run of its own, use another MATCHES_QUEUE or vhost, or stop them",
  );
}
