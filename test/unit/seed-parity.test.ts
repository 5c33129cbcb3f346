/**
 * What the seed's (docs: "Coming from the seed", docs/operations.md) operators rely on, in
 * matchflow: the worker names the queue it consumes at start-up (the seed's "wrong queue name"
 * check greps the worker log for it), a published match's task id at debug (the seed's scraper
 * printed "Match submitted to queue: <id>" per match), the seed's SUPABASE_* settings said as
 * not read, and Celery's `--loglevel` names.
 */
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { MemoryBroker } from "../../src/broker/memory-transport.js";
import { clientOptionsFrom, MatchQueueClient } from "../../src/broker/publisher.js";
import type { TaskSink } from "../../src/broker/task-sink.js";
import { workerConfigWithFlags } from "../../src/cli/commands/worker.js";
import { parseLogLevelOption } from "../../src/cli/log-level-option.js";
import { brokerAddress } from "../../src/broker/broker-url.js";
import { loadConfig } from "../../src/config.js";
import { seedOnlySettings } from "../../src/config-seed-names.js";
import type { Logger } from "../../src/log.js";
import { createWorkerMetrics } from "../../src/worker/metrics.js";
import { Worker } from "../../src/worker/worker.js";
import { match, route, scriptedStore, TASK } from "../helpers/worker-loop.js";

type Line = Record<string, unknown>;
function capturingLogger(level: string, lines: Line[]): Logger {
  return pino({ level }, { write: (line: string) => void lines.push(JSON.parse(line) as Line) });
}

describe("the seed's operator checks", () => {
  it("the worker's start-up line names the queue, exchange, routing key and task it consumes", async () => {
    const lines: Line[] = [];
    const broker = new MemoryBroker(route);
    const worker = new Worker(broker, scriptedStore([]), {
      taskName: TASK,
      maxMessageBytes: 1_048_576,
      concurrency: 1,
      prefetch: 10,
      batchSize: 5,
      batchBytes: 1_048_576,
      retry: { max: 3, baseDelayMs: 10, maxDelayMs: 40 },
      log: capturingLogger("info", lines),
      logIntervalMs: 60_000,
      metrics: createWorkerMetrics({ defaultMetrics: false }),
      ownRoute: { taskName: TASK, ...route },
    });
    await worker.start();
    await worker.stop(1000);
    const started = lines.find((l) => l.msg === "worker consuming");
    expect(started).toMatchObject({ queue: "matches", exchange: "matches", routingKey: "matches.process", task: "celery_tasks.match_tasks.process_match_data" });
  });

  it("each published match's task id is logged at debug (none at info)", async () => {
    const sink: TaskSink = { publish: () => Promise.resolve(), close: () => Promise.resolve() };
    for (const level of ["info", "debug"]) {
      const lines: Line[] = [];
      const client = MatchQueueClient.fromSink(sink, clientOptionsFrom(loadConfig({}), capturingLogger(level, lines)));
      const report = await client.submitMatches([match(1), match(2)]);
      const said = lines.filter((l) => l.msg === "match submitted to queue");
      if (level === "info") expect(said).toEqual([]);
      else expect(said.map((l) => [l.taskId, l.externalMatchId])).toEqual(report.submitted.map((s) => [s.taskId, s.externalMatchId]));
    }
  });

  it("SUPABASE_URL / SUPABASE_KEY are said as not read (DATABASE_URL is), never with their value", () => {
    const warnings = seedOnlySettings({ SUPABASE_URL: "https://abc.supabase.co", SUPABASE_KEY: "s3cret-key" });
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/^SUPABASE_URL is not read by matchflow and is ignored: .*DATABASE_URL.*\(DATABASE_URL is not set\)$/);
    expect(warnings[1]).toMatch(/^SUPABASE_KEY is not read/);
    expect(warnings.join("")).not.toContain("s3cret");
    expect(seedOnlySettings({ SUPABASE_URL: "https://abc.supabase.co", DATABASE_URL: "postgres://h/db" })[0]).not.toContain("is not set");
    expect(seedOnlySettings({ SUPABASE_URL: " ", NO_COLOR: "1", CELERY_WORKER_CONCURRENCY: "4" })).toEqual([]);
  });

  it("worker --loglevel takes Celery's level names (the seed's `--loglevel=info`), in any case", () => {
    expect(["INFO", "debug", "Warning", "ERROR", "critical", "fatal", "warn"].map(parseLogLevelOption)).toEqual(["info", "debug", "warn", "error", "fatal", "fatal", "warn"]);
    expect(() => parseLogLevelOption("verbose")).toThrow(/--loglevel must be/);
    // The flag wins over LOG_LEVEL, as the worker's other flags win over their settings.
    expect(workerConfigWithFlags(loadConfig({ LOG_LEVEL: "info" }), { loglevel: "debug" }).logLevel).toBe("debug");
    expect(workerConfigWithFlags(loadConfig({ LOG_LEVEL: "warn" }), {}).logLevel).toBe("warn");
  });

  it("the seed's two ConfigMaps, verbatim, load: each setting read under the seed's name, SUPABASE_* only warned about", () => {
    const scraper = { AGE_GROUP: "U14", DIVISION: "Northeast", RABBITMQ_URL: "amqp://admin:admin123@rabbitmq.match-scraper:5672//", LOG_LEVEL: "INFO", NO_COLOR: "1" };
    const worker = { RABBITMQ_URL: scraper.RABBITMQ_URL, CELERY_RESULT_BACKEND: "rpc://", SUPABASE_URL: "https://ppgxasqgqbnauvxozmjw.supabase.co", CELERY_WORKER_CONCURRENCY: "4", LOG_LEVEL: "INFO", SUPABASE_KEY: "your-supabase-service-key-here" };
    const s = loadConfig(scraper);
    expect(s).toMatchObject({ logLevel: "info", scrape: { ageGroup: "U14", division: "Northeast" } });
    expect(brokerAddress(s.rabbitmqUrl ?? "")).toEqual({ hostname: "rabbitmq.match-scraper", port: 5672, virtualHost: "/" });
    const w = loadConfig(worker);
    expect(w.worker).toMatchObject({ concurrency: 4, resultBackend: "rpc" });
    expect(loadConfig({ ...worker, CELERY_WORKER_CONCURRENCY: "2" }).worker.concurrency).toBe(2);
    expect(seedOnlySettings(worker).map((line) => line.split(" ")[0])).toEqual(["SUPABASE_URL", "SUPABASE_KEY"]);
  });
});
