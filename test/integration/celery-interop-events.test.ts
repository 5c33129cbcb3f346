/**
 * Celery monitoring events from matchflow's worker (CELERY_EVENTS), read by real Celery the way
 * Flower reads them: `app.events.Receiver` feeding `app.events.State` (test/interop/events_monitor.py).
 * The worker is listed alive with its heartbeats, its tasks with their names, states, args and
 * results, a dead-lettered one failed with its error code; once stopped, the worker is offline.
 */
import { hostname } from "node:os";
import { connect } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeTaskV2 } from "../../src/celery/codec.js";
import type { CliProcess } from "../helpers/cli.js";
import { makeMatch } from "../helpers/matches.js";
import { createWorkerEnv, type WorkerEnv } from "../helpers/worker-env.js";
import { watchEvents } from "../interop/events-monitor.js";

const TASK = "celery_tasks.match_tasks.process_match_data";
let t: WorkerEnv;
let worker: CliProcess;

/** Starts events_monitor.py against the test's vhost. */
function monitor(mode: "tasks" | "offline", seconds: number, taskIds: string[] = []) {
  return watchEvents(t.vhost.url, mode, seconds, taskIds);
}

async function publish(tasks: { id: string; args: unknown[]; expires?: string }[]): Promise<void> {
  const conn = await connect(t.vhost.url);
  try {
    const ch = await conn.createConfirmChannel();
    for (const task of tasks) {
      const msg = encodeTaskV2({ taskName: TASK, taskId: task.id, args: task.args, expires: task.expires ?? null });
      // Without the TTL Celery derives from a past `expires` (0 ms: the broker could drop it first), so the worker is the one to see it expired.
      ch.publish("matches", "matches.process", msg.content, { ...msg.properties, expiration: undefined });
    }
    await ch.waitForConfirms();
  } finally {
    await conn.close();
  }
}

beforeAll(async () => {
  t = await createWorkerEnv("events", { CELERY_EVENTS: "all" });
  worker = await t.startWorker();
});

afterAll(async () => {
  await t?.teardown();
});

describe("Celery events from matchflow's worker, read as Flower reads them", () => {
  it("lists the worker alive and its tasks with their names, args, results and states; a dead-lettered one failed", async () => {
    const ids = ["ev-ok-1", "ev-ok-2", "ev-bad-1", "ev-expired-1"];
    const watch = monitor("tasks", 60, ids);
    await watch.ready;
    await publish([
      { id: "ev-ok-1", args: [makeMatch("ev", 1)] },
      { id: "ev-ok-2", args: [makeMatch("ev", 2)] },
      { id: "ev-bad-1", args: [{ home_team: "only" }] },
      { id: "ev-expired-1", args: [makeMatch("ev", 3)], expires: "2020-01-01T00:00:00+00:00" },
    ]);
    const seen = await watch.seen;
    expect(seen.done).toBe(true);
    const name = `matchflow.${worker.proc.pid}@${hostname()}`;
    expect(seen.workers[name]).toMatchObject({ alive: true, sw_ident: "matchflow", sw_ver: "0.1.0", freq: 2, pid: worker.proc.pid });
    expect(seen.workers[name]?.heartbeats).toBeGreaterThanOrEqual(2);
    for (const id of ["ev-ok-1", "ev-ok-2"]) {
      const task = seen.tasks[id];
      expect(task).toMatchObject({ name: TASK, state: "SUCCESS", worker: name });
      expect(task?.result).toMatch(/^\{'match_id': \d+, 'status': 'created', 'external_match_id': 'ev-\d'\}$/);
      expect(task?.args).toContain(`'external_match_id': '${id === "ev-ok-1" ? "ev-1" : "ev-2"}'`);
      expect(task?.runtime).toBeGreaterThanOrEqual(0);
      expect(task?.received).toBeLessThanOrEqual(task?.started ?? 0);
    }
    expect(seen.tasks["ev-bad-1"]).toMatchObject({ name: TASK, state: "FAILURE" });
    expect(seen.tasks["ev-bad-1"]?.exception).toMatch(/^MatchflowError\('contract_violation: /);
    // Expired before it ran: revoked, as a Celery worker announces it.
    expect(seen.tasks["ev-expired-1"]).toMatchObject({ name: TASK, state: "REVOKED", started: null });
  });

  it("says the worker is offline when it stops", async () => {
    const watch = monitor("offline", 60);
    // Seen alive first (a heartbeat comes every 2 s), then stopped.
    await watch.alive;
    await t.stopWorker(worker);
    const seen = await watch.seen;
    expect(seen.done).toBe(true);
    expect(seen.workers[`matchflow.${worker.proc.pid}@${hostname()}`]).toMatchObject({ alive: false, heartbeats: 0 });
  });
});
