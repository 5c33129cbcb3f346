/**
 * Publish-to-commit latency at a fixed offered load (default 1,000 matches/s for 30 s).
 *
 * Method: this process publishes with matchflow's own producer (`MatchQueueClient`: contract
 * check, Celery protocol-2 encoding, persistent, publisher confirms) on a fixed schedule (every
 * 5 ms, the matches due so far), noting each match's wall-clock instant just before the publish
 * call. The consumer is either one `matchflow worker` or the Celery prefork worker, which takes
 * the very same messages (they are Celery messages). A deferred constraint trigger on the
 * target table (bench-only, flat-table.ts) writes `clock_timestamp()` per row while the
 * transaction commits: the commit instant. Same machine, same clock: latency = commit - publish,
 * which covers validation + encoding, the broker round trip, the consumer, and the commit.
 */
import { writeFileSync } from "node:fs";
import { MatchQueueClient } from "../../src/broker/publisher.js";
import { loadConfig } from "../../src/config.js";
import type { MatchDataInput } from "../../src/contract/index.js";
import { silentLogger } from "../../src/log.js";
import type { TestVhost } from "../../test/helpers/rabbit.js";
import { startCeleryWorker } from "./celery.js";
import { commitTriggerSql } from "./flat-table.js";
import { startMatchflowWorker, workerQuantiles, type HistogramQuantiles } from "./matchflow.js";
import { stopChild, type Child, type ProcessCost } from "./proc.js";
import { benchDatabase, benchVhost, type BenchDatabase } from "./services.js";
import { checkExactlyOnce, quantiles, waitForRows } from "./stats.js";

export interface LatencyResult {
  name: string;
  offeredPerSecond: number;
  seconds: number;
  matches: number;
  /** What the publisher actually achieved (it can fall behind on a busy machine). */
  achievedPerSecond: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  /** The same without the matches published in the first WARMUP_MS (cold JIT, empty name tables). */
  afterWarmup: { p50Ms: number; p95Ms: number; p99Ms: number; maxMs: number };
  consumer: ProcessCost;
  /** matchflow only: the worker's own view (delivery received -> settled), to split the total. */
  workerSide?: HistogramQuantiles;
}

/** A fresh database resolves every team for the first time in the first second; see docs/performance.md. */
export const WARMUP_MS = 2000;

const nowMs = () => performance.timeOrigin + performance.now();

async function publishAtRate(url: string, matches: MatchDataInput[], perSecond: number): Promise<{ publishedAt: Map<string, number>; seconds: number }> {
  const config = loadConfig({});
  const client = await MatchQueueClient.connect({
    url,
    queueType: config.topology.queueType,
    topology: config.topology,
    retry: config.retry,
    publish: config.publish,
    maxMessageBytes: config.maxMessageBytes,
    log: silentLogger,
  });
  const publishedAt = new Map<string, number>();
  const pending: Promise<unknown>[] = [];
  let failures = 0;
  try {
    const start = nowMs();
    let sent = 0;
    while (sent < matches.length) {
      const due = Math.min(matches.length, Math.floor(((nowMs() - start) * perSecond) / 1000));
      for (; sent < due; sent++) {
        const m = matches[sent]!;
        publishedAt.set(m.external_match_id!, nowMs());
        pending.push(client.submitMatch(m).catch(() => failures++));
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const seconds = (nowMs() - start) / 1000;
    await Promise.all(pending);
    if (failures > 0) throw new Error(`${failures} publishes failed`);
    return { publishedAt, seconds };
  } finally {
    await client.close();
  }
}

async function commitLatencies(db: BenchDatabase, publishedAt: Map<string, number>): Promise<[number, number][]> {
  const { rows } = await db.pool.query<{ id: string; t: string }>(
    "SELECT external_match_id AS id, extract(epoch FROM min(committed_at)) * 1000 AS t FROM bench_commit_times GROUP BY external_match_id",
  );
  const series: [number, number][] = [];
  for (const r of rows) {
    const published = publishedAt.get(r.id);
    if (published !== undefined) series.push([published, Number(r.t) - published]);
  }
  // In publish order: the database returns the groups in any order, and the warm-up cut counts
  // from the first publish.
  series.sort((a, b) => a[0] - b[0]);
  // BENCH_LATENCY_DUMP=<file>: [publish instant, latency] per match, to see when the tail happens.
  if (process.env.BENCH_LATENCY_DUMP) writeFileSync(process.env.BENCH_LATENCY_DUMP, JSON.stringify(series));
  if (series.length !== publishedAt.size) throw new Error(`commit times for ${series.length} of ${publishedAt.size} matches`);
  return series;
}

async function measure(name: string, vhost: TestVhost, db: BenchDatabase, consumer: Child, table: "matches" | "bench_flat_matches", matches: MatchDataInput[], perSecond: number, workerSide?: () => Promise<HistogramQuantiles>): Promise<LatencyResult> {
  const { publishedAt, seconds } = await publishAtRate(vhost.url, matches, perSecond);
  const ids = matches.map((m) => m.external_match_id!);
  await waitForRows(db.pool, table, ids.length, 300_000, () => consumer.output());
  await checkExactlyOnce(db.pool, table, ids);
  const side = await workerSide?.();
  const cost = await stopChild(consumer);
  const series = await commitLatencies(db, publishedAt);
  const q = quantiles(series.map(([, l]) => l));
  const first = series[0]?.[0] ?? 0;
  const warm = quantiles(series.filter(([t]) => t - first >= WARMUP_MS).map(([, l]) => l));
  const afterWarmup = { p50Ms: warm.p50Ms, p95Ms: warm.p95Ms, p99Ms: warm.p99Ms, maxMs: warm.maxMs };
  return { name, offeredPerSecond: perSecond, seconds, matches: ids.length, achievedPerSecond: ids.length / seconds, p50Ms: q.p50Ms, p95Ms: q.p95Ms, p99Ms: q.p99Ms, maxMs: q.maxMs, afterWarmup, consumer: cost, ...(side ? { workerSide: side } : {}) };
}

export async function matchflowLatency(matches: MatchDataInput[], perSecond: number): Promise<LatencyResult> {
  const vhost = await benchVhost("bench_lat_mf");
  const db = await benchDatabase("bench_lat_mf");
  await db.pool.query(commitTriggerSql("matches"));
  const worker = await startMatchflowWorker({ rabbitmqUrl: vhost.url, databaseUrl: db.url });
  return measure("matchflow worker", vhost, db, worker, "matches", matches, perSecond, () => workerQuantiles(worker));
}

export async function celeryLatency(matches: MatchDataInput[], perSecond: number, concurrency: number): Promise<LatencyResult> {
  const vhost = await benchVhost("bench_lat_celery");
  const db = await benchDatabase("bench_lat_celery");
  await db.pool.query(commitTriggerSql("bench_flat_matches"));
  // Celery declares its queue first; matchflow's producer then uses it as it is.
  const worker = await startCeleryWorker(vhost, db.url, concurrency);
  return measure(`Celery 5 prefork -c ${concurrency}`, vhost, db, worker, "bench_flat_matches", matches, perSecond);
}
