/**
 * `matchflow run` as a newcomer runs it: on the recorded sample, embedded (no RABBITMQ_URL,
 * PGlite) and on the real RabbitMQ and PostgreSQL; and the clear failure when the source is
 * unreachable.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import amqp from "amqplib";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { declareTopology, topologyNames } from "../../src/broker/topology.js";
import { loadConfig } from "../../src/config.js";
import { silentLogger } from "../../src/log.js";
import { runCli, spawnCli, until } from "../helpers/cli.js";
import { startSilentServer } from "../helpers/local-http.js";
import { createTestDatabase, lockMatchesTable, type TestDatabase } from "../helpers/pg.js";
import { createVhost, messageCount, type TestVhost } from "../helpers/rabbit.js";

const SAMPLE = ["--source-dir", "samples/mlsnext", "--season", "2026"];
/** The messages of the JSON log lines on stderr (any other line fails the parse, and the test). */
const logMessages = (stderr: string) => stderr.split("\n").filter(Boolean).map((line) => (JSON.parse(line) as { msg: string }).msg);
/** The sample's missing and unknown time zones are its one feed problem, logged as a warning. */
const SAMPLE_WARNINGS = [expect.stringMatching(/missing or unknown local_timezone/)];
let dir: string;
let vhost: TestVhost;
let db: TestDatabase;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "mf-run-"));
  vhost = await createVhost("run");
  db = await createTestDatabase();
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await vhost?.drop();
  await db?.drop();
});

