/**
 * A command whose stdout cannot be written for another reason than its reader going away: a full
 * disk (`matchflow dlq list > /dev/full`). It crashed with a Node stack trace (exit 1), or said
 * Node's raw "ENOSPC: ..." as an internal error (exit 70). Now: one line, `matchflow: cannot write
 * the output: ENOSPC ...`, exit 74, and the command's work is neither cut short nor lost (dead
 * letters read are back in their queue, requeued ones in the work queue, matches published).
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync } from "node:fs";
import path from "node:path";
import { connect, type ChannelModel } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { declareTopology, topologyNames } from "../../src/broker/topology.js";
import { encodeTaskV2 } from "../../src/celery/codec.js";
import { EXIT } from "../../src/cli/exit-codes.js";
import { loadConfig } from "../../src/config.js";
import { TransientError } from "../../src/errors.js";
import { silentLogger } from "../../src/log.js";
import { trackSpawned } from "../helpers/cli.js";
import { publishDeadLetter } from "../helpers/dead-letters.js";
import { makeMatch } from "../helpers/matches.js";
import { createVhost, messageCount, type TestVhost } from "../helpers/rabbit.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const FULL = "/dev/full";
const config = loadConfig({});
const names = topologyNames(config.topology, config.retry);
const N = 5;
const SAID = "matchflow: cannot write the output: ENOSPC: no space left on device, write\n";

/** Runs the CLI with its stdout on /dev/full (every write fails with ENOSPC), as `> /dev/full` does. */
function runToFullDisk(args: string[], env: Record<string, string> = {}, input = ""): Promise<{ code: number | null; stderr: string }> {
  const out = openSync(FULL, "w");
  const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "src/cli/main.ts"), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: "warn", ...env },
    stdio: ["pipe", out, "pipe"],
  });
  closeSync(out);
  trackSpawned(child);
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  child.stdin?.end(input);
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stderr })));
}

let vhost: TestVhost;
let amqp: ChannelModel;

const ready = (queue: string): Promise<number> => messageCount(amqp, queue);

beforeAll(async () => {
  vhost = await createVhost("clifull");
  amqp = await connect(vhost.url);
  await declareTopology(amqp, names, { queueType: "classic", log: silentLogger });
  const ch = await amqp.createConfirmChannel();
  for (let i = 0; i < N; i++) {
    publishDeadLetter(ch, names, encodeTaskV2({ taskName: config.topology.taskName, taskId: `full-${i}`, args: [makeMatch("full", i)] }), new TransientError("db_lock_timeout", "lock timeout"));
  }
  await ch.waitForConfirms();
  await ch.close();
});

afterAll(async () => {
  await amqp?.close();
  await vhost?.drop();
});

describe.skipIf(!existsSync(FULL))("stdout on a full disk", () => {
  it.each([[["config"]], [["contract", "schema"]], [["help", "dlq"]], [["--version"]]])("%j says so on one line, exit 74 (was a stack trace, exit 1)", { timeout: 60_000 }, async (args) => {
    expect(await runToFullDisk(args)).toEqual({ code: EXIT.output, stderr: SAID });
  });

  it("a dry run's NDJSON stops at the failed write: one line, exit 74 (was Node's raw ENOSPC, exit 70)", { timeout: 60_000 }, async () => {
    expect(await runToFullDisk(["scrape", "--source-dir", "samples/mlsnext", "--season", "2026", "--no-submit", "--format", "ndjson", "--quiet"])).toEqual({ code: EXIT.output, stderr: SAID });
  });

  it("dlq list, dlq list --json, dlq show and queue status --json: one line, exit 74, every dead letter still in its queue", { timeout: 120_000 }, async () => {
    const env = { RABBITMQ_URL: vhost.url };
    const runs = await Promise.all([
      runToFullDisk(["dlq", "list"], env),
      runToFullDisk(["dlq", "list", "--json", "--limit", "100000"], env),
      runToFullDisk(["dlq", "show", "full-1"], env),
      runToFullDisk(["queue", "status", "--json"], env),
    ]);
    // dlq commands take turns: one may have said it waited for another.
    for (const run of runs) expect({ code: run.code, stderr: run.stderr.replace(/^waiting for another dlq command.*\n/gm, "") }).toEqual({ code: EXIT.output, stderr: SAID });
    expect(await ready(names.deadLetterQueue)).toBe(N);
  });

  it("dlq requeue --all still requeues every letter (each confirmed, then removed), and says the output was lost: exit 74", { timeout: 60_000 }, async () => {
    expect(await runToFullDisk(["dlq", "requeue", "--all"], { RABBITMQ_URL: vhost.url })).toEqual({ code: EXIT.output, stderr: SAID });
    expect(await ready(names.deadLetterQueue)).toBe(0);
    expect(await ready(names.queue)).toBe(N);
  });

  it("scrape --format json and publish still publish every match (the listing is a side output): exit 74", { timeout: 60_000 }, async () => {
    const env = { RABBITMQ_URL: vhost.url };
    const before = await ready(names.queue);
    const scraped = await runToFullDisk(["scrape", "--source-dir", "samples/mlsnext", "--season", "2026", "--format", "json"], env);
    expect(scraped.code).toBe(EXIT.output);
    // The summary goes to stderr beside printed JSON, as it does when stdout can be written (after the scrape's warnings).
    expect(scraped.stderr.endsWith(SAID)).toBe(true);
    expect(scraped.stderr).not.toMatch(/^\s+at /m);
    const found = Number(/^(\d+) found, (\d+) submitted, 0 invalid, 0 failed$/m.exec(scraped.stderr)?.[2]);
    expect(found).toBeGreaterThan(10);
    await expect.poll(() => ready(names.queue), { timeout: 15_000 }).toBe(before + found);

    const matches = [makeMatch("fullpub", 1), makeMatch("fullpub", 2)].map((m) => JSON.stringify(m)).join("\n");
    expect(await runToFullDisk(["publish"], env, matches)).toEqual({ code: EXIT.output, stderr: SAID });
    await expect.poll(() => ready(names.queue), { timeout: 15_000 }).toBe(before + found + 2);
  });

  it("a command that fails otherwise keeps its own exit code (a missing work queue: 2)", { timeout: 60_000 }, async () => {
    const run = await runToFullDisk(["queue", "status", "--json"], { RABBITMQ_URL: vhost.url, MATCHES_QUEUE: "no_such_queue" });
    expect(run).toEqual({ code: EXIT.usage, stderr: SAID });
  });
});
