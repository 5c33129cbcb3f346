/**
 * npm run bench:scaling (issue 7, "Scaling"): how throughput grows on this machine with worker
 * replicas and with one work queue per league. Every scenario stores the same 50,000 matches:
 * two leagues' seasons (Homegrown and Academy, half each) on the local feed server, scraped by
 * two `matchflow scrape` processes at once (one per league, as one CronJob per league would):
 *
 *   e2e, 1 queue x 1 worker     both scrapes publish to `matches`; one worker (the baseline)
 *   e2e, 1 queue x 2 workers    the same with two worker replicas on the one queue
 *   e2e, 2 queues x 1 worker    each league its own queue (`matches.homegrown`, `matches.academy`:
 *                               the shared exchange, a routing key and dead-letter exchange each,
 *                               docs/operations.md) and a worker each
 *   drain, 1 / 2 workers        the consumer side alone: 50,000 pre-published to `matches`
 *
 * The scenarios run in interleaved rounds (BENCH_RUNS, default 3; this machine's speed drifts):
 * each scenario's ratio is taken to its baseline of the same round, and the median reported.
 * Output: a table on stdout and bench/results/<date>-scaling.json. Each run has its own vhost and
 * database, removed afterwards (also on failure or Ctrl-C); every run is checked: each match once.
 *
 *   npm run bench:scaling
 *   BENCH_MATCHES=20000 BENCH_RUNS=3 BENCH_SKIP_BUILD=1 npm run bench:scaling
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { League, MatchDataInput } from "../src/contract/index.js";
import type { GeneratedFeed } from "./feeds/generate.js";
import { buildDist, machineNote } from "./lib/build.js";
import { drainWithMatchflow } from "./lib/drain.js";
import { benchFeed, matchesFromFeed } from "./lib/matches.js";
import { ROOT } from "./lib/matchflow.js";
import { combinedCost, type ProcessCost, type ServiceCpu } from "./lib/proc.js";
import { cleanupAll, cleanupOnSignals } from "./lib/services.js";
import { fmt, median, table } from "./lib/stats.js";
import { runMatchflowPipeline } from "./lib/throughput.js";

const MATCHES = Number(process.env.BENCH_MATCHES ?? 50_000);
const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 3));
const LEAGUES: League[] = ["Homegrown", "Academy"];
const leagueQueue = (league: League) => `matches.${league.toLowerCase()}`;

interface Scenario {
  name: string;
  /** The scenario whose run of the same round this one is compared with. */
  baseline: string;
  run(): Promise<RunResult>;
}

interface RunResult {
  perSecond: number;
  seconds: number;
  /** All the run's workers, and all its scrapes (none in a drain), as one cost each. */
  workers: ProcessCost;
  scrapes?: ProcessCost;
  services: ServiceCpu;
}

interface Season {
  feeds: GeneratedFeed[];
  matches: MatchDataInput[];
  ids: string[];
}

async function endToEnd(season: Season, layout: { perLeagueQueues: boolean; workersPerQueue: number }): Promise<RunResult> {
  // A league's own queue: its name, a routing key of its own on the shared exchange `matches`.
  const queueEnv = (league: League): Record<string, string> =>
    layout.perLeagueQueues ? { MATCHES_QUEUE: leagueQueue(league), MATCHES_ROUTING_KEY: `${leagueQueue(league)}.process` } : {};
  // One queue: the default settings; per league: each league's queue settings.
  const queueSettings = layout.perLeagueQueues ? LEAGUES.map(queueEnv) : [{}];
  const run = await runMatchflowPipeline(
    "bench_scale",
    {
      feeds: season.feeds,
      scrapes: LEAGUES.map((league) => ({ league, extra: queueEnv(league) })),
      workers: queueSettings.flatMap((extra) => Array.from({ length: layout.workersPerQueue }, () => ({ extra }))),
      otherWorkQueues: layout.perLeagueQueues ? LEAGUES.map(leagueQueue) : [],
    },
    season.ids,
  );
  return {
    perSecond: season.ids.length / run.seconds,
    seconds: run.seconds,
    workers: combinedCost(run.workers.map((w) => w.cost)),
    scrapes: combinedCost(run.scrapes),
    services: run.services,
  };
}

async function drain(season: Season, workers: number): Promise<RunResult> {
  const r = await drainWithMatchflow(season.matches, [], workers);
  return { perSecond: r.perSecond, seconds: r.seconds, workers: r.worker, services: r.services! };
}

