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
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MF_HEADERS } from "../../src/broker/headers.js";
import { encodeTaskV2 } from "../../src/celery/codec.js";
import { until, type CliProcess } from "../helpers/cli.js";
import { makeMatch } from "../helpers/matches.js";
import { publishConfirmed } from "../helpers/rabbit.js";
import { createWorkerEnv, type WorkerEnv } from "../helpers/worker-env.js";
import { askWorkers, runInteropScript } from "../interop/control-client.js";
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
  return runInteropScript<RevokeRun>("revoke_client.py", [t.vhost.url, node, mode, join(dir, `${prefix}-revoked.json`), join(dir, `${prefix}-kept.json`)]);
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
