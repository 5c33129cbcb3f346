/**
 * npm run bench (issue 7): one script, one run, everything side by side.
 *   1. matchflow end to end: a generated season (50,000 matches) on a local feed server ->
 *      `matchflow scrape` (publishing) -> one `matchflow worker` -> PostgreSQL;
 *   2. Celery 5 baseline: `send_task` -> a prefork worker at -c 2 and -c 4, one-row upserts
 *      (BENCH_CELERY_MATCHES, default 20,000: Celery runs at a few hundred per second here and
 *      the whole script must stay under 10 minutes; the rate, not the count, is compared);
 *   3. raw ceiling: minimal amqplib publisher + batch consumer;
 *   4. latency: 1,000 matches/s offered for 30 s, publish-to-commit p50/p95/p99, matchflow and
 *      the faster Celery configuration;
 *   5. resources: peak RSS and CPU seconds of every process.
 * Output: a table on stdout, bench/results/<date>.json, bench/results/<date>.png (and .svg).
 * Every run uses its own vhost and database, removed at the end, on failure or on Ctrl-C.
 * Method and interpretation: docs/performance.md.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildDist, machineNote } from "./lib/build.js";
import { writeChart } from "./lib/chart.js";
import { WARMUP_MS, celeryLatency, matchflowLatency, type LatencyResult } from "./lib/latency.js";
import { benchFeed, matchesFromFeed, renumbered } from "./lib/matches.js";
import { ROOT } from "./lib/matchflow.js";
import { cleanupAll, cleanupOnSignals } from "./lib/services.js";
import { fmt, table } from "./lib/stats.js";
import { celeryEndToEnd, matchflowEndToEnd, rawCeiling, type ThroughputResult } from "./lib/throughput.js";

const MATCHES = Number(process.env.BENCH_MATCHES ?? 50_000);
const CELERY_MATCHES = Number(process.env.BENCH_CELERY_MATCHES ?? 20_000);
const RATE = Number(process.env.BENCH_RATE ?? 1000);
const LATENCY_SECONDS = Number(process.env.BENCH_LATENCY_SECONDS ?? 30);
const BUDGET_MS = 9.5 * 60_000;
const started = Date.now();

/** Runs a phase only if the time budget allows (an estimate in seconds); records skips. */
async function phase<T>(name: string, estimateSeconds: number, skipped: string[], fn: () => Promise<T>): Promise<T | undefined> {
  const left = BUDGET_MS - (Date.now() - started);
  if (left < estimateSeconds * 1000) {
    skipped.push(`${name}: skipped, ${Math.round(left / 1000)} s of the 10-minute budget left, needs ~${estimateSeconds} s`);
    return undefined;
  }
  process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0)} s] ${name} ...\n`);
  try {
    return await fn();
  } finally {
    await cleanupAll();
  }
}

async function main(): Promise<void> {
  cleanupOnSignals();
  // A hard stop well inside 10 minutes, whatever happens: clean up and fail.
  setTimeout(() => {
    console.error("bench: 10-minute limit reached; cleaning up");
    void cleanupAll().finally(() => process.exit(1));
  }, 10 * 60_000 - 15_000).unref();

  buildDist();
  const before = await machineNote();
  const feed = benchFeed(MATCHES);
  const matches = await matchesFromFeed(feed);
  const ids = matches.map((m) => m.external_match_id!);
  const skipped: string[] = [];

  const mf = await phase("matchflow end to end", 60, skipped, () => matchflowEndToEnd(feed, ids));
  const celery: ThroughputResult[] = [];
  for (const c of [2, 4]) {
    const r = await phase(`Celery -c ${c}`, CELERY_MATCHES / 250, skipped, () => celeryEndToEnd(matches.slice(0, CELERY_MATCHES), c));
    if (r) celery.push(r);
  }
  const raw = await phase("raw ceiling", 30, skipped, () => rawCeiling(matches));
  const latencyMatches = renumbered(matches, "lat", RATE * LATENCY_SECONDS);
  const latency: LatencyResult[] = [];
  const mfLat = await phase("latency: matchflow", LATENCY_SECONDS + 20, skipped, () => matchflowLatency(latencyMatches, RATE));
  if (mfLat) latency.push(mfLat);
  const bestCelery = [...celery].sort((a, b) => b.perSecond - a.perSecond)[0];
  const bestC = bestCelery ? Number(/-c (\d+)/.exec(bestCelery.name)?.[1] ?? 4) : 4;
  // Celery drains what it could not keep up with after the 30 s: estimate at its measured rate.
  const celeryDrain = bestCelery ? Math.max(LATENCY_SECONDS, (RATE * LATENCY_SECONDS) / bestCelery.perSecond) : LATENCY_SECONDS * 3;
  const cLat = await phase(`latency: Celery -c ${bestC}`, celeryDrain + 20, skipped, () => celeryLatency(latencyMatches, RATE, bestC));
  if (cLat) latency.push(cLat);
  const after = await machineNote();

  // ---- report ----
  const throughput = [mf, ...celery, raw].filter((r): r is ThroughputResult => r !== undefined);
  console.log(`\nmatchflow benchmark, ${new Date(started).toISOString()}: node ${before.node}, ${before.cpus} CPUs shared by RabbitMQ, PostgreSQL and the benchmark; load average ${before.loadAverage.join(" ")} before, ${after.loadAverage.join(" ")} after\n`);
  console.log(table(
    ["throughput (first row written -> last commit)", "matches", "seconds", "matches/s", "producer start -> last commit s"],
    throughput.map((r) => [r.name, r.matches, fmt(r.seconds, 2), fmt(r.perSecond), fmt(r.producerStartToLastCommit, 2)]),
  ));
  console.log("");
  console.log(table(
    [`latency, ${RATE}/s offered for ${LATENCY_SECONDS} s (publish -> commit)`, "achieved/s", "p50 ms", "p95 ms", "p99 ms", "max ms", `p50/p95/p99 after ${WARMUP_MS / 1000} s`],
    latency.map((l) => [l.name, fmt(l.achievedPerSecond), fmt(l.p50Ms, 1), fmt(l.p95Ms, 1), fmt(l.p99Ms, 1), fmt(l.maxMs, 1), `${fmt(l.afterWarmup.p50Ms, 1)}/${fmt(l.afterWarmup.p95Ms, 1)}/${fmt(l.afterWarmup.p99Ms, 1)}`]),
  ));
  console.log("");
  const resources: (string | number)[][] = [];
  for (const r of throughput) for (const [proc, cost] of Object.entries(r.processes)) resources.push([`${r.name}: ${proc}`, fmt(cost.peakRssMb, 1), fmt(cost.treePeakRssMb, 1), fmt(cost.cpuSeconds, 2), fmt((cost.cpuSeconds * 1e6) / r.matches, 0)]);
  for (const l of latency) resources.push([`latency ${l.name}: consumer`, fmt(l.consumer.peakRssMb, 1), fmt(l.consumer.treePeakRssMb, 1), fmt(l.consumer.cpuSeconds, 2), fmt((l.consumer.cpuSeconds * 1e6) / l.matches, 0)]);
  console.log(table(["resources", "peak RSS MB", "tree RSS MB", "CPU s", "CPU us/match"], resources));

  const targets: { target: string; value: string; met: boolean }[] = [];
  if (mf && bestCelery) targets.push({ target: ">= 10x the better Celery configuration", value: `${fmt(mf.perSecond / bestCelery.perSecond, 1)}x (${bestCelery.name})`, met: mf.perSecond / bestCelery.perSecond >= 10 });
  if (mf && raw) targets.push({ target: ">= 70% of the raw ceiling", value: `${fmt((100 * mf.perSecond) / raw.perSecond, 0)}%`, met: mf.perSecond / raw.perSecond >= 0.7 });
  if (mfLat) {
    targets.push({ target: `p99 < 50 ms at ${RATE}/s, whole run`, value: `${fmt(mfLat.p99Ms, 1)} ms`, met: mfLat.p99Ms < 50 });
    targets.push({ target: `p99 < 50 ms at ${RATE}/s, after the first ${WARMUP_MS / 1000} s`, value: `${fmt(mfLat.afterWarmup.p99Ms, 1)} ms`, met: mfLat.afterWarmup.p99Ms < 50 });
  }
  if (mf) {
    const w = mf.processes["matchflow worker"]!;
    const p = mf.processes["matchflow scrape (publisher)"]!;
    targets.push({ target: "worker peak RSS < 150 MB", value: `${fmt(w.peakRssMb, 1)} MB`, met: w.peakRssMb < 150 });
    targets.push({ target: "publisher peak RSS < 100 MB", value: `${fmt(p.peakRssMb, 1)} MB`, met: p.peakRssMb < 100 });
  }
  console.log("");
  console.log(table(["target (issue 7)", "measured", "met"], targets.map((t) => [t.target, t.value, t.met ? "yes" : "NO"])));
  for (const r of throughput) for (const n of r.notes) console.log(`note: ${r.name}: ${n}`);
  if (mfLat?.workerSide) console.log(`note: latency run, matchflow worker's own share (delivery received -> acked, histogram) p50/p95/p99 ${fmt(mfLat.workerSide.p50Ms, 1)}/${fmt(mfLat.workerSide.p95Ms, 1)}/${fmt(mfLat.workerSide.p99Ms, 1)} ms; the rest is publish + broker`);
  if (mf?.latency) console.log(`note: matchflow worker-side task duration p50/p95/p99 ${fmt(mf.latency.p50Ms, 1)}/${fmt(mf.latency.p95Ms, 1)}/${fmt(mf.latency.p99Ms, 1)} ms (${mf.latency.source})`);
  for (const s of skipped) console.log(`SKIPPED ${s}`);
  console.log(`total bench time ${((Date.now() - started) / 1000).toFixed(0)} s; every run checked: each match exactly once`);

  const dir = join(ROOT, "bench", "results");
  mkdirSync(dir, { recursive: true });
  const date = new Date(started).toISOString().slice(0, 10);
  const result = { date: new Date(started).toISOString(), machine: { before, after }, settings: { matches: MATCHES, celeryMatches: CELERY_MATCHES, rate: RATE, latencySeconds: LATENCY_SECONDS }, throughput, latency, targets, skipped };
  writeFileSync(join(dir, `${date}.json`), `${JSON.stringify(result, null, 2)}\n`);
  const png = writeChart(join(dir, date), {
    title: "matchflow vs Celery 5 vs the raw ceiling (same machine, same run)",
    subtitle: `${before.cpus} CPUs shared with RabbitMQ + PostgreSQL, load average ${before.loadAverage[0]} -> ${after.loadAverage[0]}; ${MATCHES.toLocaleString("en-US")} matches (Celery ${CELERY_MATCHES.toLocaleString("en-US")}); ${new Date(started).toISOString().slice(0, 16)}Z`,
    throughput: throughput.map((r) => ({ label: r.name.replace(/ \(.*\)/, "").replace("Celery 5 prefork", "Celery"), value: r.perSecond, color: r.name.startsWith("matchflow") ? "#1f6feb" : r.name.startsWith("raw") ? "#2da44e" : "#8b949e" })),
    latency: latency.flatMap((l) => {
      const label = l.name.replace("Celery 5 prefork", "Celery").replace(" worker", "");
      const color = l.name.startsWith("matchflow") ? "#1f6feb" : "#8b949e";
      const whole = { label, p50: l.p50Ms, p95: l.p95Ms, p99: l.p99Ms, color };
      if (!l.name.startsWith("matchflow")) return [whole];
      return [whole, { label: `${label}, after ${WARMUP_MS / 1000} s`, p50: l.afterWarmup.p50Ms, p95: l.afterWarmup.p95Ms, p99: l.afterWarmup.p99Ms, color }];
    }),
  });
  console.log(`\nwrote bench/results/${date}.json${png ? ` and ${png.slice(ROOT.length)}` : ""}`);
}

main()
  .catch((err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exitCode = 1;
  })
  .finally(() => cleanupAll());
