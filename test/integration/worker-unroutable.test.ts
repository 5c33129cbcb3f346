/**
 * A retry or dead-letter queue deleted under a running worker (an operator re-creating queues,
 * an `x-expires` policy): the worker's copy comes back unroutable, and the worker re-declares
 * the queue and publishes the copy again instead of acking the original away. Also: when it
 * may not re-declare (permissions), it holds the task with a growing pause, never a hot loop.
 */
import { randomUUID } from "node:crypto";
import { connect, type ChannelModel, type Options } from "amqplib";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { encodeTaskV2 } from "../../src/celery/codec.js";
import type { CliProcess } from "../helpers/cli.js";
import { makeMatch } from "../helpers/matches.js";
import { managementApi } from "../helpers/rabbit.js";
import { createWorkerEnv, type WorkerEnv } from "../helpers/worker-env.js";

const TASK = "celery_tasks.match_tasks.process_match_data";
const DEAD_LETTER_QUEUE = "matches.dead_letter";
// RETRY_BASE_DELAY 60s: the retry copy stays in its delay queue long enough to be counted there.
const RETRY_QUEUE = "matches.retry.60000ms";
const RETURNED = /copy returned unroutable/;
let t: WorkerEnv;
let amqp: ChannelModel;

async function deleteQueue(queue: string): Promise<void> {
  const ch = await amqp.createChannel();
  await ch.deleteQueue(queue);
  await ch.close();
}

async function rawPublish(content: Buffer, properties: Options.Publish): Promise<void> {
  const ch = await amqp.createConfirmChannel();
  ch.publish("matches", "matches.process", content, { deliveryMode: 2, ...properties });
  await ch.waitForConfirms();
  await ch.close();
}

/** A message the worker must dead-letter (`unsupported_content_type`), without a correlation id. */
function publishPoison(body: string): Promise<void> {
  return rawPublish(Buffer.from(body), { contentType: "text/plain" });
}

/** A valid task, published raw: matchflow's publisher would declare the deleted queues again. */
function publishTask(prefix: string, i: number): Promise<void> {
  const msg = encodeTaskV2({ taskName: TASK, taskId: randomUUID(), args: [makeMatch(prefix, i)] });
  return rawPublish(msg.content, msg.properties);
}

async function setConfigurePermission(regex: string): Promise<void> {
  const res = await managementApi("PUT", `/permissions/${encodeURIComponent(t.vhost.name)}/guest`, { configure: regex, write: ".*", read: ".*" });
  expect(res.ok).toBe(true);
}