describe("matchflow run", () => {
  it("runs embedded (in-process broker, PGlite) on the recorded sample; a second run changes nothing", async () => {
    const env = { DATABASE_URL: `pglite://${path.join(dir, "db")}`, RABBITMQ_URL: undefined };
    const first = await runCli(["run", ...SAMPLE], env);
    expect(logMessages(first.stderr)).toEqual(SAMPLE_WARNINGS);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain("in-process broker, pglite database");
    const found = Number(/(\d+) found, (\d+) submitted, 0 invalid, 0 failed/.exec(first.stdout)?.[1]);
    expect(found).toBeGreaterThan(10);
    expect(first.stdout).toContain(`processed: ${found} created, 0 updated, 0 unchanged, 0 dead-lettered in `);
    // Processing and the whole run (with the embedded database's start-up) are told apart.
    const [, processing, whole] = /dead-lettered in (\d+\.\d) s \((\d+\.\d) s with start-up\)/.exec(first.stdout) ?? [];
    expect(Number(processing)).toBeLessThanOrEqual(Number(whole));
    expect(first.stdout).toMatch(/latest results[^\n]*\n\s+date\s+age\s+division\s+home\s+score\s+away\n\s+2026-/);

    const second = await runCli(["run", ...SAMPLE, "--json"], env);
    expect(second.code).toBe(0);
    const report = JSON.parse(second.stdout) as { outcomes: Record<string, number>; pending: number; latest: unknown[]; processingMs: number; elapsedMs: number };
    expect(report.processingMs).toBeGreaterThan(0);
    expect(report.processingMs).toBeLessThan(report.elapsedMs);
    expect(report.outcomes).toEqual({ created: 0, updated: 0, unchanged: found, dead_lettered: 0 });
    expect(report.pending).toBe(0);
    expect(report.latest.length).toBeGreaterThan(0);
  });

  it("uses RabbitMQ and PostgreSQL when their URLs are set", async () => {
    const r = await runCli(["run", ...SAMPLE, "--league", "Academy"], { RABBITMQ_URL: vhost.url, DATABASE_URL: db.url });
    expect(logMessages(r.stderr)).toEqual(SAMPLE_WARNINGS);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("rabbitmq broker, postgres database");
    expect(r.stdout).toMatch(/processed: (\d+) created, 0 updated, 0 unchanged, 0 dead-lettered/);
    // Every message settled before the run reported (exact, over AMQP).
    const conn = await amqp.connect(vhost.url);
    try {
      expect(await messageCount(conn, "matches")).toBe(0);
    } finally {
      await conn.close();
    }
  });

  it("a wait that runs out counts as pending only what is still unsettled once the worker has stopped", async () => {
    // --wait 0: the wait ends at once; the deliveries the worker already holds finish during
    // its stop. Each match is then either an outcome or pending, never both.
    const r = await runCli(["run", ...SAMPLE, "--league", "Homegrown", "--wait", "0", "--json"], { RABBITMQ_URL: vhost.url, DATABASE_URL: db.url });
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const report = JSON.parse(r.stdout) as { outcomes: Record<string, number>; pending: number; submit: { submitted: unknown[] } };
    const settled = Object.values(report.outcomes).reduce((a, b) => a + b, 0);
    expect(report.submit.submitted.length).toBeGreaterThan(10);
    expect(settled + report.pending).toBe(report.submit.submitted.length);
    expect(r.code).toBe(report.pending > 0 || report.outcomes.dead_lettered ? 1 : 0);
    // What is left pending is still queued, not lost.
    const conn = await amqp.connect(vhost.url);
    try {
      const ch = await conn.createChannel();
      expect((await ch.checkQueue("matches")).messageCount).toBe(report.pending);
    } finally {
      await conn.close();
    }
  });

  it("refuses (exit 2, nothing published) a work queue that workers already consume: it waited out --wait and called their matches pending", async () => {
    const conn = await amqp.connect(vhost.url);
    try {
      // The topology a worker would have declared, then a consumer standing in for that worker.
      const config = loadConfig({});
      await declareTopology(conn, topologyNames(config.topology, config.retry), { queueType: "classic", log: silentLogger });
      const ch = await conn.createChannel();
      const before = (await ch.checkQueue("matches")).messageCount;
      const taken: unknown[] = [];
      await ch.consume("matches", (m) => taken.push(m), { noAck: false });
      const r = await runCli(["run", ...SAMPLE, "--league", "Flex", "--wait", "5s"], { RABBITMQ_URL: vhost.url, DATABASE_URL: db.url });
      expect(r.stderr.trim().split("\n")).toEqual([
        "matchflow: work queue matches already has 1 consumer (running workers?): they would store some of this run's matches without this run seeing it. " +
          "To publish for them, use `matchflow scrape` with the same flags; for a run of its own, use another MATCHES_QUEUE or vhost, or stop them",
      ]);
      expect(r.stdout).toBe("");
      expect(r.code).toBe(2);
      await ch.close(); // hands back anything it took (nothing should have come)
      expect(taken).toEqual([]);
      expect((await (await conn.createChannel()).checkQueue("matches")).messageCount).toBe(before);
    } finally {
      await conn.close();
    }
  });

  it("fails with one clear line naming the source (and the offline way) when the source is unreachable", async () => {
    const r = await runCli(["run"], { ASSIST_BASE_URL: "http://127.0.0.1:9", DATABASE_URL: `pglite://${path.join(dir, "db2")}` });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^matchflow: .*127\.0\.0\.1.*\n\(offline\? run on the recorded sample: matchflow run --source-dir samples\/mlsnext --season 2026\)\n$/m);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it("rejects a bad flag value as a usage error", async () => {
    const r = await runCli(["run", "--wait", "soon"], {});
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--wait "soon" is not a duration');
  });
});

/** Until a matchflow session of the database has waited on a lock for over a second (longer than the warm-up's 250 ms try: a batch's write). */
async function writingBatchWaitsOnLock(url: string): Promise<void> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    const waiting = "SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND application_name = 'matchflow' AND clock_timestamp() - query_start > interval '1 second'";
    await until(async () => Number((await admin.query<{ n: string }>(waiting)).rows[0]?.n) > 0, 60_000, "the run's worker writing a batch, waiting on the lock");
  } finally {
    await admin.end();
  }
}

describe("matchflow run stopped while a feed downloads", () => {
  it("Ctrl-C ends the download at once, says nothing was published, exit 130 (it waited out HTTP_TIMEOUT and its retries)", async () => {
    const silent = await startSilentServer();
    try {
      const p = spawnCli(["run", "--season", "2026"], { RABBITMQ_URL: undefined, DATABASE_URL: undefined, ASSIST_BASE_URL: silent.url, HTTP_TIMEOUT: "10m" });
      await until(() => Promise.resolve(silent.connections() > 0), 30_000, "the feed download under way");
      p.kill("SIGINT");
      const { code } = await p.exited;
      expect(code).toBe(130);
      expect(p.stdout()).toBe("stopped by SIGINT while downloading the feed: nothing was published; running it again is harmless\n");
      expect(p.stderr()).not.toMatch(/\n\s+at /);
    } finally {
      await silent.close();
    }
  });
});

