/**
 * Throughput scenarios, each in a vhost and database of its own:
 * - matchflow end to end: feed server -> `matchflow scrape` -> RabbitMQ -> one `matchflow worker`;
 * - Celery: `send_task` -> RabbitMQ -> a Celery prefork worker (one-row upsert per task);
 * - raw ceiling: a minimal amqplib publisher and batch consumer (raw-ceiling.ts).
 * The window of "matches/s" is from the first row written (the inserting transaction's `now()`)
 * to the instant polling sees the last row committed; every run is checked: each match once.
 */
import type { League, MatchDataInput } from "../../src/contract/index.js";
import type { GeneratedFeed } from "../feeds/generate.js";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { celerySendTask, scratchDir, startCeleryWorker } from "./celery.js";
import { ROOT, startFeedServer, startMatchflowWorker, startScrape, workerQuantiles, type WorkerProcess, type WorkerSide } from "./matchflow.js";
import { serviceCpuCounters, serviceCpuNote, startChild, stopChild, waitFor, type ProcessCost, type ServiceCpu } from "./proc.js";
import { benchDatabase, benchVhost } from "./services.js";
import { checkExactlyOnce, creationSpan, waitForRows } from "./stats.js";

export interface ThroughputResult {
  name: string;
  matches: number;
  /** First row written -> last row committed, seconds. */
  seconds: number;
  perSecond: number;
  /** From starting the producer (process start, fetch, parse...) to the last commit, seconds. */
  producerStartToLastCommit: number;
  processes: Record<string, ProcessCost>;
  notes: string[];
  latency?: { p50Ms: number; p95Ms: number; p99Ms: number; source: string };
  /** CPU of the local RabbitMQ and PostgreSQL and of the machine, from producer start to last commit. */
  services: ServiceCpu;
}

const TIMEOUT_MS = 240_000;

/** What runs in a matchflow pipeline: feeds served, scrapes started at once, workers (each with its settings). */
export interface PipelineLayout {
  feeds: GeneratedFeed[];
  /** One `matchflow scrape` per entry; `extra`: more settings (e.g. a league's own queue). */
  scrapes: { league: League; extra?: Record<string, string> }[];
  /** One `matchflow worker` per entry. */
  workers: { extra?: Record<string, string>; flags?: string[] }[];
  /** Work queues besides `matches` that get the deployed work-queue policy (one per league). */
  otherWorkQueues?: string[];
}

export interface PipelineRun {
  seconds: number;
  producerStartToLastCommit: number;
  /** Per worker, in layout order: its cost and its own view (from /metrics, read before stopping). */
  workers: { cost: ProcessCost; side: WorkerSide }[];
  scrapes: ProcessCost[];
  services: ServiceCpu;
}

/**
 * Feed server -> `matchflow scrape` processes -> RabbitMQ -> `matchflow worker` processes ->
 * PostgreSQL, in a vhost and database of their own; checked: each of `ids` stored exactly once.
 */
export async function runMatchflowPipeline(prefix: string, layout: PipelineLayout, ids: string[]): Promise<PipelineRun> {
  const vhost = await benchVhost(prefix, layout.otherWorkQueues);
  const db = await benchDatabase(prefix);
  const feedServer = await startFeedServer(layout.feeds);
  try {
    const workers: WorkerProcess[] = [];
    for (const w of layout.workers) workers.push(await startMatchflowWorker({ rabbitmqUrl: vhost.url, databaseUrl: db.url, extra: w.extra }, w.flags));
    const cpu = await serviceCpuCounters(db.pool);
    const started = Date.now();
    const scrapes = layout.scrapes.map((s) => startScrape({ rabbitmqUrl: vhost.url, feedUrl: feedServer.url, league: s.league, extra: s.extra }));
    const scrapesExit = Promise.all(
      scrapes.map((scrape, i) =>
        scrape.exited.then((code) => {
          if (code !== 0) throw new Error(`matchflow scrape --league ${layout.scrapes[i]?.league} exited with ${code}\n${scrape.output()}`);
        }),
      ),
    );
    const lastCommit = await Promise.race([
      waitForRows(db.pool, "matches", ids.length, TIMEOUT_MS, () => workers.map((w) => w.output()).join("\n")),
      scrapesExit.then(() => new Promise<number>(() => undefined)),
    ]);
    const services = cpu();
    await scrapesExit;
    const span = await creationSpan(db.pool, "matches");
    await checkExactlyOnce(db.pool, "matches", ids);
    const sides = await Promise.all(workers.map((w) => workerQuantiles(w)));
    const costs = await Promise.all(workers.map((w) => stopChild(w)));
    return {
      seconds: (lastCommit - span.firstMs) / 1000,
      producerStartToLastCommit: (lastCommit - started) / 1000,
      workers: costs.map((cost, i) => ({ cost, side: sides[i]! })),
      scrapes: scrapes.map((s) => s.sampler.stop()),
      services,
    };
  } finally {
    await feedServer.close();
  }
}

