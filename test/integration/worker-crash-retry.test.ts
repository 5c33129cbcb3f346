/**
 * Retry and eta copies across worker crashes and restarts: the copies wait in the broker's delay
 * queues, not in the worker, so a worker SIGKILLed or stopped while they wait must change nothing:
 * attempts go on from where they were (not from 0, none skipped), no copy comes back before its
 * delay, no task runs before its eta, none is dead-lettered early, each is stored once. And the
 * crash between a retry copy's confirm and the original's ack leaves two copies of one task:
 * reproduced exactly, then by killing a retrying worker at random moments; one row each.
 */
import { connect, type ChannelModel, type Options } from "amqplib";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { decodeTask, encodeTaskV2 } from "../../src/celery/codec.js";
import { TransientError } from "../../src/errors.js";
import { buildRetryMessage } from "../../src/worker/outgoing.js";
import { until, type CliProcess } from "../helpers/cli.js";
import { makeMatch } from "../helpers/matches.js";
import { lockMatchesTable } from "../helpers/pg.js";
import { createWorkerEnv, type WorkerEnv } from "../helpers/worker-env.js";

const TASK = "celery_tasks.match_tasks.process_match_data";
let t: WorkerEnv;
let amqp: ChannelModel;

beforeAll(async () => {
  t = await createWorkerEnv("crashretry");
  amqp = await connect(t.vhost.url);
});
afterEach(async () => t.killAll());
afterAll(async () => {
  await amqp?.close();
  await t?.teardown();
});

async function sendToQueue(queue: string, content: Buffer, properties: Options.Publish): Promise<void> {
  const ch = await amqp.createConfirmChannel();
  ch.sendToQueue(queue, content, { deliveryMode: 2, ...properties });
  await ch.waitForConfirms();
  await ch.close();
}

const at = (l: Record<string, unknown>) => Date.parse(String(l.time));
const outcomesOf = (workers: CliProcess[], taskId: string, outcome: string) => workers.flatMap((w) => w.logs.filter((l) => l.taskId === taskId && l.outcome === outcome));

/** When the row was written: the writing transaction's start (same clock as the logs: one machine). */
async function createdAt(externalId: string): Promise<number> {
  const r = await t.sql.query<{ created_at: Date }>("SELECT created_at FROM matches WHERE external_match_id = $1", [externalId]);
  expect(r.rows).toHaveLength(1);
  return (r.rows[0] as { created_at: Date }).created_at.getTime();
}

/**
 * The "batch transaction failed" line of the batch a task's "retried" line belongs to: with
 * concurrency 1, the last one before it. Its retry copy was published after it, so the copy's
 * delay runs from no earlier than this line.
 */
function failedBefore(w: CliProcess, retried: Record<string, unknown>): number {
  const line = w.logs.filter((l) => l.msg === "batch transaction failed" && w.logs.indexOf(l) < w.logs.indexOf(retried)).at(-1);
  expect(line).toBeDefined();
  return at(line as Record<string, unknown>);
}