describe("matchflow schedule", () => {
  it("Ctrl-C stops publishing and waiting: what the worker holds settles, the database closes, the report is printed, exit 130", async () => {
    // The matches table locked: the run's worker waits on it, so the run is still waiting when the signal comes.
    const migrated = await createTestDatabase({ migrated: true });
    const lock = await lockMatchesTable(migrated.url);
    try {
      const p = spawnCli(["run", ...SAMPLE, "--league", "Homegrown"], { RABBITMQ_URL: undefined, DATABASE_URL: migrated.url, DB_LOCK_TIMEOUT: "60s", SHUTDOWN_GRACE: "20s" });
      await writingBatchWaitsOnLock(migrated.url);
      p.kill("SIGINT");
      await until(() => p.stderr().includes("stopping: matches in flight are confirmed first"), 10_000, "the stop said");
      await lock.release();
      const { code } = await p.exited;
      expect(p.stderr()).not.toMatch(/\n\s+at /);
      expect(code).toBe(130);
      expect(p.stdout()).toMatch(/^matchflow run: in-process broker, postgres database\n/);
      // Stopped while waiting: every match was published; what is not processed yet is said (it said "the rest of the source was not published").
      expect(p.stdout()).toMatch(/\nstopped by SIGINT: every match found was published(; \d+ not processed yet (is|are) gone with the in-process broker)?; running it again is harmless\n$/);
      // Every match published is either stored or said to be pending; the stored ones are in the table.
      const [, submitted] = /\d+ found, (\d+) submitted/.exec(p.stdout()) ?? [];
      const [, created, pending] = /processed: (\d+) created, 0 updated, 0 unchanged, 0 dead-lettered(?:, (\d+) still pending)?/.exec(p.stdout()) ?? [];
      expect(Number(created) + Number(pending ?? 0)).toBe(Number(submitted));
      expect(Number(created)).toBeGreaterThan(0);
    } finally {
      await lock.close();
      await migrated.drop();
    }
  });

  it("Ctrl-C under npm start (the terminal's SIGINT to the group, and npm's forwarded copy) is one stop: the report is printed, exit 130", async () => {
    const child = spawn("npm", ["start", "-s", "--", ...SAMPLE, "--verbose"], {
      cwd: path.resolve(import.meta.dirname, "../.."),
      env: { ...process.env, DATABASE_URL: `pglite://${path.join(dir, "npm-start-db")}`, RABBITMQ_URL: "" },
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("close", (code, signal) => resolve({ code, signal })));
    // Its handlers are installed once it logs (--verbose: its first JSON line on stderr).
    await until(() => stderr.includes('"level"'), 60_000, "the run logging");
    process.kill(-(child.pid as number), "SIGINT");
    // npm itself ends by the signal (or with the script's 130); the script's output is what counts.
    expect([130, "SIGINT"]).toContain((await exited).code ?? (await exited).signal);
    expect(stdout, stderr).toMatch(/^matchflow run: in-process broker, pglite database\n/);
    expect(stdout).toContain("stopped by SIGINT");
  });

  it("SIGTERM during an in-process run stops that run too (it waited up to 30 min for its matches): its report says what is pending, exit 0", async () => {
    const migrated = await createTestDatabase({ migrated: true });
    const lock = await lockMatchesTable(migrated.url);
    try {
      const p = spawnCli(["schedule", "--cron", "0 6 * * *", "--run-now", ...SAMPLE, "--league", "Homegrown"], { RABBITMQ_URL: undefined, DATABASE_URL: migrated.url, DB_LOCK_TIMEOUT: "60s", SHUTDOWN_GRACE: "1s" });
      await p.waitForLog((l) => l.msg === "scheduled run starting", 60_000);
      await writingBatchWaitsOnLock(migrated.url);
      p.kill("SIGTERM");
      // The lock is still held: the run can only stop waiting by being stopped.
      await p.waitForLog((l) => l.msg === "stopped waiting: some matches are not processed yet (the in-process broker keeps nothing: run again to store them)", 30_000);
      await lock.release(); // the report reads the table's latest results
      const report = await p.waitForLog((l) => l.msg === "run report", 30_000);
      expect(report.pending).toBeGreaterThan(0);
      expect(report.stopped).toMatch(/^by a signal/);
      expect((await p.exited).code).toBe(0);
    } finally {
      await lock.release();
      await lock.close();
      await migrated.drop();
    }
  });

  it("publishes on --run-now, keeps waiting for the next tick, and stops cleanly on SIGTERM", async () => {
    const p = spawnCli(["schedule", "--cron", "0 6 * * *", "--run-now", ...SAMPLE, "--league", "Flex"], { RABBITMQ_URL: vhost.url });
    const published = await p.waitForLog((l) => l.msg === "scrape published", 90_000);
    expect(published.submitted).toBeGreaterThan(0);
    expect(published.failed).toBe(0);
    // The run's last line names the tick the schedule now waits for.
    await p.waitForLog((l) => l.msg === "scheduled run done" && typeof l.nextRun === "string" && l.nextRun.endsWith("T06:00:00.000Z"));
    p.kill("SIGTERM");
    expect((await p.exited).code).toBe(0);
  });
});
