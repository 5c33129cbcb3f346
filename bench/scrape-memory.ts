/**
 * Publisher memory and CPU, measured on the built CLI: a generated season (50,000 matches by
 * default, the schedule document ~37.5 MB) served over local HTTP, then
 *   1. `matchflow scrape` publishing into a scratch RabbitMQ vhost, as the CronJob runs it (its
 *      node flags and confirm window, bench/lib/deployed.ts), and with neither;
 *   2. `matchflow scrape --no-submit --format ndjson > file` (a dry run);
 *   3. `matchflow publish --file <that NDJSON>` into a scratch vhost, with and without the flags.
 * Each child's peak RSS (VmHWM) and CPU seconds come from /proc (bench/lib/proc.ts); every
 * publishing run is checked: the queue holds exactly the season's matches.
 * Not a timed test: a script to read, next to docs/performance.md ("What bounds each figure": publisher memory).
 *   npm run bench:scrape-memory                 # BENCH_MATCHES=10000 for a smaller season
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildDist, machineNote } from "./lib/build.js";
import { DEPLOYED_SCRAPER_CONFIRM_WINDOW, DEPLOYED_SCRAPER_MALLOC_ARENA_MAX, DEPLOYED_SCRAPER_NODE_ARGS } from "./lib/deployed.js";
import { benchFeed, SEASON_FIRST_YEAR } from "./lib/matches.js";
import { ROOT, startFeedServer } from "./lib/matchflow.js";
import { startChild, waitFor, type ProcessCost } from "./lib/proc.js";
import { benchVhost, cleanupAll, cleanupOnSignals } from "./lib/services.js";

const MATCHES = Number(process.env.BENCH_MATCHES ?? 50_000);
const TARGET_MB = 100;
const CLI = "dist/cli/main.js";

interface Row {
  name: string;
  cost: ProcessCost;
  seconds: number;
}

/** The CronJob's way: its node flags, malloc arenas and confirm window. */
const DEPLOYED = {
  nodeArgs: DEPLOYED_SCRAPER_NODE_ARGS.split(" "),
  env: { PUBLISH_CONFIRM_WINDOW: DEPLOYED_SCRAPER_CONFIRM_WINDOW, MALLOC_ARENA_MAX: DEPLOYED_SCRAPER_MALLOC_ARENA_MAX },
};
const PLAIN = { nodeArgs: [] as string[], env: {} };

/** Runs the CLI (through `sh -c 'exec ...'` when stdout goes to a file) and returns what it cost. */
async function runCli(name: string, how: typeof PLAIN, args: string[], env: Record<string, string>, stdoutFile?: string): Promise<Row> {
  const full = [...how.nodeArgs, CLI, ...args];
  const quoted = [process.execPath, ...full].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  const [command, argv] = stdoutFile ? ["/bin/sh", ["-c", `exec ${quoted} > '${stdoutFile}'`]] : [process.execPath, full];
  const started = performance.now();
  const child = startChild(command, argv, { cwd: ROOT, env: { ...process.env, LOG_LEVEL: "warn", NODE_ENV: "production", ...how.env, ...env } });
  const code = await child.exited;
  const seconds = (performance.now() - started) / 1000;
  const cost = child.sampler.stop();
  if (code !== 0) throw new Error(`${name} exited with ${code}\n${child.output()}`);
  return { name, cost, seconds };
}

async function expectQueued(vhost: Awaited<ReturnType<typeof benchVhost>>, what: string): Promise<void> {
  // The management API's counts lag a few seconds behind the broker.
  await waitFor(`${MATCHES} messages in the queue after ${what}`, async () => (await vhost.queue("matches"))?.messages === MATCHES, 30_000, undefined, 500);
}

async function main(): Promise<void> {
  cleanupOnSignals();
  buildDist();
  const feed = benchFeed(MATCHES);
  const scheduleMb = Buffer.byteLength(JSON.stringify(feed.schedule)) / 1024 / 1024;
  const server = await startFeedServer(feed);
  const dir = mkdtempSync(join(tmpdir(), "matchflow-scrape-memory-"));
  const scrapeArgs = ["scrape", "--league", "Homegrown", "--season", String(SEASON_FIRST_YEAR)];
  const feedEnv = { ASSIST_BASE_URL: server.url, SCRAPE_SOURCE: "assist" };
  const rows: Row[] = [];
  try {
    for (const [label, how] of [["as deployed", DEPLOYED], ["no node flags, window 1000", PLAIN]] as const) {
      const v = await benchVhost("bench_scrape_mem");
      rows.push(await runCli(`scrape, publishing: ${label}`, how, [...scrapeArgs, "--quiet"], { ...feedEnv, RABBITMQ_URL: v.url }));
      await expectQueued(v, "scrape");
    }

    const ndjson = join(dir, "season.ndjson");
    rows.push(await runCli("scrape --no-submit --format ndjson", PLAIN, [...scrapeArgs, "--no-submit", "--format", "ndjson", "--quiet"], feedEnv, ndjson));

    for (const [label, how] of [["scraper's flags", DEPLOYED], ["no node flags, window 1000", PLAIN]] as const) {
      const v = await benchVhost("bench_publish_mem");
      rows.push(await runCli(`publish --file NDJSON: ${label}`, how, ["publish", "--file", ndjson], { RABBITMQ_URL: v.url }));
      await expectQueued(v, "publish");
    }
    const ndjsonMb = statSync(ndjson).size / 1024 / 1024;

    const note = await machineNote();
    console.log(`\npublisher memory, ${new Date().toISOString()}: node ${note.node}, ${note.cpus} CPUs, load average ${note.loadAverage.join(" ")}`);
    console.log(`${MATCHES} matches; schedule document ${scheduleMb.toFixed(1)} MB; NDJSON ${ndjsonMb.toFixed(1)} MB\n`);
    const header = ["run", "peak RSS MB", "CPU s", "CPU us/match", "wall s"];
    const body = rows.map((r) => [r.name, r.cost.peakRssMb.toFixed(1), r.cost.cpuSeconds.toFixed(2), ((r.cost.cpuSeconds * 1e6) / MATCHES).toFixed(0), r.seconds.toFixed(2)]);
    const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
    for (const line of [header, widths.map((w) => "-".repeat(w)), ...body]) console.log(line.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  "));
    const publisher = rows[0]!.cost.peakRssMb;
    console.log(`\ntarget: scrape (publishing, as deployed) peak RSS < ${TARGET_MB} MB: ${publisher < TARGET_MB ? "met" : "NOT met"} (${publisher.toFixed(1)} MB)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await server.close();
  }
}

main()
  .catch((err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exitCode = 1;
  })
  .finally(() => cleanupAll());
