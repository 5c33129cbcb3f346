/**
 * The worker's lifecycle against the real services: SIGKILL mid-stream, graceful SIGTERM under
 * load, a second signal, a database that refuses connections for a while, HTTP probes and metrics.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { until } from "../helpers/cli.js";
import { makeMatch } from "../helpers/matches.js";
import { adminQuery } from "../helpers/pg.js";
import { createWorkerEnv, type WorkerEnv } from "../helpers/worker-env.js";

let t: WorkerEnv;

beforeAll(async () => {
  t = await createWorkerEnv("life");
});
// Graceful: the tests count what is left in the shared queue.
afterEach(async () => t.stopAll());
afterAll(async () => t?.teardown());

async function queueEmpty(): Promise<boolean> {
  return (await t.ready()) === 0;
}

describe("worker lifecycle", () => {
  it("loses nothing and duplicates nothing when killed with SIGKILL mid-stream", async () => {
    const n = 4000;
    await t.publish(Array.from({ length: n }, (_, i) => makeMatch("kill", i)));
    const first = await t.startWorker({}, ["--batch-size", "25", "--concurrency", "2"]);
    await until(async () => (await t.rows("kill")).total >= 300, 60_000, "300 rows before the kill");
    first.kill("SIGKILL");
    await first.exited;
    const atKill = (await t.rows("kill")).total;
    expect(atKill).toBeLessThan(n); // really mid-stream

    await t.startWorker();
    await until(async () => (await t.rows("kill")).total === n && (await queueEmpty()), 90_000, "all rows after restart");
    expect(await t.rows("kill")).toEqual({ total: n, distinct: n });
  });

  it("stops gracefully under load: exit 0, what it committed is acked, the rest stays queued", async () => {
    const n = 4000;
    await t.publish(Array.from({ length: n }, (_, i) => makeMatch("grace", i)));
    const w = await t.startWorker({}, ["--batch-size", "25", "--concurrency", "2"]);
    await until(async () => (await t.rows("grace")).total >= 300, 60_000, "300 rows");
    w.kill("SIGTERM");
    const { code } = await w.exited;
    expect(code).toBe(0);
    expect(w.logs.some((l) => l.msg === "worker stopped")).toBe(true);

    const committed = (await t.rows("grace")).total;
    // The worker's connection is gone, so nothing is unacked: every message is either a row or
    // back in the queue, and every committed row was acked (exactly n in total).
    expect(committed + (await t.ready())).toBe(n);
    const done = w.logs.filter((l) => l.msg === "task done").length;
    expect(done).toBe(committed);

    await t.startWorker();
    await until(async () => (await t.rows("grace")).total === n && (await queueEmpty()), 90_000, "all rows after restart");
    expect(await t.rows("grace")).toEqual({ total: n, distinct: n });
  });

  it("exits at once on a second signal, and still loses nothing", async () => {
    const n = 500;
    await t.publish(Array.from({ length: n }, (_, i) => makeMatch("twice", i)));
    // A lock keeps a batch in flight, so the graceful stop is still waiting when the second signal comes.
    const locker = await t.sql.connect();
    await locker.query("BEGIN; LOCK TABLE matches IN ACCESS EXCLUSIVE MODE");
    try {
      const w = await t.startWorker({ SHUTDOWN_GRACE: "60s", DB_LOCK_TIMEOUT: "60s" });
      await until(async () => ((await t.vhost.queue("matches"))?.messages_unacknowledged ?? 0) > 0, 30_000, "deliveries in flight");
      w.kill("SIGTERM");
      await w.waitForLog((l) => l.msg === "stopping gracefully (send again to exit at once)");
      w.kill("SIGINT");
      const { code } = await w.exited;
      expect(code).toBe(130);
      expect(w.logs.some((l) => l.msg === "task done")).toBe(false);
    } finally {
      await locker.query("ROLLBACK");
      locker.release();
    }
    expect(await t.ready()).toBe(n); // every delivery went back to the queue
    await t.startWorker();
    await until(async () => (await t.rows("twice")).total === n && (await queueEmpty()), 90_000, "all rows after restart");
    expect(await t.rows("twice")).toEqual({ total: n, distinct: n });
  });

  it("when the grace period runs out, leaves the unfinished work unacked and exits 0 without waiting for it", async () => {
    const n = 50;
    await t.publish(Array.from({ length: n }, (_, i) => makeMatch("late", i)));
    // The batch in flight waits on this lock far longer than the grace period.
    const locker = await t.sql.connect();
    await locker.query("BEGIN; LOCK TABLE matches IN ACCESS EXCLUSIVE MODE");
    try {
      const w = await t.startWorker({ SHUTDOWN_GRACE: "1s", DB_LOCK_TIMEOUT: "60s", DB_STATEMENT_TIMEOUT: "120s" });
      await until(async () => ((await t.vhost.queue("matches"))?.messages_unacknowledged ?? 0) > 0, 30_000, "deliveries in flight");
      w.kill("SIGTERM");
      // Not the forced exit (70, ten seconds after the grace period): a clean stop.
      const { code } = await w.exited;
      expect(code).toBe(0);
      expect(w.logs.some((l) => l.msg === "grace period over: unfinished deliveries stay unacked and will be redelivered")).toBe(true);
      expect(w.logs.some((l) => l.msg === "worker stopped")).toBe(true);
      expect(await t.ready()).toBe(n); // every delivery went back to the queue
      // The abandoned statement does not wait on for its 60 s lock timeout (holding the row
      // locks its batch took): its backend notices the worker is gone.
      const backends = async () => Number(((await adminQuery("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'matchflow'", [t.db.name])).rows[0] as { n: string } | undefined)?.n);
      await until(async () => (await backends()) === 0, 10_000, "the worker's database sessions gone while the lock is still held");
    } finally {
      await locker.query("ROLLBACK");
      locker.release();
    }
    await t.startWorker();
    await until(async () => (await t.rows("late")).total === n && (await queueEmpty()), 90_000, "all rows after restart");
    expect(await t.rows("late")).toEqual({ total: n, distinct: n });
  });

  it("waits out a database that refuses connections, reports not ready, and recovers by itself", async () => {
    const w = await t.startWorker();
    const port = Number((await w.waitForLog((l) => l.msg === "ops HTTP server listening (/metrics, /healthz, /readyz)")).port);
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);

    await adminQuery(`ALTER DATABASE ${t.db.name} ALLOW_CONNECTIONS false`);
    await adminQuery("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [t.db.name]);
    try {
      const ids = await t.publish(Array.from({ length: 50 }, (_, i) => makeMatch("outage", i)));
      const holding = await w.waitForLog((l) => l.msg === "database unreachable: holding the batch unacked until it returns", 30_000);
      // The line names the batch's first tasks (a task can be followed through the outage).
      expect((holding.taskIds as string[]).length).toBeGreaterThan(0);
      expect(ids).toEqual(expect.arrayContaining(holding.taskIds as string[]));
      await until(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 503, 30_000, "not ready");
      // Held by the worker: delivered (not ready in the queue), not written, not retried; the
      // final count below shows none was lost.
      expect(await t.ready()).toBe(0);
      expect(w.logs.some((l) => l.msg === "task done")).toBe(false);
      expect(w.logs.some((l) => l.outcome === "dead_lettered" || l.outcome === "retried")).toBe(false);
    } finally {
      await adminQuery(`ALTER DATABASE ${t.db.name} ALLOW_CONNECTIONS true`);
    }
    await until(async () => (await t.rows("outage")).total === 50, 60_000, "rows after the outage");
    await until(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200, 30_000, "ready again");
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);

    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/matchflow_tasks_total\{outcome="created"\} 50/);
    expect(metrics).toMatch(/matchflow_database_up 1/);
    expect(metrics).toMatch(/matchflow_broker_up 1/);
    expect(metrics).toMatch(/matchflow_task_duration_seconds_count 50/);
    expect(metrics).toMatch(/matchflow_process_resident_memory_bytes/);
  });

  it("an idle worker notices a database outage by itself: /readyz 503 and matchflow_database_up 0, then ready again", async () => {
    const w = await t.startWorker();
    const port = Number((await w.waitForLog((l) => l.msg === "ops HTTP server listening (/metrics, /healthz, /readyz)")).port);
    const probe = async () => {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return { status: res.status, body: (await res.json()) as { database?: boolean }, databaseUp: /^matchflow_database_up (\S+)$/m.exec(metrics)?.[1] };
    };
    expect(await probe()).toMatchObject({ status: 200, body: { database: true }, databaseUp: "1" });

    // No work arrives: only the worker's own check can see the outage (before, it never did).
    await adminQuery(`ALTER DATABASE ${t.db.name} ALLOW_CONNECTIONS false`);
    await adminQuery("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [t.db.name]);
    try {
      await w.waitForLog((l) => l.msg === "database unreachable", 30_000);
      expect(await probe()).toMatchObject({ status: 503, body: { database: false }, databaseUp: "0" });
    } finally {
      await adminQuery(`ALTER DATABASE ${t.db.name} ALLOW_CONNECTIONS true`);
    }
    await w.waitForLog((l) => l.msg === "database reachable" && w.logs.indexOf(l) > w.logs.findIndex((u) => u.msg === "database unreachable"), 30_000);
    expect(await probe()).toMatchObject({ status: 200, body: { database: true }, databaseUp: "1" });
  });
});
