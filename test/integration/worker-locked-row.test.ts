/**
 * One match's row held locked by someone else (an operator's open transaction): its batch's
 * transaction fails with a lock timeout. Only that match may pay for it: the batch is written
 * again in halves until the failure is found, and its neighbours are stored without a retry.
 */
import { connect } from "amqplib";
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

  it("an undecodable message whose ingest_failures row cannot be written (table locked) is given back, not dead-lettered without its row; recorded and dead-lettered once the lock goes", async () => {
    const w = await t.startWorker({ DB_LOCK_TIMEOUT: "200ms" }, ["--concurrency", "1"]);
    const deadBefore = await t.ready("matches.dead_letter");
    const holder = new pg.Client({ connectionString: t.db.url });
    await holder.connect();
    try {
      await holder.query("BEGIN");
      await holder.query("LOCK TABLE ingest_failures IN ACCESS EXCLUSIVE MODE");
      const conn = await connect(t.vhost.url);
      const ch = await conn.createConfirmChannel();
      ch.publish("matches", "matches.process", Buffer.from("{not json"), { contentType: "application/json", contentEncoding: "utf-8", headers: { id: "undecodable-1", task: "celery_tasks.match_tasks.process_match_data" } });
      await ch.waitForConfirms();
      await conn.close();
      await w.waitForLog((l) => l.msg === "could not record an undecodable message's failure; message returned to the queue" && l.taskId === "undecodable-1");
      expect(await t.ready("matches.dead_letter")).toBe(deadBefore);
    } finally {
      await holder.query("ROLLBACK").catch(() => undefined);
      await holder.end();
    }
    await until(async () => (await t.ready("matches.dead_letter")) === deadBefore + 1, 30_000, "the message dead-lettered once the lock went");
    await t.stopWorker(w);
    const { rows } = await t.sql.query<{ task_id: string; reason_code: string }>("SELECT task_id, reason_code FROM ingest_failures WHERE task_id = 'undecodable-1'");
    const dead = (await t.peek()).find((d) => d.headers.id === "undecodable-1");
    expect(dead?.headers["x-matchflow-error-code"]).toBe("malformed_json");
    expect(rows).toEqual([{ task_id: "undecodable-1", reason_code: "malformed_json" }]);
  });
});