export async function matchflowEndToEnd(feed: GeneratedFeed, ids: string[], workerFlags: string[] = []): Promise<ThroughputResult> {
  const run = await runMatchflowPipeline("bench_e2e", { feeds: [feed], scrapes: [{ league: "Homegrown" }], workers: [{ flags: workerFlags }] }, ids);
  const worker = run.workers[0]!;
  const q = worker.side;
  return {
    name: "matchflow (scrape -> 1 worker)",
    matches: ids.length,
    seconds: run.seconds,
    perSecond: ids.length / run.seconds,
    producerStartToLastCommit: run.producerStartToLastCommit,
    processes: { "matchflow worker": worker.cost, "matchflow scrape (publisher)": run.scrapes[0]! },
    notes: [`${q.batches} batches, mean ${(ids.length / Math.max(1, q.batches)).toFixed(0)} tasks per transaction`, serviceCpuNote(run.services, ids.length)],
    latency: { ...q, source: "worker histogram: delivery received -> settled (acked), bucket-interpolated" },
    services: run.services,
  };
}

export async function celeryEndToEnd(matches: MatchDataInput[], concurrency: number): Promise<ThroughputResult> {
  const vhost = await benchVhost(`bench_celery${concurrency}`);
  const db = await benchDatabase(`bench_celery${concurrency}`);
  const ids = matches.map((m) => m.external_match_id!);
  const worker = await startCeleryWorker(vhost, db.url, concurrency);
  const cpu = await serviceCpuCounters(db.pool);
  const started = Date.now();
  const sending = celerySendTask(vhost, matches);
  const lastCommit = await waitForRows(db.pool, "bench_flat_matches", ids.length, TIMEOUT_MS, () => worker.output());
  const services = cpu();
  const sent = await sending;
  const span = await creationSpan(db.pool, "bench_flat_matches");
  await checkExactlyOnce(db.pool, "bench_flat_matches", ids);
  const workerCost = await stopChild(worker);
  const seconds = (lastCommit - span.firstMs) / 1000;
  return {
    name: `Celery 5 prefork -c ${concurrency}`,
    matches: ids.length,
    seconds,
    perSecond: ids.length / seconds,
    producerStartToLastCommit: (lastCommit - started) / 1000,
    processes: { [`celery worker -c ${concurrency} (all processes)`]: workerCost, "celery send_task (publisher)": sent.child.sampler.stop() },
    notes: [
      `send_task: ${(ids.length / ((sent.lastMs - sent.firstMs) / 1000)).toFixed(0)} publishes/s`,
      `first publish -> last commit ${((lastCommit - sent.firstMs) / 1000).toFixed(2)} s`,
      serviceCpuNote(services, ids.length),
    ],
    services,
  };
}

export async function rawCeiling(matches: MatchDataInput[]): Promise<ThroughputResult> {
  const vhost = await benchVhost("bench_raw");
  const db = await benchDatabase("bench_raw");
  const ids = matches.map((m) => m.external_match_id!);
  const file = join(scratchDir("mf-bench-raw-"), "matches.ndjson");
  writeFileSync(file, matches.map((m) => JSON.stringify(m)).join("\n") + "\n");
  const script = ["--import", "tsx", "bench/lib/raw-ceiling.ts"];
  const consumer = startChild(process.execPath, [...script, "consume", vhost.url, db.url], { cwd: ROOT, env: process.env });
  let consuming = false;
  consumer.onLine((line) => {
    if (line === "consuming") consuming = true;
  });
  await waitFor("the raw consumer", () => consuming || consumer.child.exitCode !== null, 60_000, () => consumer.output());
  const cpu = await serviceCpuCounters(db.pool);
  const started = Date.now();
  const publisher = startChild(process.execPath, [...script, "publish", vhost.url, file], { cwd: ROOT, env: process.env });
  const lastCommit = await waitForRows(db.pool, "bench_flat_matches", ids.length, TIMEOUT_MS, () => `${consumer.output()}\n${publisher.output()}`);
  const services = cpu();
  const code = await publisher.exited;
  if (code !== 0) throw new Error(`raw publisher exited with ${code}\n${publisher.output()}`);
  const span = await creationSpan(db.pool, "bench_flat_matches");
  await checkExactlyOnce(db.pool, "bench_flat_matches", ids);
  const consumerCost = await stopChild(consumer);
  const seconds = (lastCommit - span.firstMs) / 1000;
  return {
    name: "raw ceiling (amqplib, batch 500)",
    matches: ids.length,
    seconds,
    perSecond: ids.length / seconds,
    producerStartToLastCommit: (lastCommit - started) / 1000,
    processes: { "raw consumer": consumerCost, "raw publisher": publisher.sampler.stop() },
    notes: ["no validation, no name resolution, flat table, pre-serialised bodies", serviceCpuNote(services, ids.length)],
    services,
  };
}
