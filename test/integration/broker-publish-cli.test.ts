/** `matchflow publish` as a user runs it: a real process, stdin or --file, exit codes. */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectFileOptionRefused } from "../helpers/cli.js";
import { createVhost, managementApi, type TestVhost } from "../helpers/rabbit.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "mf-publish-cli-"));
let vhost: TestVhost;

function run(args: string[], env: Record<string, string | undefined>, stdin = ""): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: "warn", ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

/** `matchflow publish` reading a stdin the test keeps open; exit code -1 when a signal ended it. */
function publishFromOpenStdin(url: string) {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "publish"], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: "warn", RABBITMQ_URL: url },
    stdio: ["pipe", "pipe", "pipe"],
  });
  const out = { stdout: "", stderr: "" };
  child.stdout.on("data", (d: Buffer) => (out.stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out.stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code, signal) => resolve(code ?? (signal ? -1 : null))));
  return { child, out, exited };
}

const valid = (i: number) => JSON.stringify({ home_team: `H${i}`, away_team: `A${i}`, match_date: "2025-09-06", age_group: "U15", match_type: "League", external_match_id: `cli-${i}` });

beforeAll(async () => {
  vhost = await createVhost("cli");
});

afterAll(async () => {
  await vhost?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe("matchflow publish", () => {
  it("reads NDJSON from stdin, reports counts, exits 1 when some are invalid", async () => {
    const input = [valid(1), valid(2), '{"home_team": "lonely"}', "", "{broken", valid(3)].join("\n");
    const r = await run(["publish"], { RABBITMQ_URL: vhost.url }, input);
    expect(r.stdout.trim().split("\n").at(-1)).toBe("3 submitted, 2 invalid, 0 failed");
    expect(r.stderr).toMatch(/match 3: invalid: .*away_team is required/);
    // Blank lines are skipped: the 4th match is on line 5.
    expect(r.stderr).toMatch(/match 4: invalid: line 5 is not valid JSON/);
    expect(r.code).toBe(1);
    expect((await vhost.queue("matches")) ?? {}).toHaveProperty("arguments", {});
  });

  it("publishes NDJSON from stdin as it reads it: lines are queued while the input is still open", async () => {
    const own = await createVhost("clistream");
    try {
      const { child, out, exited } = publishFromOpenStdin(own.url);
      child.stdin.write(`${valid(20)}\r\n${valid(21)}\n`);
      // The management API's counts lag a few seconds behind the broker.
      await expect.poll(async () => (await own.queue("matches"))?.messages, { timeout: 60_000, interval: 250 }).toBe(2);
      expect(child.exitCode).toBeNull();
      // Then a blank line, a broken one, and a last line without a newline.
      child.stdin.end(`\n{broken\n${valid(22)}`);
      expect(await exited).toBe(1);
      expect(out.stdout.trim()).toBe("3 submitted, 1 invalid, 0 failed");
      expect(out.stderr.trim()).toMatch(/^match 3: invalid: line 4 is not valid JSON/);
      await expect.poll(async () => (await own.queue("matches"))?.messages, { timeout: 60_000, interval: 250 }).toBe(3);
    } finally {
      await own.drop();
    }
  });

  it("stops on SIGTERM (SIGINT alike) with what it published confirmed and counted, exit 143; it ended in silence before", async () => {
    const own = await createVhost("clisignal");
    try {
      const { child, out, exited } = publishFromOpenStdin(own.url);
      // The input stays open: the command is waiting for more when the signal comes.
      child.stdin.write(`${[40, 41, 42].map(valid).join("\n")}\n`);
      await expect.poll(async () => (await own.queue("matches"))?.messages, { timeout: 60_000, interval: 250 }).toBe(3);
      child.kill("SIGTERM");
      expect(await exited).toBe(143);
      expect(out.stdout).toBe("3 submitted, 0 invalid, 0 failed before SIGTERM stopped the reading; the rest of stdin was not published\n");
      expect(out.stderr).toContain("stopping: matches in flight are confirmed first (send again to exit at once)");
    } finally {
      await own.drop();
    }
  });

  it("reads a JSON array from --file and exits 0 when everything was submitted", async () => {
    const file = join(dir, "matches.json");
    writeFileSync(file, `[${valid(10)}, ${valid(11)}]`);
    const r = await run(["publish", "--file", file], { RABBITMQ_URL: vhost.url });
    expect(r.stdout.trim()).toBe("2 submitted, 0 invalid, 0 failed");
    expect(r.code).toBe(0);
  });

  it("publishes the matches of scrape's --save document (it was refused: 'pass jq -c .matches[]'); another pretty-printed object exits 2 with one line saying what to pass, publishing nothing", async () => {
    const own = await createVhost("clispread");
    try {
      const file = join(dir, "scrape-document.json");
      // Big enough to come in several chunks: the document is read as it comes.
      const matches = Array.from({ length: 600 }, (_, i) => JSON.parse(valid(1000 + i)) as unknown);
      writeFileSync(file, `${JSON.stringify({ metadata: { source: "assist" }, matches, problems: [] }, null, 2)}\n`);
      const published = await run(["publish", "--file", file], { RABBITMQ_URL: own.url });
      expect(published).toMatchObject({ code: 0, stdout: "600 submitted, 0 invalid, 0 failed\n", stderr: "" });
      await expect.poll(async () => (await own.queue("matches"))?.messages, { timeout: 15_000 }).toBe(600);

      // The tool takes its own output: scrape --save, then publish --file.
      const saved = join(dir, "saved.json");
      const scraped = await run(["scrape", "--source-dir", "samples/mlsnext", "--no-submit", "--quiet", "--format", "ndjson", "--save", saved], {});
      expect(scraped.code).toBe(0);
      const count = scraped.stdout.trim().split("\n").length;
      expect(count).toBeGreaterThan(10);
      const again = await run(["publish", "--file", saved], { RABBITMQ_URL: own.url });
      expect(again).toMatchObject({ code: 0, stdout: `${count} submitted, 0 invalid, 0 failed\n` });

      const one = await run(["publish"], { RABBITMQ_URL: own.url }, `${JSON.stringify(JSON.parse(valid(22)), null, 2)}\n`);
      expect(one.stderr).toMatch(/^matchflow: stdin is one JSON object written over several lines without a "matches" array: .*jq -c \. FILE.*\n$/);
      expect(one.stdout).toBe("");
      expect(one.code).toBe(2);

      const cut = join(dir, "cut-document.json");
      writeFileSync(cut, JSON.stringify({ metadata: {}, matches: [JSON.parse(valid(30)), JSON.parse(valid(31))] }, null, 2).slice(0, -40));
      const truncated = await run(["publish", "--file", cut], { RABBITMQ_URL: own.url });
      expect(truncated.stderr).toMatch(/^matchflow: \S+cut-document\.json is not valid JSON after 1 match \(/);
      expect(truncated.code).toBe(2);
    } finally {
      await own.drop();
    }
  });

  it("a match over MAX_MESSAGE_BYTES is refused like an invalid one (exit 1: another run would refuse it again)", async () => {
    const big = JSON.stringify({ ...JSON.parse(valid(30)), notes: "x".repeat(1500) });
    const r = await run(["publish"], { RABBITMQ_URL: vhost.url, MAX_MESSAGE_BYTES: "1024" }, `${valid(31)}\n${big}\n`);
    expect(r.stdout.trim()).toBe("1 submitted, 1 invalid, 0 failed");
    expect(r.stderr).toMatch(/^match 2: invalid: .*1024/m);
    expect(r.code).toBe(1);
  });

  it("matches the broker refuses (nacked: the queue is full) are failed, exit 4: worth another run, unlike refused ones", async () => {
    const own = await createVhost("clinack");
    try {
      // A full queue that rejects new publishes: the broker nacks them.
      const policy = await managementApi("PUT", `/policies/${encodeURIComponent(own.name)}/full`, { pattern: "^matches$", definition: { "max-length": 1, overflow: "reject-publish" }, "apply-to": "queues" });
      expect(policy.ok).toBe(true);
      const r = await run(["publish"], { RABBITMQ_URL: own.url }, [valid(40), valid(41), '{"home_team": "lonely"}', valid(42)].join("\n"));
      expect(r.stdout.trim()).toBe("1 submitted, 1 invalid, 2 failed");
      expect(r.stderr).toMatch(/: failed: /);
      expect(r.code).toBe(4);
    } finally {
      await own.drop();
    }
  });

  it("an array cut part-way: what was read is published and counted, then the input's error (exit 2), or exit 4 with the matches the broker refused listed", async () => {
    const own = await createVhost("clicut");
    try {
      const file = join(dir, "cut.json");
      writeFileSync(file, `[${[valid(60), valid(61), valid(62)].join(",\n")},\n{"home_team": "H6`);
      const cut = await run(["publish", "--file", file], { RABBITMQ_URL: own.url });
      expect(cut.stdout).toBe(`3 submitted, 0 invalid, 0 failed; the reading of ${file} stopped there\n`);
      expect(cut.stderr).toMatch(/^matchflow: .*cut\.json is not valid JSON after 3 matches/);
      expect(cut.code).toBe(2);
      // The queue now full and refusing: the matches read before the cut are failed, and said.
      const policy = await managementApi("PUT", `/policies/${encodeURIComponent(own.name)}/full`, { pattern: "^matches$", definition: { "max-length": 1, overflow: "reject-publish" }, "apply-to": "queues" });
      expect(policy.ok).toBe(true);
      const refused = await run(["publish", "--file", file], { RABBITMQ_URL: own.url });
      expect(refused.stdout).toBe(`0 submitted, 0 invalid, 3 failed; the reading of ${file} stopped there\n`);
      expect(refused.stderr.match(/: failed: /g)).toHaveLength(3);
      expect(refused.code).toBe(4);
    } finally {
      await own.drop();
    }
  });

  it("a --file that is missing or a directory exits 2 with one line naming the option, before connecting", async () => {
    await expectFileOptionRefused((file) => run(["publish", "--file", file], { RABBITMQ_URL: vhost.url }), dir);
  });

  it("an input with no match says so on stderr and exits 0", async () => {
    const r = await run(["publish"], { RABBITMQ_URL: vhost.url }, "\n\n");
    expect(r.stdout.trim()).toBe("0 submitted, 0 invalid, 0 failed");
    expect(r.stderr).toBe("matchflow: warning: stdin held no matches (nothing to do)\n");
    expect(r.code).toBe(0);
  });

  it("exits 4 with one line naming the broker (no password) when RabbitMQ is unreachable", async () => {
    const r = await run(["publish"], { RABBITMQ_URL: "amqp://guest:hunter2@127.0.0.1:1/x" }, valid(1));
    expect(r.code).toBe(4);
    expect(r.stderr.trim()).toBe("matchflow: cannot connect to RabbitMQ at 127.0.0.1:1 vhost x: connection refused");
  });

  it("says TLS failed, in one line without OpenSSL's internals, for amqps:// to a plain AMQP port", async () => {
    const plain = new URL(process.env.TEST_AMQP_BASE ?? "amqp://guest:guest@127.0.0.1:5672");
    const r = await run(["publish"], { RABBITMQ_URL: `amqps://guest:hunter2@${plain.hostname}:${plain.port || "5672"}/x` }, valid(1));
    expect(r.code).toBe(4);
    expect(r.stderr.trim()).toBe(`matchflow: cannot connect to RabbitMQ at ${plain.hostname}:${plain.port || "5672"} vhost x: TLS handshake failed (amqps:// to a port without TLS? plain AMQP is amqp://, usually port 5672; TLS usually 5671)`);
  });

  it("exits 2 with a clear message when RABBITMQ_URL is not set", async () => {
    const r = await run(["publish"], {}, valid(1));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/RABBITMQ_URL is not set/);
  });
});
