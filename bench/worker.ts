/**
 * npm run bench:worker (issue 4, "Speed"): 50,000 valid matches pre-published, drained by ONE
 * `matchflow worker` process (the built CLI, full processing: decode, contract, name
 * resolution, monotonic upsert, commit, ack), next to the Python Celery 5 baseline measured in
 * the same run: a prefork worker at concurrency 2 whose task does a one-row psycopg2 upsert.
 * Both consume the very same messages (matchflow's producer writes Celery protocol 2). The runs
 * alternate (matchflow, Celery, matchflow, ...) and the ratio is the median of each pair's.
 * Each run gets its own vhost and database, removed afterwards (also on failure or Ctrl-C).
 *
 *   npm run bench:worker
 *   BENCH_MATCHES=50000 BENCH_RUNS=3 BENCH_CELERY_MATCHES=20000 BENCH_SKIP_BUILD=1 npm run bench:worker
 *   BENCH_WORKER_FLAGS="--concurrency 2" npm run bench:worker
 */
import { buildDist, machineNote } from "./lib/build.js";
import { drainWithCelery, drainWithMatchflow, type DrainResult } from "./lib/drain.js";
import { benchFeed, matchesFromFeed, renumbered } from "./lib/matches.js";
import { cleanupAll, cleanupOnSignals } from "./lib/services.js";
import { fmt, median, table } from "./lib/stats.js";

const count = Number(process.env.BENCH_MATCHES ?? 50_000);
const runs = Math.max(1, Number(process.env.BENCH_RUNS ?? 3));
const celeryCount = Number(process.env.BENCH_CELERY_MATCHES ?? count);
/** Extra `matchflow worker` flags, e.g. "--concurrency 2" (default: none, the configured defaults). */
const workerFlags = (process.env.BENCH_WORKER_FLAGS ?? "").split(" ").filter(Boolean);
const TARGET_RATIO = 10;
const TARGET_RSS_MB = 150;

async function main(): Promise<void> {
  cleanupOnSignals();
  buildDist();
  const before = await machineNote();
  const base = await matchesFromFeed(benchFeed(count));
  const mf: (DrainResult & { publishPerSecond: number })[] = [];
  const celeryRuns: DrainResult[] = [];
  // Interleaved, each matchflow run followed by a Celery run: this machine's speed drifts within
  // minutes (Celery did 805 to 1,706 tasks/s on the same code within an hour), so a ratio is
  // taken between neighbours.
  for (let i = 0; i < runs; i++) {
    const r = await drainWithMatchflow(renumbered(base, `w${i}`, count), workerFlags);
    mf.push(r);
    await cleanupAll();
    const c = await drainWithCelery(renumbered(base, `c${i}`, celeryCount), 2);
    celeryRuns.push(c);
    await cleanupAll();
    process.stderr.write(`run ${i + 1}/${runs}: matchflow ${fmt(r.perSecond)} matches/s (p99 ${fmt(r.p99Ms, 1)} ms, peak RSS ${fmt(r.worker.peakRssMb, 1)} MB), Celery -c 2 ${fmt(c.perSecond)} tasks/s: ${fmt(r.perSecond / c.perSecond, 1)}x\n`);
  }
  const after = await machineNote();

  const best = [...mf].sort((a, b) => a.perSecond - b.perSecond)[mf.length >> 1]!; // the median run
  const celery = [...celeryRuns].sort((a, b) => a.perSecond - b.perSecond)[celeryRuns.length >> 1]!;
  const rows = [
    [`${best.name}, median of ${runs}`, best.matches, fmt(best.seconds, 2), fmt(best.perSecond), fmt(best.p50Ms, 1), fmt(best.p99Ms, 1), fmt(best.worker.peakRssMb, 1), fmt(best.worker.cpuSeconds, 1)],
    [`${celery.name}, median of ${runs}`, celery.matches, fmt(celery.seconds, 2), fmt(celery.perSecond), fmt(celery.p50Ms, 1), fmt(celery.p99Ms, 1), `${fmt(celery.worker.peakRssMb, 1)} (tree ${fmt(celery.worker.treePeakRssMb, 0)})`, fmt(celery.worker.cpuSeconds, 1)],
  ];
  // The verdict: the median of the neighbours' ratios (each pair ran on the machine in the same state).
  const pairRatios = mf.map((r, i) => r.perSecond / celeryRuns[i]!.perSecond);
  const ratio = median(pairRatios);
  const peakRss = Math.max(...mf.map((r) => r.worker.peakRssMb));
  console.log(`\nworker drain benchmark: ${count} matches pre-published, one consumer process; node ${before.node}, ${before.cpus} CPUs, load average ${before.loadAverage.join(" ")} before / ${after.loadAverage.join(" ")} after\n`);
  console.log(table(["consumer", "matches", "seconds", "matches/s", "p50 ms", "p99 ms", "peak RSS MB", "CPU s"], rows));
  console.log(`\nmatchflow runs (matches/s): ${mf.map((r) => fmt(r.perSecond)).join(", ")}; median ${fmt(median(mf.map((r) => r.perSecond)))}; ${best.batches ?? 0} transactions in the median run`);
  console.log(`Celery -c 2 runs (tasks/s), each right after the matchflow run above it: ${celeryRuns.map((r) => fmt(r.perSecond)).join(", ")}`);
  console.log(`matchflow / Celery -c 2 = ${fmt(ratio, 1)}x, the median of the run pairs' ${pairRatios.map((x) => `${fmt(x, 1)}x`).join(", ")} (ratio of the medians ${fmt(best.perSecond / celery.perSecond, 1)}x; target >= ${TARGET_RATIO}x: ${ratio >= TARGET_RATIO ? "met" : "NOT met"}); worker peak RSS ${fmt(peakRss, 1)} MB in the worst run (target < ${TARGET_RSS_MB} MB: ${peakRss < TARGET_RSS_MB ? "met" : "NOT met"})`);
  const svc = best.services;
  if (svc) {
    const us = (s: number | undefined) => (s === undefined ? "n/a (not local)" : `${fmt((s * 1e6) / best.matches)} us`);
    console.log(`CPU per match in the median drain: worker ${us(best.worker.cpuSeconds)} (incl. start-up), PostgreSQL ${us(svc.postgresCpuSeconds)}, RabbitMQ ${us(svc.rabbitmqCpuSeconds)} (whole services, other clients included); machine ${fmt((100 * svc.machineBusySeconds) / Math.max(1e-9, svc.machineTotalSeconds))}% busy during the drain`);
  }
  console.log(`latency: matchflow = ${best.latencySource}; Celery = ${celery.latencySource}`);
  console.log("every run checked: each match exactly once in the database");
}

main()
  .catch((err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exitCode = 1;
  })
  .finally(() => cleanupAll());
