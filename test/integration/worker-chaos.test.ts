/**
 * The worker as a real process against inputs and interleavings that try to break its promise
 * (every message stored, retried or dead-lettered once with its reason; never a lost or older
 * observation winning): outsized task ids among good tasks, and older and newer observations of
 * the same matches interleaved across several workers.
 */
import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { until } from "../helpers/cli.js";
import { makeMatch } from "../helpers/matches.js";
import { publishConfirmed } from "../helpers/rabbit.js";
import { createWorkerEnv, type WorkerEnv } from "../helpers/worker-env.js";

const TASK = "celery_tasks.match_tasks.process_match_data";
let t: WorkerEnv;

/** Dead letters' error codes and task ids (protocol 1: the id is in the body). */
async function deadLetters(): Promise<{ code: string; taskId: string }[]> {
  return (await t.peek()).map(({ headers, content }) => ({ code: String(headers["x-matchflow-error-code"]), taskId: String((JSON.parse(content.toString()) as { id?: unknown }).id) }));
}

beforeAll(async () => {
  t = await createWorkerEnv("chaos");
});
afterEach(async () => t.killAll());
afterAll(async () => {
  await t?.teardown();
});

describe("worker under hostile input and interleavings", () => {
  it("dead-letters and records once each task whose id is too long (for an index, for an AMQP correlation id), valid match or not, and stores its batch neighbours without a retry", async () => {
    // Celery protocol 1 carries the task id in the body: nothing but MAX_MESSAGE_BYTES bounds it.
    // Once its batch's failures broke an index (every neighbour dead-lettered); a valid one could
    // not be retried (amqplib refuses a correlation id over 255 bytes for the copy).
    const longId = randomBytes(4000).toString("hex");
    const validLongId = randomBytes(200).toString("hex");
    const poison = (id: string, match: unknown) => ({ content: Buffer.from(JSON.stringify({ id, task: TASK, args: [match], kwargs: {} })), properties: { contentType: "application/json", contentEncoding: "utf-8", deliveryMode: 2 } });
    const good = Array.from({ length: 60 }, (_, i) => makeMatch("longid", i));
    await t.publish(good.slice(0, 30));
    await publishConfirmed(t.vhost.url, [poison(longId, { home_team: "IFA", match_date: "2026-10-18" }), poison(validLongId, makeMatch("longid-valid", 1))]);
    await t.publish(good.slice(30));

    // RETRY_MAX=0: a neighbour made to fail by the poison would be dead-lettered, not retried.
    const w = await t.startWorker({ RETRY_MAX: "0" }, ["--concurrency", "1", "--batch-size", "100"]);
    await until(async () => (await t.ready("matches.dead_letter")) >= 2 && (await t.ready()) === 0, 30_000, "the dead letters and the queue drained");
    await until(async () => (await t.rows("longid")).total === good.length, 30_000, "every good row");
    await t.stopWorker(w);
    expect(await t.ready()).toBe(0); // nothing was left unacked: it would be back in the queue
    expect(await t.rows("longid")).toEqual({ total: good.length, distinct: good.length });
    expect(await t.rows("longid-valid")).toEqual({ total: 0, distinct: 0 });
    expect(await deadLetters()).toEqual([
      { code: "invalid_task_id", taskId: longId },
      { code: "invalid_task_id", taskId: validLongId },
    ]);
    const failures = await t.sql.query<{ reason_code: string; task_id: string }>("SELECT reason_code, task_id FROM ingest_failures");
    expect(failures.rows.map((r) => r.reason_code)).toEqual(["invalid_task_id", "invalid_task_id"]);
    expect(w.logs.filter((l) => l.msg === "batch transaction failed")).toEqual([]);
  });

  it("three workers, older and newer observations of the same matches interleaved, their database sessions killed mid-stream: every row is the newest observation, once", async () => {
    const n = 300;
    const env = { RETRY_BASE_DELAY: "200ms", RETRY_MAX_DELAY: "400ms", RETRY_MAX: "10" };
    const workers = await Promise.all([1, 2, 3].map(() => t.startWorker(env, ["--concurrency", "2", "--batch-size", "20"])));
    const lettersBefore = await t.ready("matches.dead_letter");
    // Per match: the newest observation (score 9) published between two older ones, in rounds.
    const obs = (i: number, minute: number, score: number) => makeMatch("inter", i, { scraped_at: `2026-10-30T06:${String(minute).padStart(2, "0")}:00.000${score}00Z`, home_score: score });
    for (let round = 0; round < 3; round++) {
      const batch = Array.from({ length: n }, (_, i) => (round === 1 ? obs(i, 30, 9) : obs(i, round === 0 ? 10 : 20, round + 1)));
      await t.publish(batch);
      // Kill every session of the workers in this database, whatever it is doing.
      await t.sql.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'matchflow' AND pid <> pg_backend_pid()");
    }
    const newest = async () => Number((await t.sql.query<{ c: string }>("SELECT count(*) AS c FROM matches WHERE external_match_id LIKE 'inter-%' AND home_score = 9")).rows[0]?.c);
    const waiting = async () => (await t.ready()) + (await t.ready("matches.retry.200ms")) + (await t.ready("matches.retry.400ms"));
    await until(async () => (await newest()) === n && (await waiting()) === 0, 45_000, "every row at its newest observation, queues drained");
    await Promise.all(workers.map((w) => t.stopWorker(w)));
    expect(await t.ready("matches.dead_letter")).toBe(lettersBefore);
    // The kills reached the workers (their sessions, idle or busy, went away under them).
    const lost = ["database failed a batch whatever its data: holding it unacked and trying it again until the database takes it (no retry spent)", "database connection lost", "idle database connection lost"];
    expect(workers.some((w) => w.logs.some((l) => lost.includes(String(l.msg))))).toBe(true);
    expect(workers.flatMap((w) => w.logs.filter((l) => l.level === "error"))).toEqual([]);
    const scores = await t.sql.query<{ home_score: number; count: string }>("SELECT home_score, count(*) FROM matches WHERE external_match_id LIKE 'inter-%' GROUP BY home_score");
    expect(scores.rows.map((r) => ({ score: r.home_score, count: Number(r.count) }))).toEqual([{ score: 9, count: n }]);
  });
});