const us = (seconds: number | undefined, matches: number) => (seconds === undefined ? "n/a" : fmt((seconds * 1e6) / matches));

async function main(): Promise<void> {
  cleanupOnSignals();
  buildDist();
  const before = await machineNote();
  const half = Math.floor(MATCHES / 2);
  const feeds = LEAGUES.map((league) => benchFeed(half, league));
  const matches = (await Promise.all(feeds.map((feed, i) => matchesFromFeed(feed, LEAGUES[i])))).flat();
  const season: Season = { feeds, matches, ids: matches.map((m) => m.external_match_id!) };
  if (new Set(season.ids).size !== season.ids.length) throw new Error("the two leagues' seasons share match ids");

  const base = "e2e, 1 queue x 1 worker";
  const scenarios: Scenario[] = [
    { name: base, baseline: base, run: () => endToEnd(season, { perLeagueQueues: false, workersPerQueue: 1 }) },
    { name: "e2e, 1 queue x 2 workers", baseline: base, run: () => endToEnd(season, { perLeagueQueues: false, workersPerQueue: 2 }) },
    { name: "e2e, 2 queues (per league) x 1 worker", baseline: base, run: () => endToEnd(season, { perLeagueQueues: true, workersPerQueue: 1 }) },
    { name: "drain, 1 worker", baseline: "drain, 1 worker", run: () => drain(season, 1) },
    { name: "drain, 2 workers", baseline: "drain, 1 worker", run: () => drain(season, 2) },
  ];
  const runs = new Map<string, RunResult[]>(scenarios.map((s) => [s.name, []]));
  for (let round = 0; round < RUNS; round++) {
    for (const s of scenarios) {
      try {
        const r = await s.run();
        runs.get(s.name)!.push(r);
        process.stderr.write(`round ${round + 1}/${RUNS}: ${s.name}: ${fmt(r.perSecond)} matches/s\n`);
      } finally {
        await cleanupAll();
      }
    }
  }
  const after = await machineNote();

  const rows = scenarios.map((s) => {
    const mine = runs.get(s.name)!;
    const ratios = mine.map((r, i) => r.perSecond / runs.get(s.baseline)![i]!.perSecond);
    const mid = [...mine].sort((a, b) => a.perSecond - b.perSecond)[mine.length >> 1]!;
    const busy = (100 * mid.services.machineBusySeconds) / Math.max(1e-9, mid.services.machineTotalSeconds);
    return [
      s.name,
      mine.map((r) => fmt(r.perSecond)).join(" / "),
      s.baseline === s.name ? "1.00" : `${fmt(median(ratios), 2)} (${ratios.map((x) => fmt(x, 2)).join(", ")})`,
      `${us(mid.workers.cpuSeconds, MATCHES)} / ${mid.scrapes ? us(mid.scrapes.cpuSeconds, MATCHES) : "-"} / ${us(mid.services.rabbitmqCpuSeconds, MATCHES)} / ${us(mid.services.postgresCpuSeconds, MATCHES)}`,
      fmt(busy),
      fmt(mid.workers.peakRssMb, 0),
    ];
  });
  console.log(`\nscaling benchmark: ${MATCHES} matches (two leagues, ${half} each), ${RUNS} interleaved rounds; node ${before.node}, ${before.cpus} CPUs, load average ${before.loadAverage.join(" ")} before / ${after.loadAverage.join(" ")} after\n`);
  console.log(table(["scenario", "matches/s (each round)", "x its baseline, median (rounds)", "CPU us a match: workers / scrapes / RabbitMQ / PostgreSQL (median run)", "machine % busy", "worker peak RSS MB"], rows));
  console.log("\nthe e2e scenarios compare with the first (two scrapes, one queue, one worker); the drain with one worker; every run checked: each match exactly once");

  const date = new Date().toISOString().slice(0, 10);
  const dir = join(ROOT, "bench", "results");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${date}-scaling.json`);
  const json = { date: new Date().toISOString(), matches: MATCHES, rounds: RUNS, machine: { before, after }, scenarios: scenarios.map((s) => ({ name: s.name, baseline: s.baseline, runs: runs.get(s.name) })) };
  writeFileSync(file, JSON.stringify(json, null, 2) + "\n");
  console.log(`results: ${file}`);
}

main()
  .catch((err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exitCode = 1;
  })
  .finally(() => cleanupAll());
