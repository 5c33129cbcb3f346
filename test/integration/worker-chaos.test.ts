/**
 * The worker as a real process against inputs and interleavings that try to break its promise
 * (every message stored, retried or dead-lettered once with its reason; never a lost or older
 * observation winning): outsized task ids among good tasks, and older and newer observations of
 * the same matches interleaved across several workers.
 */
import { randomBytes } from "node:crypto";
import { connect, type ChannelModel } from "amqplib";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { until, type CliProcess } from "../helpers/cli.js";
import { makeMatch } from "../helpers/matches.js";
import { publishConfirmed } from "../helpers/rabbit.js";
import { createWorkerEnv, type WorkerEnv } from "../helpers/worker-env.js";

const TASK = "celery_tasks.match_tasks.process_match_data";
let t: WorkerEnv;
let amqp: ChannelModel;

async function stopWorker(w: CliProcess): Promise<void> {
  w.kill("SIGTERM");
  const { code } = await w.exited;
  expect(code).toBe(0);
}

/** Dead letters' error codes and task ids (read, then returned to the queue). */
async function deadLetters(): Promise<{ code: string; taskId: string }[]> {
  const ch = await amqp.createChannel();
  const out = [];
  for (;;) {
    const m = await ch.get("matches.dead_letter", { noAck: false });
    if (!m) break;
    const headers = (m.properties.headers ?? {}) as Record<string, unknown>;
    const body = JSON.parse(m.content.toString()) as { id?: unknown };
    out.push({ code: String(headers["x-matchflow-error-code"]), taskId: String(body.id) });
  }
  await ch.close();
  return out;
}

beforeAll(async () => {
  t = await createWorkerEnv("chaos");
  amqp = await connect(t.vhost.url);
});
afterEach(async () => t.killAll());
afterAll(async () => {
  await amqp?.close();
  await t?.teardown();
});

describe("worker under hostile input and interleavings", () => {
  it("dead-letters and records once an invalid task whose id is too long for an index, and stores its batch neighbours without a retry", async () => {
    // Celery protocol 1 carries the task id in the body: nothing but MAX_MESSAGE_BYTES bounds it.
    const longId = randomBytes(4000).toString("hex");
    const poison = Buffer.from(JSON.stringify({ id: longId, task: TASK, args: [{ home_team: "IFA", match_date: "2026-10-18" }], kwargs: {} }));
    const good = Array.from({ length: 60 }, (_, i) => makeMatch("longid", i));
    await t.publish(good.slice(0, 30));
    await publishConfirmed(t.vhost.url, [{ content: poison, properties: { contentType: "application/json", contentEncoding: "utf-8", deliveryMode: 2 } }]);
    await t.publish(good.slice(30));

    // RETRY_MAX=0: a neighbour made to fail by the poison would be dead-lettered, not retried.
    const w = await t.startWorker({ RETRY_MAX: "0" }, ["--concurrency", "1", "--batch-size", "100"]);
    await until(async () => (await t.ready("matches.dead_letter")) >= 1 && (await t.ready()) === 0, 30_000, "a dead letter and the queue drained");
    await until(async () => (await t.rows("longid")).total === good.length, 30_000, "every good row");
    await stopWorker(w);
    expect(await t.ready()).toBe(0); // nothing was left unacked: it would be back in the queue
    expect(await t.rows("longid")).toEqual({ total: good.length, distinct: good.length });
    expect(await deadLetters()).toEqual([{ code: "contract_violation", taskId: longId }]);
    const failures = await t.sql.query<{ reason_code: string; task_id: string }>("SELECT reason_code, task_id FROM ingest_failures");
    expect(failures.rows.map((r) => r.reason_code)).toEqual(["contract_violation"]);
    expect(w.logs.filter((l) => l.msg === "batch transaction failed")).toEqual([]);
  });
});
