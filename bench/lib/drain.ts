/**
 * Draining a pre-published queue (npm run bench:worker): the consumer alone, with the broker
 * already full. The messages are published first with matchflow's producer (Celery protocol 2,
 * persistent, confirmed); the Celery worker takes the very same messages.
 */
import { MatchQueueClient } from "../../src/broker/publisher.js";
import { loadConfig } from "../../src/config.js";
import type { MatchDataInput } from "../../src/contract/index.js";
import { silentLogger } from "../../src/log.js";
import type { TestVhost } from "../../test/helpers/rabbit.js";
import { startCeleryWorker } from "./celery.js";
import { startMatchflowWorker, workerQuantiles } from "./matchflow.js";
import { combinedCost, serviceCpuCounters, stopChild, waitFor, type ProcessCost, type ServiceCpu } from "./proc.js";
import { benchDatabase, benchVhost } from "./services.js";
import { checkExactlyOnce, creationSpan, quantiles, waitForRows } from "./stats.js";

export interface DrainResult {
  name: string;
  matches: number;
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  latencySource: string;
  worker: ProcessCost;
  batches?: number;
  /** CPU seconds of the local services and the machine during the drain (matchflow runs). */
  services?: ServiceCpu;
}

export async function prePublish(vhost: TestVhost, matches: MatchDataInput[]): Promise<number> {
  const config = loadConfig({});
  const client = await MatchQueueClient.connect({
    url: vhost.url,
    queueType: config.topology.queueType,
    topology: config.topology,
    retry: config.retry,
    publish: config.publish,
    maxMessageBytes: config.maxMessageBytes,
    log: silentLogger,
  });
  const t0 = performance.now();
  try {
    const report = await client.submitMatches(matches);
    if (report.submitted.length !== matches.length) throw new Error(`published ${report.submitted.length} of ${matches.length} (${report.invalid.length} invalid, ${report.failed.length} failed)`);
  } finally {
    await client.close();
  }
  const seconds = (performance.now() - t0) / 1000;
  // The management API's counters lag by a few seconds.
  await waitFor(`${matches.length} messages queued`, async () => (await vhost.queue("matches"))?.messages === matches.length, 60_000, undefined, 250);
  return matches.length / seconds;
}

/**
 * `workers` worker processes (default one) drain the pre-published `matches`. They are started
 * at once, with the services' CPU counted from before: the first one ready begins draining while
 * the others start (the window is first row -> last row either way). `worker` is their combined
 * cost (peak RSS of the largest, CPU of all).
 */
export async function drainWithMatchflow(matches: MatchDataInput[], flags: string[] = [], workers = 1): Promise<DrainResult & { publishPerSecond: number }> {
  const vhost = await benchVhost("bench_drain_mf");
  const db = await benchDatabase("bench_drain_mf");
  const publishPerSecond = await prePublish(vhost, matches);
  const services = await serviceCpuCounters(db.pool);
  const running = await Promise.all(Array.from({ length: workers }, () => startMatchflowWorker({ rabbitmqUrl: vhost.url, databaseUrl: db.url }, flags)));
  const ids = matches.map((m) => m.external_match_id!);
  const lastCommit = await waitForRows(db.pool, "matches", ids.length, 300_000, () => running.map((w) => w.output()).join("\n"));
  const serviceCpu = services();
  const span = await creationSpan(db.pool, "matches");
  await checkExactlyOnce(db.pool, "matches", ids);
  const sides = await Promise.all(running.map((w) => workerQuantiles(w)));
  const cost = combinedCost(await Promise.all(running.map((w) => stopChild(w))));
  const seconds = (lastCommit - span.firstMs) / 1000;
  // Latency and batches as the first worker saw them (the only one, unless `workers` > 1).
  const q = sides[0]!;
  return {
    name: `matchflow worker (${workers} process${workers === 1 ? "" : "es"})`,
    matches: ids.length,
    seconds,
    perSecond: ids.length / seconds,
    p50Ms: q.p50Ms,
    p99Ms: q.p99Ms,
    latencySource: "worker histogram matchflow_task_duration_seconds (delivery received -> settled, includes waiting in the prefetch buffer), bucket-interpolated",
    worker: cost,
    batches: sides.reduce((sum, side) => sum + side.batches, 0),
    services: serviceCpu,
    publishPerSecond,
  };
}

export async function drainWithCelery(matches: MatchDataInput[], concurrency: number): Promise<DrainResult> {
  const vhost = await benchVhost("bench_drain_celery");
  const db = await benchDatabase("bench_drain_celery");
  await prePublish(vhost, matches);
  const worker = await startCeleryWorker(vhost, db.url, concurrency);
  const ids = matches.map((m) => m.external_match_id!);
  const lastCommit = await waitForRows(db.pool, "bench_flat_matches", ids.length, 600_000, () => worker.output());
  const span = await creationSpan(db.pool, "bench_flat_matches");
  await checkExactlyOnce(db.pool, "bench_flat_matches", ids);
  const cost = await stopChild(worker);
  const q = quantiles(worker.taskDurations());
  const seconds = (lastCommit - span.firstMs) / 1000;
  return {
    name: `Celery 5 prefork -c ${concurrency}`,
    matches: ids.length,
    seconds,
    perSecond: ids.length / seconds,
    p50Ms: q.p50Ms,
    p99Ms: q.p99Ms,
    latencySource: `task body run time (upsert + commit), measured in the task, ${q.count} samples`,
    worker: cost,
  };
}