async function metricsOf(w: CliProcess): Promise<string> {
  const port = Number((await w.waitForLog((l) => l.msg === "ops HTTP server listening (/metrics, /healthz, /readyz)")).port);
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

/** Holds an exclusive lock on `matches` (every write times out: a transient failure) while `body` runs. */
async function withMatchesLocked(body: () => Promise<void>): Promise<void> {
  const locker = await t.sql.connect();
  try {
    await locker.query("BEGIN; LOCK TABLE matches IN ACCESS EXCLUSIVE MODE");
    await body();
  } finally {
    await locker.query("ROLLBACK").catch(() => undefined);
    locker.release();
  }
}

beforeAll(async () => {
  t = await createWorkerEnv("unroutable", { RETRY_BASE_DELAY: "60s", DB_LOCK_TIMEOUT: "150ms" });
  amqp = await connect(t.vhost.url);
});
afterEach(async () => {
  await t.killAll();
  await setConfigurePermission(".*");
  // Each test starts from an empty topology; the next worker declares it again.
  for (const queue of ["matches", DEAD_LETTER_QUEUE, RETRY_QUEUE]) await deleteQueue(queue);
});
afterAll(async () => {
  await amqp?.close();
  await t?.teardown();
});

describe("worker with a deleted retry or dead-letter queue", () => {
  it("re-creates a deleted dead-letter queue and lands the dead letter in it", async () => {
    const w = await t.startWorker();
    await deleteQueue(DEAD_LETTER_QUEUE);
    await publishPoison("not json");
    const returned = await w.waitForLog((l) => RETURNED.test(String(l.msg)));
    expect(returned).toMatchObject({ level: "error", queue: DEAD_LETTER_QUEUE, declared: true, pauseMs: 0 });
    await w.waitForLog((l) => l.outcome === "dead_lettered");
    expect(await t.ready(DEAD_LETTER_QUEUE)).toBe(1);
    expect(await t.ready("matches")).toBe(0);
    expect(await metricsOf(w)).toMatch(/matchflow_unroutable_copies_total\{queue="matches.dead_letter"\} 1/);
  });

  it("re-creates a deleted dead-letter exchange (before, each dead letter closed the confirm channel, for ever) and lands the dead letter", async () => {
    const w = await t.startWorker();
    const ch = await amqp.createChannel();
    await ch.deleteExchange("matches.dlx");
    await ch.close();
    await publishPoison("not json either");
    const returned = await w.waitForLog((l) => RETURNED.test(String(l.msg)));
    expect(returned).toMatchObject({ level: "error", declared: true, pauseMs: 0, msg: expect.stringContaining('exchange "matches.dlx" does not exist') as string });
    await w.waitForLog((l) => l.outcome === "dead_lettered");
    expect(await t.ready(DEAD_LETTER_QUEUE)).toBe(1);
    expect(await t.ready("matches")).toBe(0);
    expect(w.logs.filter((l) => /publish channel error|channel closed/i.test(String(l.msg)))).toEqual([]);
  });

  it("re-creates a deleted retry queue and lands the retry in it", async () => {
    await withMatchesLocked(async () => {
      const w = await t.startWorker();
      await deleteQueue(RETRY_QUEUE);
      await publishTask("retry", 1);
      await w.waitForLog((l) => l.outcome === "retried" && l.externalMatchId === "retry-1");
      expect(w.logs.find((l) => RETURNED.test(String(l.msg)))).toMatchObject({ queue: RETRY_QUEUE, declared: true });
      expect(await t.ready(RETRY_QUEUE)).toBe(1);
      expect(await t.ready("matches")).toBe(0);
    });
  });

  it("re-creates a deleted dead-letter queue for a task whose retries are exhausted (RETRY_MAX=0)", async () => {
    await withMatchesLocked(async () => {
      const w = await t.startWorker({ RETRY_MAX: "0" });
      await deleteQueue(DEAD_LETTER_QUEUE);
      await publishTask("exhausted", 1);
      const dead = await w.waitForLog((l) => l.outcome === "dead_lettered" && l.externalMatchId === "exhausted-1");
      expect(dead).toMatchObject({ reason: "retries_exhausted", code: "db_lock_timeout" });
      expect(w.logs.find((l) => RETURNED.test(String(l.msg)))).toMatchObject({ queue: DEAD_LETTER_QUEUE, declared: true });
      expect(await t.ready(DEAD_LETTER_QUEUE)).toBe(1);
      expect(await t.ready("matches")).toBe(0);
    });
  });

  it("holds the task with a growing pause while it may not re-declare the queue, then delivers it", async () => {
    const w = await t.startWorker();
    await deleteQueue(DEAD_LETTER_QUEUE);
    // Everything but the dead-letter queue may still be declared.
    await setConfigurePermission("^(?!matches\\.dead_letter$).*");
    await publishPoison("held");
    const rounds = () => w.logs.filter((l) => RETURNED.test(String(l.msg)));
    await w.waitForLog((l) => RETURNED.test(String(l.msg)) && l.round === 3, 30_000);
    const at = rounds().map((l) => Date.parse(String(l.time)));
    // Pauses of 1 s then 1 s (each round logs after its failed re-declaration, before its pause).
    expect(rounds().map((l) => [l.round, l.declared, l.pauseMs])).toEqual([
      [1, false, 1000],
      [2, false, 1000],
      [3, false, 2000],
    ]);
    expect((at[2] as number) - (at[0] as number)).toBeGreaterThanOrEqual(1900);
    expect(w.logs.some((l) => l.msg === "could not re-declare the topology (check the user's configure permission on the queues); trying again later")).toBe(true);
    // Held unacked: neither ready again (no requeue loop) nor settled.
    expect(await t.ready("matches")).toBe(0);
    expect(w.logs.some((l) => l.outcome === "dead_lettered")).toBe(false);

    await setConfigurePermission(".*");
    await w.waitForLog((l) => l.outcome === "dead_lettered", 30_000);
    expect(w.logs.some((l) => l.msg === "dead letter copy published after re-declaring its queue")).toBe(true);
    expect(await t.ready(DEAD_LETTER_QUEUE)).toBe(1);
  });
});
