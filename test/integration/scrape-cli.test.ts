/**
 * `matchflow scrape` as a child process (the real CLI) against a real local feed server and,
 * for publishing, a real RabbitMQ vhost.
 */
import { execFile, spawn } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MatchDataInput } from "../../src/contract/index.js";
import { spawnCli, until } from "../helpers/cli.js";
import { startSilentServer } from "../helpers/local-http.js";
import { createVhost, messageCount, type TestVhost } from "../helpers/rabbit.js";
import { bracket, rawEvent, scheduleDoc, standingsDoc } from "../fixtures/assist-builders.js";
import { closedPort, startFeedServer, type FeedServer } from "../fixtures/feed-server.js";

const ROOT = new URL("../..", import.meta.url).pathname;
const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(`../fixtures/mlsnext-assist/${name}`, import.meta.url), "utf8"));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function matchflow(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(RABBITMQ_|DATABASE_URL|LOG_LEVEL|ASSIST_|LEAGUE|AGE_GROUP|DIVISION|MATCHES_)/.test(k)));
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "src/cli/main.ts", "scrape", ...args],
      { cwd: ROOT, env: { ...clean, LOG_LEVEL: "warn", ...env }, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

/** Temporary directories of this file, removed after it. */
const dirs: string[] = [];
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Messages in `url`'s work queue, exact (the CLI exits only once the broker confirmed them). */
async function queued(url: string): Promise<number> {
  const conn = await connect(url);
  try {
    return await messageCount(conn, "matches");
  } finally {
    await conn.close();
  }
}

/** A writable copy of samples/mlsnext (tests corrupt their copy). */
function copySample(): string {
  const dir = tempDir("scrape-sample-");
  cpSync(join(ROOT, "samples/mlsnext"), dir, { recursive: true });
  return dir;
}

/** The CLI with its stdout's reader gone before it writes anything (`| head -0`): every write meets EPIPE. */
function matchflowStdoutClosed(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "scrape", ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout.destroy();
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code: code ?? -1, stdout: "", stderr })));
}

let server: FeedServer;
let base: Record<string, string>;
beforeAll(async () => {
  server = await startFeedServer({
    "/data/schedule/mls-next-league-26-27.json": fixture("schedule-league-26-27.json"),
    "/data/standings/mls-next-league-26-27.json": fixture("standings-league-26-27.json"),
  });
  base = { ASSIST_BASE_URL: server.url };
});
afterAll(async () => {
  await server.close();
});

