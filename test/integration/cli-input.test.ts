/**
 * What `publish` and `process` read: scrape's --save document compacted on one line (`jq -c .`,
 * it was read as NDJSON: one invalid match), `--file -` for stdin (it was "--file -: no such
 * file", exit 2), and a hint when stdin is a terminal (they waited in silence).
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, trackSpawned, until } from "../helpers/cli.js";
import { makeMatch } from "../helpers/matches.js";
import { createTestDatabase, type TestDatabase } from "../helpers/pg.js";
import { createVhost, type TestVhost } from "../helpers/rabbit.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
let vhost: TestVhost;
let db: TestDatabase;
let dir: string;

beforeAll(async () => {
  [vhost, db] = await Promise.all([createVhost("cliinput"), createTestDatabase({ migrated: true })]);
  dir = await mkdtemp(path.join(tmpdir(), "matchflow-cli-input-"));
});

afterAll(async () => {
  await vhost?.drop();
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** scrape's --save document of `matches`, as `jq -c .` leaves it: one line. */
function compactDocument(matches: Record<string, unknown>[]): string {
  return `${JSON.stringify({ metadata: { source: "assist", season: "2026-27" }, matches, problems: [] })}\n`;
}

describe("scrape's --save document on one line (jq -c .)", () => {
  it("publish --file takes its matches", async () => {
    const file = path.join(dir, "compact-publish.json");
    await writeFile(file, compactDocument([makeMatch("jqc", 1), makeMatch("jqc", 2), makeMatch("jqc", 3)]));
    const run = await runCli(["publish", "--file", file], { RABBITMQ_URL: vhost.url, LOG_LEVEL: "warn" });
    expect(run).toMatchObject({ code: 0, stdout: "3 submitted, 0 invalid, 0 failed\n", stderr: "" });
    await expect.poll(async () => (await vhost.queue("matches"))?.messages, { timeout: 15_000 }).toBe(3);
  });

  it("process --file takes its matches", async () => {
    const file = path.join(dir, "compact-process.json");
    await writeFile(file, compactDocument([makeMatch("jqp", 1), makeMatch("jqp", 2)]));
    const run = await runCli(["process", "--file", file], { DATABASE_URL: db.url, LOG_LEVEL: "warn" });
    expect(run).toMatchObject({ code: 0, stdout: "jqp-1: created\njqp-2: created\n2 created, 0 updated, 0 unchanged, 0 invalid, 0 failed\n" });
  });

  it("the document scrape --save writes, compacted, is taken whole", async () => {
    const saved = path.join(dir, "saved.json");
    const scraped = await runCli(["scrape", "--source-dir", "samples/mlsnext", "--season", "2026", "--no-submit", "--quiet", "--format", "ndjson", "--save", saved], {});
    expect(scraped.code).toBe(0);
    const count = scraped.stdout.trim().split("\n").length;
    const compact = path.join(dir, "saved-compact.json");
    await writeFile(compact, `${JSON.stringify(JSON.parse(await readFile(saved, "utf8")))}\n`);
    const run = await runCli(["process", "--file", compact], { DATABASE_URL: db.url, LOG_LEVEL: "warn" });
    expect(run.stdout.trim().split("\n").at(-1)).toMatch(/^\d+ created, \d+ updated, \d+ unchanged, 0 invalid, 0 failed$/);
    expect(run.stdout.trim().split("\n")).toHaveLength(count + 1);
    expect(run.code).toBe(0);
  });
});

describe("--file - reads stdin", () => {
  it("publish --file -", async () => {
    const own = await createVhost("clistdin");
    try {
      const input = [makeMatch("dash", 1), makeMatch("dash", 2)].map((m) => JSON.stringify(m)).join("\n");
      const run = await runCli(["publish", "--file", "-"], { RABBITMQ_URL: own.url, LOG_LEVEL: "warn" }, { input });
      expect(run).toMatchObject({ code: 0, stdout: "2 submitted, 0 invalid, 0 failed\n", stderr: "" });
    } finally {
      await own.drop();
    }
  });

  it("process --file -, and an empty stdin is said as stdin", async () => {
    const run = await runCli(["process", "--file", "-"], { DATABASE_URL: db.url, LOG_LEVEL: "warn" }, { input: JSON.stringify([makeMatch("dashp", 1)]) });
    expect(run).toMatchObject({ code: 0, stdout: "dashp-1: created\n1 created, 0 updated, 0 unchanged, 0 invalid, 0 failed\n" });
    const empty = await runCli(["process", "--file", "-"], { DATABASE_URL: db.url, LOG_LEVEL: "warn" }, { input: "" });
    expect(empty).toMatchObject({ code: 0, stderr: "matchflow: warning: stdin held no matches (nothing to do)\n" });
  });
});

const hasScript = spawnSync("script", ["--version"]).status === 0;

describe.skipIf(!hasScript)("stdin on a terminal", () => {
  it("publish without --file says how to end the input instead of waiting in silence", async () => {
    const hint = "reading matches from stdin (end with Ctrl-D); --file to read a file";
    // util-linux `script` runs the command on a pseudo-terminal: its stdin is a terminal.
    const child = spawn("script", ["-qec", `${process.execPath} --import tsx src/cli/main.ts publish`, "/dev/null"], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: "warn", RABBITMQ_URL: vhost.url },
      stdio: ["pipe", "pipe", "pipe"],
    });
    trackSpawned(child);
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    await until(() => out.includes(hint), 30_000, "the hint").catch(() => undefined);
    child.stdin.write("\u0004"); // Ctrl-D: the end of the input
    const code = await exited;
    expect(out.replace(/\r/g, "")).toBe(`${hint}\n0 submitted, 0 invalid, 0 failed\nmatchflow: warning: stdin held no matches (nothing to do)\n`);
    expect(code).toBe(0);
  });
});
