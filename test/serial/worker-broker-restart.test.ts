/**
 * RabbitMQ restarts (`rabbitmqctl stop_app` / `start_app`) while the worker consumes: the worker
 * reconnects by itself and the table ends complete, with no duplicates. Serial: it stops the
 * whole broker, so nothing else may run at the same time (see vitest.config.ts).
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { until } from "../helpers/cli.js";
import { makeMatch } from "../helpers/matches.js";
import { createWorkerEnv, type WorkerEnv } from "../helpers/worker-env.js";

const run = promisify(execFile);
let t: WorkerEnv;

async function startApp(): Promise<void> {
  await run("rabbitmqctl", ["start_app"]);
  await run("rabbitmqctl", ["await_startup", "--timeout", "120"]);
}

beforeAll(async () => {
  t = await createWorkerEnv("restart");
});
afterAll(async () => {
  await startApp().catch(() => undefined); // never leave the broker stopped
  await t?.teardown();
});

describe("broker restart during consumption", () => {
  it("reconnects, resumes, and ends with every match exactly once", async () => {
    const n = 5000;
    await t.publish(Array.from({ length: n }, (_, i) => makeMatch("restart", i)));
    const w = await t.startWorker({}, ["--batch-size", "25", "--concurrency", "2"]);
    await until(async () => (await t.rows("restart")).total >= 300, 60_000, "300 rows");

    await run("rabbitmqctl", ["stop_app"]);
    try {
      await w.waitForLog((l) => l.msg === "broker connection lost; reconnecting", 30_000);
    } finally {
      await startApp();
    }
    await w.waitForLog((l) => l.msg === "broker reconnected: declaring topology and consuming again", 60_000);
    await until(async () => (await t.rows("restart")).total === n && (await t.ready()) === 0, 120_000, "all rows after the restart");
    expect(await t.rows("restart")).toEqual({ total: n, distinct: n });
    // Still one process: it did not crash and was not restarted.
    expect(w.proc.exitCode).toBeNull();
    w.kill("SIGTERM");
    expect((await w.exited).code).toBe(0);
  });
});
