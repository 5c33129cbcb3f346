/**
 * The deployed worker (its heap flags, default concurrency, batch size and prefetch) against a
 * backlog of bodies just under MAX_MESSAGE_BYTES: valid matches padded with an unknown field
 * (the consumer keeps those) and invalid ones of the same size. A database lock stalls the first
 * batches so that the whole prefetch (1,600 deliveries, ~100 MB of bodies) piles up, as behind a
 * slow or briefly stuck database. Before WORKER_BATCH_BYTES the batches that followed decoded
 * 4 x 400 such bodies at once and the worker died with "JavaScript heap out of memory" (exit
 * 134), again after every restart on the same backlog.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEPLOYED_WORKER_NODE_ARGS } from "../../bench/lib/deployed.js";
import { encodeTaskV2 } from "../../src/celery/codec.js";
import { loadConfig } from "../../src/config.js";
import { until } from "../helpers/cli.js";
import { makeMatch } from "../helpers/matches.js";
import { lockMatchesTable } from "../helpers/pg.js";
import { publishConfirmed } from "../helpers/rabbit.js";
import { createWorkerEnv, type WorkerEnv } from "../helpers/worker-env.js";

const TASK = "celery_tasks.match_tasks.process_match_data";
const VALID = 2000;
const INVALID = 200;

let t: WorkerEnv;

beforeAll(async () => {
  // LOG_LEVEL info as deployed (debug adds a line per task); a lock held past the default 10 s
  // lock timeout would turn the stalled batches into retries an hour of test time away.
  t = await createWorkerEnv("bigmsg", { LOG_LEVEL: "info", DB_LOCK_TIMEOUT: "60s" });
});
afterAll(async () => t?.teardown());

/** A task body of `bytes` (just under MAX_MESSAGE_BYTES): the match padded with a field outside the contract. */
function largeTask(match: Record<string, unknown>, taskId: string, bytes: number) {
  const encode = (padding: string) => encodeTaskV2({ taskName: TASK, taskId, args: [{ ...match, padding }] });
  const message = encode("x".repeat(bytes - encode("").content.length));
  expect(message.content.length).toBe(bytes);
  return message;
}

describe("worker with large messages", () => {
  it("survives a backlog of bodies near MAX_MESSAGE_BYTES behind a stalled database, and stores every valid one once", async () => {
    const config = loadConfig({});
    const bytes = config.maxMessageBytes - 16;
    // The topology first (the worker declares it), then the backlog, as an outside producer would leave it.
    const declaring = await t.startWorker();
    declaring.kill("SIGTERM");
    await declaring.exited;
    const messages = [
      ...Array.from({ length: VALID }, (_, i) => largeTask(makeMatch("big", i), `big-${i}`, bytes)),
      ...Array.from({ length: INVALID }, (_, i) => largeTask(makeMatch("bad", i, { match_date: "2026-13-45" }), `bad-${i}`, bytes)),
    ];
    // Interleaved, so that every batch holds both kinds.
    messages.sort((a, b) => String(a.properties.correlationId).localeCompare(String(b.properties.correlationId)));
    await publishConfirmed(t.vhost.url, messages);

    const lock = await lockMatchesTable(t.db.url);
    try {
      const worker = await t.startWorker({}, [], DEPLOYED_WORKER_NODE_ARGS.split(" "));
      // The whole prefetch delivered and held (the first batches wait on the lock).
      await until(async () => (await t.ready()) <= VALID + INVALID - config.worker.prefetch, 60_000, "the prefetch to fill");
      await lock.release();

      const exited = worker.exited.then((e) => ({ ...e, stderr: worker.stderr().slice(-600) }));
      const stored = until(async () => (await t.rows("big")).total === VALID && (await t.ready()) === 0 && (await t.ready("matches.dead_letter")) === INVALID, 110_000, "every message settled");
      const first = await Promise.race([stored.then(() => "settled" as const), exited]);
      expect(first).toBe("settled");
      expect(worker.stderr()).not.toContain("heap out of memory");
      expect(await t.rows("big")).toEqual({ total: VALID, distinct: VALID });
      const failures = await t.sql.query<{ n: string }>("SELECT count(*) AS n FROM ingest_failures WHERE reason_code = 'contract_violation'");
      expect(Number(failures.rows[0]?.n)).toBe(INVALID);
      // The bound is what kept it alive: it said so.
      expect(worker.logs.some((l) => String(l.msg).startsWith("large messages: batches cut at WORKER_BATCH_BYTES"))).toBe(true);
    } finally {
      await lock.close();
    }
  });
});
