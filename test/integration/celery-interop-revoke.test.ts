/**
 * `celery control` commands obeyed by matchflow's worker (CELERY_CONTROL=control), sent by real
 * Celery: `revoke` (asked for a reply, and as the default cast) stops the task when it arrives
 * (dead-lettered as task_revoked, nothing stored, TaskRevokedError for the rpc caller, listed by
 * `inspect revoked`), while other tasks run; `enable_events` / `disable_events` switch the task
 * events Flower reads on and off.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import amqp from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { broadcastAndGather } from "../../src/broker/pidbox-broadcast.js";
import { MF_HEADERS } from "../../src/broker/headers.js";
import { encodeTaskV2 } from "../../src/celery/codec.js";
import { until, type CliProcess } from "../helpers/cli.js";
import { makeMatch } from "../helpers/matches.js";
import { publishConfirmed } from "../helpers/rabbit.js";
import { createWorkerEnv, type WorkerEnv } from "../helpers/worker-env.js";
import { runInteropJson, startCeleryWorker } from "../interop/celery-process.js";
import { askWorkers } from "../interop/control-client.js";
import { watchEvents } from "../interop/events-monitor.js";

const TASK = "celery_tasks.match_tasks.process_match_data";
let t: WorkerEnv;
let worker: CliProcess;
let node: string;
const dir = mkdtempSync(join(tmpdir(), "mf-revoke-"));

interface Outcome {
  ok: boolean;
  value?: unknown;
  exc_type?: string;
  exc_module?: string;
  exc_message?: string;
  state: string;
}
interface RevokeRun {
  reply: Record<string, unknown>[] | null;
  revoked_id: string;
  listed: string[] | null;
  revoked_result: Outcome;
  kept_result: Outcome;
}

function revokeAndSend(mode: "call" | "cast", prefix: string): Promise<RevokeRun> {
  writeFileSync(join(dir, `${prefix}-revoked.json`), JSON.stringify(makeMatch(prefix, 1)));
  writeFileSync(join(dir, `${prefix}-kept.json`), JSON.stringify(makeMatch(prefix, 2)));
  return runInteropJson<RevokeRun>("revoke_client.py", [t.vhost.url, node, mode, join(dir, `${prefix}-revoked.json`), join(dir, `${prefix}-kept.json`)]);
}

beforeAll(async () => {
  t = await createWorkerEnv("revoke", { CELERY_CONTROL: "control", CELERY_EVENTS: "worker", RESULT_BACKEND: "rpc://" });
  worker = await t.startWorker();
  node = `matchflow.${worker.proc.pid}@${hostname()}`;
  await worker.waitForLog((l) => l.msg === "Celery monitoring on");
});

afterAll(async () => {
  await t?.teardown();
  rmSync(dir, { recursive: true, force: true });
});

describe("celery control commands obeyed by matchflow's worker", () => {
  it.each(["call", "cast"] as const)("revoke (%s): the task is not run but dead-lettered as task_revoked, its caller gets TaskRevokedError; another task runs", async (mode) => {
    const prefix = `rv${mode}`;
    const run = await revokeAndSend(mode, prefix);
    if (mode === "call") expect(run.reply).toEqual([{ [node]: { ok: `tasks ${run.revoked_id} flagged as revoked` } }]);
    expect(run.listed).toContain(run.revoked_id);
    expect(run.revoked_result).toMatchObject({ ok: false, exc_type: "TaskRevokedError", exc_module: "celery.exceptions", exc_message: "revoked", state: "REVOKED" });
    expect(run.kept_result).toMatchObject({ ok: true, value: { status: "created", external_match_id: `${prefix}-2` }, state: "SUCCESS" });
    // Nothing lost: the revoked task waits in the dead-letter queue (dlq requeue sends it back); nothing stored of it.
    expect(await t.rows(prefix)).toEqual({ total: 1, distinct: 1 });
    const letters = (await t.peek()).filter((m) => m.headers.id === run.revoked_id);
    expect(letters.map((m) => m.headers[MF_HEADERS.errorCode])).toEqual(["task_revoked"]);
  });

  it("enable_events / disable_events switch the task events a monitor sees", async () => {
    const watch = watchEvents(t.vhost.url, "tasks", 60, ["evsw-1", "evsw-3"]);
    await watch.ready;
    const sendAndStore = async (i: number) => {
      const id = `evsw-${i}`;
      await publishConfirmed(t.vhost.url, [encodeTaskV2({ taskName: TASK, taskId: id, args: [makeMatch("evsw", i)] })]);
      await until(async () => (await t.rows("evsw")).total === i, 30_000, `${id} stored`);
    };
    expect((await askWorkers(t.vhost.url, node, ["enable_events"])).enable_events).toEqual({ [node]: { ok: "task events enabled" } });
    await sendAndStore(1);
    expect((await askWorkers(t.vhost.url, node, ["disable_events"])).disable_events).toEqual({ [node]: { ok: "task events disabled" } });
    await sendAndStore(2);
    expect((await askWorkers(t.vhost.url, node, ["enable_events"])).enable_events).toEqual({ [node]: { ok: "task events enabled" } });
    expect((await askWorkers(t.vhost.url, node, ["enable_events"])).enable_events).toEqual({ [node]: { ok: "task events already enabled" } });
    await sendAndStore(3);
    const seen = await watch.seen;
    expect(seen.done).toBe(true);
    expect(seen.tasks["evsw-1"]).toMatchObject({ name: TASK, state: "SUCCESS", worker: node });
    expect(seen.tasks["evsw-3"]).toMatchObject({ name: TASK, state: "SUCCESS", worker: node });
    // Settled while task events were off: no event of it came (the worker's events leave in order,
    // so had any been sent, it would have come before evsw-3's).
    expect(seen.tasks["evsw-2"]).toBeUndefined();
  });
});

describe("revoked tasks outlive a worker's restart while another worker holds them (Celery's mingle)", () => {
  it("a starting Celery worker takes matchflow's revoked ids, a starting matchflow worker takes those of matchflow's and Celery's workers", async () => {
    const celeryNode = `celery-mingle@${hostname()}`;
    expect((await askWorkers(t.vhost.url, node, ["revoke=mg-1"]))["revoke=mg-1"]).toEqual({ [node]: { ok: "tasks mg-1 flagged as revoked" } });
    // A Celery worker (consuming another queue) syncs with matchflow's at start-up.
    const celery = startCeleryWorker(t.vhost.url, join(dir, "celery-mingle.jsonl"), { queues: "mingle-elsewhere", mingle: { nodeName: celeryNode } });
    try {
      await until(async () => (await askWorkers(t.vhost.url, celeryNode, ["ping"])).ping !== null, 60_000, "the Celery worker answering");
      // (With the ids the tests above revoked.)
      const celeryListed = (await askWorkers(t.vhost.url, celeryNode, ["revoked"])).revoked?.[celeryNode] as string[];
      expect(celeryListed).toContain("mg-1");
      // Revoked on the Celery worker alone, then a second matchflow worker starts: it takes both.
      expect((await askWorkers(t.vhost.url, celeryNode, ["revoke=mg-2"]))["revoke=mg-2"]).toEqual({ [celeryNode]: { ok: "tasks mg-2 flagged as revoked" } });
      const second = await t.startWorker();
      const secondNode = `matchflow.${second.proc.pid}@${hostname()}`;
      const synced = await second.waitForLog((l) => typeof l.msg === "string" && l.msg.startsWith("Celery mingle"));
      expect(synced).toMatchObject({ msg: "Celery mingle: took over the other workers' revoked tasks", answered: 2, revoked: celeryListed.length + 1 });
      expect(new Set(synced.nodes as string[])).toEqual(new Set([node, celeryNode]));
      const listed = (await askWorkers(t.vhost.url, secondNode, ["revoked"])).revoked?.[secondNode];
      expect(new Set(listed as string[])).toEqual(new Set([...celeryListed, "mg-2"]));
      // mg-2, revoked on the Celery worker alone, is written to the database by the worker that took it over.
      await until(async () => (await t.sql.query("SELECT 1 FROM celery_revoked WHERE task_id = 'mg-2'")).rowCount === 1, 10_000, "mg-2 written to celery_revoked");
      // The first worker stopped, the second one alone stops the task only the Celery worker was told of.
      await t.stopWorker(worker);
      await publishConfirmed(t.vhost.url, [encodeTaskV2({ taskName: TASK, taskId: "mg-2", args: [makeMatch("mg", 2)] })]);
      await until(async () => (await t.peek()).some((m) => m.headers.id === "mg-2"), 30_000, "mg-2 dead-lettered");
      expect((await t.peek()).find((m) => m.headers.id === "mg-2")?.headers[MF_HEADERS.errorCode]).toBe("task_revoked");
      expect(await t.rows("mg")).toEqual({ total: 0, distinct: 0 });
    } finally {
      await celery.stop();
    }
  });
});

describe("revoked tasks outlive a restart of every worker (celery_revoked in PostgreSQL)", () => {
  it("each revoke a worker obeys is written to the database; a worker starting alone reads it back and dead-letters the task", async () => {
    const stored = async () => (await t.sql.query<{ task_id: string }>("SELECT task_id FROM celery_revoked ORDER BY task_id")).rows.map((r) => r.task_id);
    const alive = await t.startWorker();
    const aliveNode = `matchflow.${alive.proc.pid}@${hostname()}`;
    await alive.waitForLog((l) => l.msg === "Celery monitoring on");
    expect((await askWorkers(t.vhost.url, aliveNode, ["revoke=dur-1"]))["revoke=dur-1"]).toEqual({ [aliveNode]: { ok: "tasks dur-1 flagged as revoked" } });
    // Written by each worker that obeyed (with the revokes of the tests above, when they ran).
    await until(async () => (await stored()).includes("dur-1"), 10_000, "dur-1 written");
    // A burst (40 revokes at once, while the first write is under way): every id is written.
    const burst = Array.from({ length: 40 }, (_, i) => `burst-${i}`);
    const conn = await amqp.connect(t.vhost.url);
    try {
      const channel = await conn.createChannel();
      const replies = await Promise.all(burst.map((id) => broadcastAndGather(channel, "revoke", { task_id: [id] }, { timeoutMs: 1000, destination: [aliveNode] })));
      expect(replies.every((r) => r.size === 1)).toBe(true);
    } finally {
      await conn.close();
    }
    await until(
      async () => {
        const ids = await stored();
        return burst.every((id) => ids.includes(id));
      },
      10_000,
      "the burst written",
    );
    // No worker left to pass the ids on (mingle): only the database knows them.
    await t.stopAll();
    await publishConfirmed(t.vhost.url, [1, 2].map((i) => encodeTaskV2({ taskName: TASK, taskId: `dur-${i}`, args: [makeMatch("dur", i)] })));
    const fresh = await t.startWorker();
    const read = await fresh.waitForLog((l) => l.msg === "revoked tasks read from the database");
    expect(read.revoked).toBe((await stored()).length);
    expect(await fresh.waitForLog((l) => typeof l.msg === "string" && l.msg.startsWith("Celery mingle"))).toMatchObject({ msg: "Celery mingle: no other worker answered (no revoked tasks to take over)" });
    await until(async () => (await t.rows("dur")).total === 1 && (await t.peek()).some((m) => m.headers.id === "dur-1"), 30_000, "dur-2 stored, dur-1 dead-lettered");
    expect((await t.peek()).find((m) => m.headers.id === "dur-1")?.headers[MF_HEADERS.errorCode]).toBe("task_revoked");
    expect(await t.rows("dur")).toEqual({ total: 1, distinct: 1 });
  });
});