describe("matchflow scrape (dry run)", () => {
  it("--no-submit --format json prints the matches and metadata; the summary goes to stderr", async () => {
    const run = await matchflow(["--season", "2026", "--no-submit", "--format", "json"], base);
    expect(run.code).toBe(0);
    const doc = JSON.parse(run.stdout) as { metadata: { season: string; league: string; counts: { matches: number } }; matches: MatchDataInput[] };
    expect(doc.metadata).toMatchObject({ season: "2026-27", league: "Homegrown", counts: { matches: 4 } });
    expect(doc.matches.map((m) => m.external_match_id).sort()).toEqual(["26029", "26030", "26099", "27001"]);
    expect(run.stderr).toContain("4 found, 0 submitted, 0 invalid, 0 failed (dry run: nothing published)");
  });

  it("--save writes {metadata, matches}; age group, conference and date filters apply", async () => {
    const file = join(tempDir("scrape-"), "out.json");
    const run = await matchflow(["--season", "2026", "--no-submit", "--format", "ndjson", "--age-group", "U14", "--conference", "florida", "--from", "2026-09-01", "--to", "2026-09-30", "--save", file], base);
    expect(run.code).toBe(0);
    expect(run.stdout.trim().split("\n").map((l) => (JSON.parse(l) as MatchDataInput).external_match_id)).toEqual(["26030"]);
    const saved = JSON.parse(readFileSync(file, "utf8")) as { metadata: Record<string, unknown>; matches: MatchDataInput[] };
    expect(saved.metadata).toMatchObject({ league: "Homegrown", age_groups: ["U14"], division: "florida", season: "2026-27", window: { from: "2026-09-01", to: "2026-09-30" }, source: "assist" });
    expect(saved.metadata.scraped_at).toEqual(expect.any(String));
    expect(saved.metadata.counts).toMatchObject({ matches: 1 });
    expect(saved.matches).toHaveLength(1);
  });

  it("reads the recorded sample offline with --source-dir", async () => {
    const run = await matchflow(["--source-dir", "samples/mlsnext", "--season", "2026", "--no-submit", "--format", "ndjson"]);
    expect(run.code).toBe(0);
    const matches = run.stdout.trim().split("\n").map((l) => JSON.parse(l) as MatchDataInput);
    expect(matches.length).toBeGreaterThan(30);
    const statuses = new Set(matches.map((m) => m.match_status));
    expect(statuses).toContain("completed");
    expect(statuses).toContain("postponed");
  });

  it("a window across August 1st reads both seasons' feeds (without --season)", async () => {
    const twoSeasons = await startFeedServer({
      "/data/schedule/mls-next-league-26-27.json": fixture("schedule-league-26-27.json"),
      "/data/standings/mls-next-league-26-27.json": fixture("standings-league-26-27.json"),
      "/data/schedule/mls-next-league-27-28.json": scheduleDoc([rawEvent({ game_key: "90001", start_time: "2027-08-02T15:00:00Z" })]),
      "/data/standings/mls-next-league-27-28.json": standingsDoc([bracket(69, "Florida", "U14", [5748, 5946])]),
    });
    try {
      const run = await matchflow(["--from", "2026-10-01", "--to", "2027-08-05", "--no-submit", "--format", "json"], { ASSIST_BASE_URL: twoSeasons.url });
      expect(run.code).toBe(0);
      const doc = JSON.parse(run.stdout) as { metadata: { season: string; seasons: string[]; feeds: string[] }; matches: MatchDataInput[] };
      expect(doc.metadata).toMatchObject({ season: "2027-28", seasons: ["2026-27", "2027-28"] });
      expect(doc.metadata.feeds).toHaveLength(4);
      expect(doc.matches.map((m) => [m.external_match_id, m.season])).toEqual([
        ["26099", "2026-27"],
        ["90001", "2027-28"],
      ]);
      expect(run.stderr).not.toMatch(/outside season/);
    } finally {
      await twoSeasons.close();
    }
  });

  it("an unknown key (HTML shell) exits 3 with a message naming the key, no stack trace", async () => {
    const run = await matchflow(["--season", "2031", "--no-submit"], base);
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/^matchflow: .*mls-next-league-31-32.*did not answer JSON/m);
    expect(run.stderr).not.toMatch(/^\s+at /m);
  });

  it("an unreachable source exits 3 with one clean line", async () => {
    const port = await closedPort();
    const run = await matchflow(["--season", "2026", "--no-submit"], { ASSIST_BASE_URL: `http://127.0.0.1:${port}` });
    expect(run.code).toBe(3);
    expect(run.stderr.trim()).toMatch(new RegExp(`^matchflow: cannot reach 127\\.0\\.0\\.1:${port} for (schedule|standings) mls-next-league-26-27: ECONNREFUSED \\(3 attempts\\)$`, "m"));
    expect(run.stderr).not.toMatch(/^\s+at /m);
  });

  it("a match the contract refuses is counted invalid and the run exits 1", async () => {
    const ok = { id: 1, game_key: "F1", start_time: "2026-09-05T13:00:00Z", local_timezone: "America/New_York", home_squad_id: 7197, away_squad_id: 5996, competition: { name: "League" }, completed: false, home_organisation: { name: "FC Cincinnati" }, away_organisation: { name: "Michigan Jaguars" } };
    const sameTeams = { ...ok, id: 2, game_key: "F2", away_organisation: { name: "FC Cincinnati" } };
    server.set("/data/schedule/mls-next-flex-26-27.json", { synced_at: "2026-08-24T11:50:08Z", events: [ok, sameTeams] });
    server.set("/data/standings/mls-next-flex-26-27.json", fixture("standings-flex-26-27.json"));
    const run = await matchflow(["--league", "flex", "--season", "2026", "--no-submit", "--format", "ndjson"], base);
    expect(run.code).toBe(1);
    expect(run.stdout.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toContain("2 found, 0 submitted, 1 invalid, 0 failed");
    expect(run.stderr).toContain("away_team must be a different team from home_team");
  });

  it("malformed events in a local feed are counted in the summary line and make the run exit 1", async () => {
    const dir = copySample();
    const file = join(dir, "data/schedule/mls-next-league-26-27.json");
    const doc = JSON.parse(readFileSync(file, "utf8")) as { events: Record<string, unknown>[] };
    const total = doc.events.length;
    doc.events[0]!.home_score = -3;
    doc.events[1]!.home_score = "abc";
    writeFileSync(file, JSON.stringify(doc));
    const run = await matchflow(["--source-dir", dir, "--season", "2026", "--no-submit", "--format", "ndjson"]);
    expect(run.code).toBe(1);
    expect(run.stdout.trim().split("\n")).toHaveLength(total - 2);
    expect(run.stderr).toContain(`${total - 2} found, 2 malformed, 0 submitted, 0 invalid, 0 failed (dry run: nothing published)`);
    expect(run.stderr).toContain("home_score must be >=0 (got -3)");
    expect(run.stderr).toContain('home_score is not a number (got \\"abc\\")');
  });

  it("a dry run whose stdout is closed early ends its output quietly: summary on stderr, exit 0, no stack trace", async () => {
    const run = await matchflowStdoutClosed(["--source-dir", "samples/mlsnext", "--season", "2026", "--no-submit", "--format", "ndjson"]);
    // The sample's missing and unknown time zones are its one feed problem: a warning line, then the summary.
    expect(run.stderr).toMatch(/^\{"level":"warn",[^\n]*missing or unknown local_timezone[^\n]*\}\n\d+ found, 0 submitted, 0 invalid, 0 failed \(dry run: nothing published\)\n$/);
    expect(run.code).toBe(0);
  });

  it("bad flag values exit 2 with a clear message", async () => {
    const run = await matchflow(["--age-group", "fourteen", "--no-submit"], base);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--age-group "fourteen" is not an age group like U14');
  });
});

