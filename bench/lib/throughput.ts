/**
 * Throughput scenarios, each in a vhost and database of its own:
 * - matchflow end to end: feed server -> `matchflow scrape` -> RabbitMQ -> one `matchflow worker`;
 * - Celery: `send_task` -> RabbitMQ -> a Celery prefork worker (one-row upsert per task);
 * - raw ceiling: a minimal amqplib publisher and batch consumer (raw-ceiling.ts).
 * The window of "matches/s" is from the first row written (the inserting transaction's `now()`)
 * to the instant polling sees the last row committed; every run is checked: each match once.
 */
import type { MatchDataInput } from "../../src/contract/index.js";
import type { GeneratedFeed } from "../feeds/generate.js";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { celerySendTask, scratchDir, startCeleryWorker } from "./celery.js";
import { ROOT, startFeedServer, startMatchflowWorker, startScrape, workerQuantiles } from "./matchflow.js";
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

export async function matchflowEndToEnd(feed: GeneratedFeed, ids: string[], workerFlags: string[] = []): Promise<ThroughputResult> {
  const vhost = await benchVhost("bench_e2e");
  const db = await benchDatabase("bench_e2e");
  const feedServer = await startFeedServer(feed);
  try {
    const worker = await startMatchflowWorker({ rabbitmqUrl: vhost.url, databaseUrl: db.url }, workerFlags);
    const cpu = await serviceCpuCounters(db.pool);
    const started = Date.now();
    const scrape = startScrape({ rabbitmqUrl: vhost.url, feedUrl: feedServer.url });
    const scrapeExit = scrape.exited.then((code) => {
      if (code !== 0) throw new Error(`matchflow scrape exited with ${code}\n${scrape.output()}`);
    });
    const lastCommit = await Promise.race([
      waitForRows(db.pool, "matches", ids.length, TIMEOUT_MS, () => worker.output()),
      scrapeExit.then(() => new Promise<number>(() => undefined)),
    ]);
    const services = cpu();
    await scrapeExit;
    const span = await creationSpan(db.pool, "matches");
    await checkExactlyOnce(db.pool, "matches", ids);
    const q = await workerQuantiles(worker);
    const workerCost = await stopChild(worker);
    const scrapeCost = scrape.sampler.stop();
    const seconds = (lastCommit - span.firstMs) / 1000;
    return {
      name: "matchflow (scrape -> 1 worker)",
      matches: ids.length,
      seconds,
      perSecond: ids.length / seconds,
      producerStartToLastCommit: (lastCommit - started) / 1000,
      processes: { "matchflow worker": workerCost, "matchflow scrape (publisher)": scrapeCost },
      notes: [`${q.batches} batches, mean ${(ids.length / Math.max(1, q.batches)).toFixed(0)} tasks per transaction`, serviceCpuNote(services, ids.length)],
      latency: { ...q, source: "worker histogram: delivery received -> settled (acked), bucket-interpolated" },
      services,
    };
  } finally {
    await feedServer.close();
  }
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
