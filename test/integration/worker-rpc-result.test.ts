/**
 * Celery rpc:// results from the real worker: a Python Celery client sends the task with
 * `backend="rpc://"`; `matchflow worker` with RESULT_BACKEND=rpc:// stores the match and answers,
 * so `AsyncResult.get()` returns the outcome (or raises for a dead-lettered task).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeMatch } from "../helpers/matches.js";
import { createWorkerEnv, type WorkerEnv } from "../helpers/worker-env.js";
import { runInteropJson } from "../interop/celery-process.js";

const dir = mkdtempSync(join(tmpdir(), "mf-wrpc-"));
let t: WorkerEnv;

beforeAll(async () => {
  t = await createWorkerEnv("wrpc", { RESULT_BACKEND: "rpc://" });
  await t.startWorker();
});
afterAll(async () => {
  await t?.teardown();
  rmSync(dir, { recursive: true, force: true });
});

function pythonCall(match: unknown, name: string): Promise<Record<string, unknown>> {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(match));
  return runInteropJson<Record<string, unknown>>("rpc_client.py", [t.vhost.url, file]);
}

describe("worker rpc:// results", () => {
  it("answers AsyncResult.get() with the outcome of a stored match", async () => {
    const answer = await pythonCall(makeMatch("rpc", 1), "good");
    expect(answer).toMatchObject({ ok: true, state: "SUCCESS", result: { status: "created", external_match_id: "rpc-1" } });
    expect(typeof (answer.result as { match_id: unknown }).match_id).toBe("number");
    expect((await t.rows("rpc")).total).toBe(1);
  });

  it("raises in the Python caller when the task is dead-lettered", async () => {
    const answer = await pythonCall({ home_team: "IFA", match_date: "2025-10-18" }, "bad");
    expect(answer).toMatchObject({ ok: false, state: "FAILURE", exc_type: "RuntimeError" });
    expect(String(answer.exc_message)).toMatch(/^contract_violation: away_team is required/);
  });
});