describe("matchflow scrape (publishing)", () => {
  let vhost: TestVhost;
  beforeAll(async () => {
    vhost = await createVhost("scrape");
  });
  afterAll(async () => {
    await vhost.drop();
  });

  it("publishes every match to the matches queue and prints the summary line", async () => {
    const run = await matchflow(["--season", "2026"], { ...base, RABBITMQ_URL: vhost.url });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe("4 found, 4 submitted, 0 invalid, 0 failed");
    // Confirmed by the broker before the summary line: all there now (an exact count over AMQP,
    // not the management API's, which is sampled every few seconds).
    expect(await queued(vhost.url)).toBe(4);
  });

  it("a --save path that cannot be written exits 2 before anything is published", async () => {
    const own = await createVhost("scrapesave");
    try {
      const target = join(tempDir("scrape-"), "missing-dir", "out.json");
      const run = await matchflow(["--season", "2026", "--save", target], { ...base, RABBITMQ_URL: own.url });
      expect(run.stderr.trim()).toBe(`matchflow: --save ${target}: directory ${join(target, "..")} does not exist`);
      expect(run.code).toBe(2);
      // Checked before the scrape: the queue was never even declared.
      expect(await own.queue("matches")).toBeUndefined();
      const directory = await matchflow(["--season", "2026", "--no-submit", "--save", tmpdir()], base);
      expect(directory.stderr.trim()).toBe(`matchflow: --save ${tmpdir()}: is a directory, not a file`);
      expect(directory.code).toBe(2);
    } finally {
      await own.drop();
    }
  });

  it("a closed stdout stops the printed listing, not the publishing", async () => {
    const own = await createVhost("scrapepipe");
    try {
      const listed = await matchflowStdoutClosed(["--season", "2026", "--format", "ndjson"], { ...base, RABBITMQ_URL: own.url });
      expect(listed.stderr).toBe("4 found, 4 submitted, 0 invalid, 0 failed\n");
      expect(listed.code).toBe(0);
      // The summary line itself goes to stdout with a table: it is dropped, the exit code stays.
      const table = await matchflowStdoutClosed(["--season", "2026", "--format", "table"], { ...base, RABBITMQ_URL: own.url });
      expect(table.stderr).toBe("");
      expect(table.code).toBe(0);
      expect(await queued(own.url)).toBe(8);
    } finally {
      await own.drop();
    }
  });

  it("an unreachable broker exits 4", async () => {
    const port = await closedPort();
    const run = await matchflow(["--season", "2026"], { ...base, RABBITMQ_URL: `amqp://guest:guest@127.0.0.1:${port}/` });
    expect(run.code).toBe(4);
    expect(run.stderr).toMatch(/^matchflow: .*RabbitMQ/m);
  });

  it("Ctrl-C while a feed is downloading ends the download at once and says nothing was published (exit 130); it ended in silence", async () => {
    const silent = await startSilentServer();
    try {
      const port4 = await closedPort();
      const p = spawnCli(["scrape", "--season", "2026"], { ASSIST_BASE_URL: silent.url, HTTP_TIMEOUT: "10m", RABBITMQ_URL: `amqp://guest:guest@127.0.0.1:${port4}/`, LOG_LEVEL: "warn" });
      await until(() => Promise.resolve(silent.connections() > 0), 20_000, "the feed download under way");
      p.kill("SIGINT");
      const { code } = await p.exited;
      expect(code).toBe(130);
      expect(p.stdout()).toBe("0 submitted, 0 invalid, 0 failed before SIGINT stopped the scrape; the rest was not published (running it again is harmless)\n");
      expect(p.stderr()).not.toMatch(/\n\s+at /);
    } finally {
      await silent.close();
    }
  });
});
