/**
 * One match's row held locked by someone else (an operator's open transaction): its batch's
 * transaction fails with a lock timeout. Only that match may pay for it: the batch is written
 * again in halves until the failure is found, and its neighbours are stored without a retry.
 */
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { until } from "../helpers/cli.js";
import { makeMatch } from "../helpers/matches.js";
import { createWorkerEnv, type WorkerEnv } from "../helpers/worker-env.js";

let t: WorkerEnv;

beforeAll(async () => {
  t = await createWorkerEnv("lockedrow");
});
afterEach(async () => t.killAll());
afterAll(async () => {
  await t?.teardown();
});

describe("a batch meeting one locked row", () => {
  it("stores every other match of the batch at once; only the locked row's task is charged (RETRY_MAX=0: dead-lettered with db_lock_timeout)", async () => {
    // RETRY_MAX=0: a neighbour charged for the lock would be dead-lettered, not retried.
    const env = { RETRY_MAX: "0", DB_LOCK_TIMEOUT: "200ms" };
    const args = ["--concurrency", "1", "--batch-size", "100"];
    const first = await t.startWorker(env, args);
    await t.publish([makeMatch("locked", 0, { scraped_at: "2026-10-30T06:00:00Z" })]);
    await until(async () => (await t.rows("locked")).total === 1, 30_000, "the row to lock stored");
    await t.stopWorker(first);

    const n = 40;
    const newer = makeMatch("locked", 0, { scraped_at: "2026-10-30T07:00:00Z", home_score: 9 });
    const others = Array.from({ length: n }, (_, i) => makeMatch("lockmates", i));
    // The locked row's task in the middle of the batch.
    const lockedTask = (await t.publish([...others.slice(0, n / 2), newer, ...others.slice(n / 2)]))[n / 2];
    const holder = new pg.Client({ connectionString: t.db.url });
    await holder.connect();
    try {
      await holder.query("BEGIN");
      await holder.query("SELECT id FROM matches WHERE external_match_id = 'locked-0' FOR UPDATE");
      const w = await t.startWorker(env, args);
      await until(async () => (await t.rows("lockmates")).total === n && (await t.ready("matches.dead_letter")) === 1, 30_000, "every neighbour stored and one dead letter");
      await t.stopWorker(w);
      expect(w.logs.some((l) => l.msg === "batch transaction failed" && l.code === "db_lock_timeout")).toBe(true);
      expect(w.logs.filter((l) => l.outcome === "dead_lettered").map((l) => l.taskId)).toEqual([lockedTask]);
      expect(w.logs.filter((l) => l.outcome === "retried")).toEqual([]);
    } finally {
      await holder.query("ROLLBACK").catch(() => undefined);
      await holder.end();
    }
    expect(await t.rows("lockmates")).toEqual({ total: n, distinct: n });
    const dead = await t.peek();
    expect(dead.map((d) => d.headers["x-matchflow-error-code"])).toEqual(["db_lock_timeout"]);
  });
});
