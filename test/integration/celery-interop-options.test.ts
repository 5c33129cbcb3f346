/**
 * apply_async options a Celery user sets, sent by the real Python Celery to the real matchflow
 * worker: a naive `expires` (Celery reads it as UTC, whatever the worker's time zone), and, with
 * the rpc:// result backend, `ignore_result=True` (no result published) and an expired task
 * (revoked: the caller's get() raises TaskRevokedError, as from a Celery worker).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { makeMatch } from "../helpers/matches.js";
import { createWorkerEnv, type WorkerEnv } from "../helpers/worker-env.js";
import { INTEROP_DIR, PYTHON } from "../interop/celery-process.js";

const dir = mkdtempSync(join(tmpdir(), "mf-options-"));
let t: WorkerEnv;

beforeAll(async () => {
  t = await createWorkerEnv("coptions");
});
afterEach(async () => t.killAll());
afterAll(async () => {
  await t?.teardown();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs send_options.py with one match; returns the JSON line it printed. */
async function sendOptions(mode: "expires-naive" | "rpc-ignore-result" | "rpc-expired", match: unknown, ...extra: string[]): Promise<Record<string, unknown>> {
  const file = join(dir, `${mode}.json`);
  writeFileSync(file, JSON.stringify(match));
  const { stdout } = await promisify(execFile)(PYTHON, ["send_options.py", t.vhost.url, mode, file, ...extra], { cwd: INTEROP_DIR, env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" } });
  return JSON.parse(stdout.trim().split("\n").at(-1) ?? "null") as Record<string, unknown>;
}

describe("Celery apply_async options, real Celery producer -> matchflow worker", () => {
  it("expires=<naive datetime> ten minutes ahead is read as UTC by a worker in another time zone: the task runs (was: dead-lettered task_expired under TZ=Asia/Tokyo)", async () => {
    const w = await t.startWorker({ TZ: "Asia/Tokyo" });
    const sent = await sendOptions("expires-naive", makeMatch("naive", 1), "600");
    expect(sent.expires).not.toMatch(/[+-]\d\d:\d\d$|Z$/); // naive, as Python wrote it
    const outcome = await w.waitForLog((l) => l.taskId === sent.id && typeof l.outcome === "string");
    expect(outcome).toMatchObject({ outcome: "created" });
    expect(await t.rows("naive")).toEqual({ total: 1, distinct: 1 });
  });

  it("with the rpc:// backend, a task sent with ignore_result=True gets no result (was: one the caller's client received and kept), the next one its result", async () => {
    // One transaction at a time: the two tasks are settled, and any result published, in order.
    await t.startWorker({ RESULT_BACKEND: "rpc://", WORKER_CONCURRENCY: "1" });
    const got = await sendOptions("rpc-ignore-result", makeMatch("ignored", 1));
    expect(got.result).toMatchObject({ status: "created", external_match_id: "ignored-1-b" });
    // A result for the first would have reached the client before the second's.
    expect(got.seen).toEqual([got.second]);
    expect(await t.rows("ignored")).toEqual({ total: 2, distinct: 2 });
  });

  it("with the rpc:// backend, an expired task is revoked: the caller's get() raises TaskRevokedError (was: a RuntimeError FAILURE), the task is not run", async () => {
    await t.startWorker({ RESULT_BACKEND: "rpc://" });
    const got = await sendOptions("rpc-expired", makeMatch("expired", 1));
    expect(got).toMatchObject({ ok: false, exc_type: "TaskRevokedError", exc_module: "celery.exceptions", exc_message: "expired", state: "REVOKED" });
    expect(await t.rows("expired")).toEqual({ total: 0, distinct: 0 });
  });
});
