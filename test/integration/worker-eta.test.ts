/**
 * Celery `eta` through the eta delay queues (`matches.eta.<ms>ms`), the worker as a real process
 * against the real RabbitMQ and PostgreSQL: a far eta does not stop the worker, even with
 * RETRY_MAX=0 (no retry queues); a near eta is not held up behind a retry waiting in a retry
 * queue; the task waits unchanged.
 */
import { connect, type ChannelModel, type Options } from "amqplib";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { encodeTaskV2 } from "../../src/celery/codec.js";
import { until, type CliProcess } from "../helpers/cli.js";
import { makeMatch } from "../helpers/matches.js";
import { createWorkerEnv, type WorkerEnv } from "../helpers/worker-env.js";

const TASK = "celery_tasks.match_tasks.process_match_data";
let t: WorkerEnv;
let amqp: ChannelModel;

beforeAll(async () => {
  t = await createWorkerEnv("workereta");
  amqp = await connect(t.vhost.url);
});
afterEach(async () => t.killAll());
afterAll(async () => {
  await amqp?.close();
  await t?.teardown();
});

async function stopWorker(w: CliProcess): Promise<void> {
  w.kill("SIGTERM");
  const { code } = await w.exited;
  expect(code).toBe(0);
}

/** Publishes through the default exchange straight into `queue`, confirmed. */
async function sendToQueue(queue: string, content: Buffer, properties: Options.Publish): Promise<void> {
  const ch = await amqp.createConfirmChannel();
  ch.sendToQueue(queue, content, { deliveryMode: 2, ...properties });
  await ch.waitForConfirms();
  await ch.close();
}

function etaTask(taskId: string, prefix: string, eta: Date) {
  return encodeTaskV2({ taskName: TASK, taskId, args: [makeMatch(prefix, 1)], eta: eta.toISOString() });
}

/** When the row was written: the writing transaction's start (same clock as ours: one machine). */
async function createdAt(prefix: string): Promise<number[]> {
  const rows = await t.sql.query<{ created_at: Date }>("SELECT created_at FROM matches WHERE external_match_id LIKE $1", [`${prefix}-%`]);
  return rows.rows.map((r) => r.created_at.getTime());
}

describe("worker with Celery etas", () => {
  it("with RETRY_MAX=0, a task due in an hour waits in an eta queue while the 100 tasks after it are stored and acked", async () => {
    // A prefetch of 10: a task held unacked would stop the worker after 9 more (acks are cumulative).
    const w = await t.startWorker({ RETRY_MAX: "0", WORKER_PREFETCH: "10" });
    const eta = new Date(Date.now() + 3_600_000);
    const far = etaTask("f0000000-0000-4000-8000-000000000001", "far", eta);
    await sendToQueue("matches", far.content, far.properties);
    await t.publish(Array.from({ length: 100 }, (_, i) => makeMatch("after", i)));
    await until(async () => (await t.rows("after")).total === 100, 30_000, "the 100 tasks published after the far one stored");
    await stopWorker(w);

    // Everything was acked: nothing went back to the work queue when the worker stopped.
    expect(await t.ready("matches")).toBe(0);
    expect(await t.rows("far")).toEqual({ total: 0, distinct: 0 });
    // An hour away: the longest tier not above 59:59 is 1024 s.
    expect(await t.ready("matches.eta.1024000ms")).toBe(1);
    const deferred = w.logs.filter((l) => l.externalMatchId === "far-1" && typeof l.outcome === "string");
    expect(deferred.map((l) => [l.outcome, l.delayMs])).toEqual([["deferred", 1_024_000]]);

    // The copy is the task unchanged (same id, retries, eta, body), with no per-message TTL.
    const ch = await amqp.createChannel();
    try {
      const copy = await ch.get("matches.eta.1024000ms", { noAck: false });
      expect(copy).not.toBe(false);
      if (copy === false) return;
      expect(copy.content.equals(far.content)).toBe(true);
      expect(copy.properties.headers).toMatchObject({ id: "f0000000-0000-4000-8000-000000000001", retries: 0, eta: eta.toISOString() });
      expect(copy.properties.correlationId).toBe("f0000000-0000-4000-8000-000000000001");
      expect(copy.properties.expiration).toBeUndefined();
      ch.nack(copy, false, true);
    } finally {
      await ch.close();
    }
  });

  it("stores a task due in 2.5 s no earlier than its eta, not behind a 60 s retry already waiting in the retry queue", async () => {
    const w = await t.startWorker({ RETRY_BASE_DELAY: "60s", RETRY_MAX: "3" });
    // An earlier retry, as the worker publishes one: into the first retry queue, with its delay
    // as the per-message TTL. The old eta path put a near eta into this queue, behind it.
    const older = encodeTaskV2({ taskName: TASK, taskId: "r0000000-0000-4000-8000-000000000001", args: [makeMatch("older", 1)], retries: 1 });
    await sendToQueue("matches.retry.60000ms", older.content, { ...older.properties, expiration: "60000" });

    const eta = new Date(Date.now() + 2500);
    const near = etaTask("n0000000-0000-4000-8000-000000000001", "near", eta);
    await sendToQueue("matches", near.content, near.properties);
    await until(async () => (await t.rows("near")).total === 1, 20_000, "the near task stored within 20 s");
    for (const at of await createdAt("near")) expect(at).toBeGreaterThanOrEqual(eta.getTime());
    // The retry is still waiting: the near task did not wait for it.
    expect(await t.rows("older")).toEqual({ total: 0, distinct: 0 });
    await stopWorker(w);

    const outcomes = w.logs.filter((l) => l.externalMatchId === "near-1" && typeof l.outcome === "string");
    // 2.5 s: the 1 s tier once or twice (each not a retry), the rest held in memory, then stored once.
    expect(outcomes.filter((l) => l.outcome === "deferred").map((l) => l.delayMs)).toEqual(expect.arrayContaining([1000]));
    expect(outcomes.filter((l) => l.outcome === "deferred").every((l) => l.delayMs === 1000)).toBe(true);
    expect(outcomes.filter((l) => l.outcome !== "deferred").map((l) => l.outcome)).toEqual(["created"]);
  });

  it("re-creates an eta queue deleted under a running worker: the copy is published again, the task stored after its eta", async () => {
    const w = await t.startWorker();
    const ch = await amqp.createChannel();
    await ch.deleteQueue("matches.eta.1000ms");
    await ch.close();
    const eta = new Date(Date.now() + 2500);
    const task = etaTask("u0000000-0000-4000-8000-000000000001", "gone", eta);
    await sendToQueue("matches", task.content, task.properties);
    await until(async () => (await t.rows("gone")).total === 1, 20_000, "the task stored");
    for (const at of await createdAt("gone")) expect(at).toBeGreaterThanOrEqual(eta.getTime());
    expect(w.logs.find((l) => /eta delay copy returned unroutable/.test(String(l.msg)))).toMatchObject({ level: "error", queue: "matches.eta.1000ms", declared: true });
    await stopWorker(w);
  });
});