describe("retry and eta copies across worker crashes", () => {
  it("retry copies waiting while the worker is SIGKILLed, then SIGTERMed: attempts go on 1, 2, 3, never early, each task stored once, no dead letter", async () => {
    const env = { DB_LOCK_TIMEOUT: "150ms", RETRY_BASE_DELAY: "1500ms", RETRY_MAX_DELAY: "6s", RETRY_MAX: "6" };
    const args = ["--concurrency", "1", "--batch-size", "100"];
    const m = 10;
    const lock = await lockMatchesTable(t.db.url);
    const workers: CliProcess[] = [];
    let ids: string[] = [];
    const allRetried = (w: CliProcess, attempt: number) => until(() => ids.every((id) => w.logs.some((l) => l.taskId === id && l.outcome === "retried" && l.attempt === attempt)), 30_000, `every task retried (attempt ${attempt})`);
    try {
      workers.push(await t.startWorker(env, args));
      ids = await t.publish(Array.from({ length: m }, (_, i) => makeMatch("rt", i)));
      await allRetried(workers[0] as CliProcess, 1);
      // Every copy confirmed and its original acked: the worker holds nothing the broker would give back.
      (workers[0] as CliProcess).kill("SIGKILL");
      await (workers[0] as CliProcess).exited;

      workers.push(await t.startWorker(env, args));
      await allRetried(workers[1] as CliProcess, 2);
      await t.stopWorker(workers[1] as CliProcess);

      workers.push(await t.startWorker(env, args));
      await allRetried(workers[2] as CliProcess, 3);
      expect(await t.ready("matches.dead_letter")).toBe(0);
      await lock.release();
      const waiting = async () => (await t.ready()) + (await t.ready("matches.retry.1500ms")) + (await t.ready("matches.retry.3000ms")) + (await t.ready("matches.retry.6000ms"));
      await until(async () => (await t.rows("rt")).total === m && (await waiting()) === 0, 30_000, "every task stored, retry queues empty");
    } finally {
      await lock.close();
    }
    await t.stopWorker(workers[2] as CliProcess);
    expect(await t.rows("rt")).toEqual({ total: m, distinct: m });
    expect(await t.ready("matches.dead_letter")).toBe(0);

    let windowHit = 0;
    for (const [i, id] of ids.entries()) {
      expect(outcomesOf(workers, id, "created")).toHaveLength(1);
      expect(outcomesOf(workers, id, "dead_lettered")).toEqual([]);
      const byWorker = workers.map((w) => w.logs.filter((l) => l.taskId === id && l.outcome === "retried"));
      if (byWorker[1]?.some((l) => l.redelivered === true)) {
        // SIGKILL between the copy's confirm and the flush of the original's ack (seen on a loaded
        // machine): the original came back too, a second chain from attempt 1. The copy's chain
        // still went on (2 after 1), and the two ended as one row.
        windowHit++;
        expect(byWorker[1]?.filter((l) => l.redelivered !== true).map((l) => l.attempt)).toContain(2);
        expect(outcomesOf(workers, id, "unchanged")).toHaveLength(1);
        continue;
      }
      // Worker k logged attempt k only: not reset by a restart, none skipped, none twice.
      expect(byWorker.map((lines) => lines.map((l) => l.attempt))).toEqual([[1], [2], [3]]);
      expect(outcomesOf(workers, id, "unchanged")).toEqual([]);
      // The schedule across the restarts: each attempt no sooner than the previous copy's delay.
      const retried = workers.map((w) => w.logs.find((l) => l.taskId === id && l.outcome === "retried") as Record<string, unknown>);
      for (let k = 0; k < 2; k++) {
        const prev = retried[k] as Record<string, unknown>;
        expect(at(retried[k + 1] as Record<string, unknown>) - failedBefore(workers[k] as CliProcess, prev)).toBeGreaterThanOrEqual(Number(prev.delayMs) - 5);
      }
      const third = retried[2] as Record<string, unknown>;
      expect((await createdAt(`rt-${i}`)) - failedBefore(workers[2] as CliProcess, third)).toBeGreaterThanOrEqual(Number(third.delayMs) - 5);
    }
    expect(windowHit).toBeLessThan(m); // the restarts' continuity was checked on some tasks at least
  });

  it("eta tasks waiting in an eta queue or held unacked while the worker is SIGKILLed, then SIGTERMed: each stored once, never before its eta, never counted as a retry", async () => {
    const workers: CliProcess[] = [];
    const etas = new Map<string, number>();
    const send = async (prefix: string, inMs: number) => {
      const eta = Date.now() + inMs;
      etas.set(prefix, eta);
      const task = encodeTaskV2({ taskName: TASK, taskId: `${prefix}-0000-4000-8000-000000000001`, args: [makeMatch(prefix, 1)], eta: new Date(eta).toISOString() });
      await sendToQueue("matches", task.content, task.properties);
    };
    /** A far task in the 4 s eta queue, and a task due within a second held unacked by the worker; then `signal`. */
    const crashWhileWaiting = async (w: CliProcess, far: string, held: string, signal: NodeJS.Signals) => {
      await send(far, 6000);
      await w.waitForLog((l) => l.externalMatchId === `${far}-1` && l.outcome === "deferred" && l.delayMs === 4000);
      // Due in a second at most: held in memory, unacked (eta.ts), once delivered.
      await send(held, 1000);
      await until(async () => (await t.ready()) === 0, 5_000, "the near task delivered");
      w.proc.kill("SIGSTOP"); // its hold timer cannot fire now: it is killed or stopped while holding
      expect(await t.rows(held)).toEqual({ total: 0, distinct: 0 });
      w.proc.kill("SIGCONT");
      w.kill(signal);
      const { code } = await w.exited;
      expect(code).toBe(signal === "SIGTERM" ? 0 : null);
      expect(await t.rows(far)).toEqual({ total: 0, distinct: 0 });
    };

    workers.push(await t.startWorker());
    await crashWhileWaiting(workers[0] as CliProcess, "etaf1", "etah1", "SIGKILL");
    workers.push(await t.startWorker());
    await crashWhileWaiting(workers[1] as CliProcess, "etaf2", "etah2", "SIGTERM");
    workers.push(await t.startWorker());
    await until(async () => {
      for (const prefix of etas.keys()) if ((await t.rows(prefix)).total !== 1) return false;
      return true;
    }, 30_000, "every eta task stored");
    await t.stopWorker(workers[2] as CliProcess);

    for (const [prefix, eta] of etas) {
      expect(await t.rows(prefix)).toEqual({ total: 1, distinct: 1 });
      expect(await createdAt(`${prefix}-1`)).toBeGreaterThanOrEqual(eta);
      const lines = workers.flatMap((w) => w.logs.filter((l) => l.externalMatchId === `${prefix}-1` && typeof l.outcome === "string"));
      expect(lines.filter((l) => l.outcome !== "deferred").map((l) => l.outcome)).toEqual(["created"]);
    }
    expect(await t.ready("matches.dead_letter")).toBe(0);
  });

  it("a crash between the retry copy's confirm and the original's ack (both copies then run): one row, no dead letter, whether the failure persists or not", async () => {
    const env = { DB_LOCK_TIMEOUT: "150ms", RETRY_BASE_DELAY: "1s", RETRY_MAX_DELAY: "2s", RETRY_MAX: "6" };
    /** What such a crash leaves: the original back in the work queue, and the copy the worker built and the broker confirmed. */
    const twoCopies = async (prefix: string) => {
      const taskId = `${prefix}-0000-4000-8000-000000000001`;
      const original = encodeTaskV2({ taskName: TASK, taskId, args: [makeMatch(prefix, 1)] });
      const envelope = decodeTask(original.content, original.properties, { maxBytes: 65_536 });
      const inbound = { content: original.content, properties: original.properties as never, exchange: "matches", routingKey: "matches.process", redelivered: false, receivedAt: Date.now(), token: undefined };
      const retry = buildRetryMessage(envelope, inbound, new TransientError("db_lock_timeout", "lock timeout"), 1, 1000, Date.now());
      await sendToQueue("matches.retry.1000ms", retry.content, { ...retry.properties, expiration: "1000" });
      await sendToQueue("matches", original.content, { ...original.properties, headers: original.properties.headers as never });
      return taskId;
    };

    // The failure is gone: the original is stored, the copy a second later finds it "unchanged".
    const w1 = await t.startWorker(env, ["--concurrency", "1"]);
    const cleared = await twoCopies("twocl");
    await until(() => w1.logs.filter((l) => l.taskId === cleared && l.msg === "task done").length === 2, 15_000, "both copies settled");
    await t.stopWorker(w1);
    expect(w1.logs.filter((l) => l.taskId === cleared && typeof l.outcome === "string").map((l) => l.outcome)).toEqual(["created", "unchanged"]);
    expect(await t.rows("twocl")).toEqual({ total: 1, distinct: 1 });

    // The failure persists a while: two retry chains of one task, both then stored as one row.
    const lock = await lockMatchesTable(t.db.url);
    let w2: CliProcess;
    let persisted: string;
    try {
      w2 = await t.startWorker(env, ["--concurrency", "1"]);
      persisted = await twoCopies("twoper");
      const attempts = () => w2.logs.filter((l) => l.taskId === persisted && l.outcome === "retried").map((l) => Number(l.attempt));
      // The original's chain reaches attempt 2 too (the copy's chain got there first): both chains ran.
      await until(() => attempts().filter((a) => a === 2).length === 2, 20_000, "both chains at attempt 2");
      await lock.release();
      await until(() => w2.logs.filter((l) => l.taskId === persisted && l.msg === "task done").length === 2, 20_000, "both chains settled");
    } finally {
      await lock.close();
    }
    await t.stopWorker(w2);
    const settled = w2.logs.filter((l) => l.taskId === persisted && l.msg === "task done").map((l) => l.outcome);
    expect(settled).toEqual(["created", "unchanged"]);
    expect(await t.rows("twoper")).toEqual({ total: 1, distinct: 1 });
    expect(await t.ready("matches.dead_letter")).toBe(0);
  });

  it("SIGKILLed at random moments while every batch fails and is retried (copies being published and originals acked), restarted each time: every task stored once, none dead-lettered", async () => {
    const env = { DB_LOCK_TIMEOUT: "50ms", RETRY_BASE_DELAY: "200ms", RETRY_MAX_DELAY: "400ms", RETRY_MAX: "100" };
    const n = 300;
    const seed = Number(process.env.CRASH_SEED ?? Date.now() % 100_000);
    let state = seed;
    const random = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31); // replayable from the seed
    const workers: CliProcess[] = [];
    const lock = await lockMatchesTable(t.db.url);
    try {
      const ids = await t.publish(Array.from({ length: n }, (_, i) => makeMatch("rkill", i)));
      for (let round = 0; round < 5; round++) {
        const w = await t.startWorker(env, ["--concurrency", "2", "--batch-size", "5"]);
        workers.push(w);
        const retries = 20 + Math.floor(random() * 200);
        await until(() => w.logs.filter((l) => l.outcome === "retried").length >= retries, 30_000, `round ${round}: ${retries} retries (seed ${seed})`);
        w.kill("SIGKILL");
        await w.exited;
      }
      await lock.release();
      const last = await t.startWorker(env, ["--concurrency", "2", "--batch-size", "5"]);
      workers.push(last);
      const waiting = async () => (await t.ready()) + (await t.ready("matches.retry.200ms")) + (await t.ready("matches.retry.400ms"));
      await until(async () => (await t.rows("rkill")).total === n && (await waiting()) === 0, 60_000, `every task stored, queues drained (seed ${seed})`);
      await t.stopWorker(last);
      expect(await t.rows("rkill")).toEqual({ total: n, distinct: n });
      expect(await t.ready("matches.dead_letter")).toBe(0);
      expect(workers.flatMap((w) => w.logs.filter((l) => l.outcome === "dead_lettered"))).toEqual([]);
      // Tasks with two live copies (a kill between a copy's confirm and its original's ack):
      // stored as often as they had copies, one row each. Reported, not asserted (timing).
      const doneTwice = ids.filter((id) => last.logs.filter((l) => l.taskId === id && l.msg === "task done").length > 1).length;
      console.info(`kill-while-retrying seed ${seed}: tasks stored again as "unchanged" by a second live copy: ${doneTwice}`);
    } finally {
      await lock.close();
    }
  });
});
