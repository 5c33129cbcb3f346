/**
 * `matchflow workers` and `matchflow revoke` on a real broker, against a matchflow worker
 * (CELERY_CONTROL=control) and a real Celery 5 worker on the same vhost: both listed; a revoke
 * flagged by both, and the revoked task dead-lettered by matchflow's worker when it arrives; with
 * no worker, each says so, and a revoke written to the workers' database holds for a worker started
 * later (exit 0; without the database, exit 1) and, read every 10 s, for a running worker that the
 * broadcast did not reach. `revoke --destination` is refused (a revoke cannot stay with one node);
 * `workers --destination` with no named node answering says so, exit 1.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import amqp from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MF_HEADERS } from "../../src/broker/headers.js";
import { encodeTaskV2 } from "../../src/celery/codec.js";
import { runCli, until, type CliProcess } from "../helpers/cli.js";
import { makeMatch } from "../helpers/matches.js";
import { publishConfirmed } from "../helpers/rabbit.js";
import { createTestDatabase } from "../helpers/pg.js";
import { createWorkerEnv, type WorkerEnv } from "../helpers/worker-env.js";
import { startCeleryWorker, type CeleryWorker } from "../interop/celery-process.js";
import { askWorkers } from "../interop/control-client.js";

const TASK = "celery_tasks.match_tasks.process_match_data";
const dir = mkdtempSync(join(tmpdir(), "mf-workers-"));
let t: WorkerEnv;

beforeAll(async () => {
  t = await createWorkerEnv("opsworkers", { CELERY_CONTROL: "control" });
});

afterAll(async () => {
  await t?.teardown();
  rmSync(dir, { recursive: true, force: true });
});

describe("matchflow workers / matchflow revoke", () => {
  it("with no worker running: says so; a revoke is written to the workers' database (exit 0), and without one nothing is revoked (exit 1)", async () => {
    const workers = await runCli(["workers", "--timeout", "300ms"], t.env());
    expect(workers).toMatchObject({ code: 1, stdout: expect.stringMatching(/^no worker answered within 0\.3 s/) as string });
    const nowhere = await runCli(["revoke", "t-1", "--timeout", "300ms"], t.env({ DATABASE_URL: "" }));
    expect(nowhere).toMatchObject({ code: 1, stdout: "not written to the database: DATABASE_URL is not set\nno worker answered within 0.3 s: nothing revoked (matchflow workers obey revoke with CELERY_CONTROL=control; Celery workers always do)\n" });
    const unmigrated = await createTestDatabase();
    try {
      const refused = await runCli(["revoke", "t-1", "--timeout", "300ms"], t.env({ DATABASE_URL: unmigrated.url }));
      expect(refused).toMatchObject({ code: 1, stdout: expect.stringMatching(/^not written to the database: the database has no celery_revoked table yet \(matchflow migrate, or start a worker, creates it\)\n/) as string });
    } finally {
      await unmigrated.drop();
    }
    const later = await runCli(["revoke", "t-1", "--timeout", "300ms"], t.env());
    expect(later).toMatchObject({ code: 0, stdout: expect.stringMatching(/^written to the database \(celery_revoked\): matchflow workers read it there, running ones within 10 s, those that start within 3 hours at start-up\nno worker answered within 0\.3 s \(/) as string });
    expect((await t.sql.query("SELECT task_id FROM celery_revoked")).rows).toEqual([{ task_id: "t-1" }]);
  });

  it("with RabbitMQ unreachable: the ids are still written to the database, and it says the running workers were not told (exit 4)", async () => {
    const run = await runCli(["revoke", "t-2", "t-3"], t.env({ RABBITMQ_URL: "amqp://guest:guest@127.0.0.1:1/" }));
    expect(run).toMatchObject({
      code: 4,
      stdout: "written to the database (celery_revoked): matchflow workers read them there, running ones within 10 s, those that start within 3 hours at start-up; not sent to the running workers:\n",
      stderr: expect.stringContaining("cannot connect to RabbitMQ at 127.0.0.1:1") as string,
    });
    expect((await t.sql.query("SELECT task_id FROM celery_revoked WHERE task_id <> 't-1' ORDER BY 1")).rows).toEqual([{ task_id: "t-2" }, { task_id: "t-3" }]);
    // Neither service: both said (the database line was left out, as if nothing had been tried).
    const neither = await runCli(["revoke", "t-4"], t.env({ RABBITMQ_URL: "amqp://guest:guest@127.0.0.1:1/", DATABASE_URL: "" }));
    expect(neither).toMatchObject({ code: 4, stdout: "not written to the database: DATABASE_URL is not set; not sent to the running workers:\n" });
  });

  it("lists matchflow's and Celery's workers; a revoke is flagged by both and the task dead-lettered when it arrives", async () => {
    const worker: CliProcess = await t.startWorker();
    const node = `matchflow.${worker.proc.pid}@${hostname()}`;
    const celeryNode = `celery-ops@${hostname()}`;
    const celery: CeleryWorker = startCeleryWorker(t.vhost.url, join(dir, "celery.jsonl"), { queues: "ops-elsewhere", mingle: { nodeName: celeryNode } });
    try {
      await until(async () => (await askWorkers(t.vhost.url, celeryNode, ["ping"])).ping !== null, 60_000, "the Celery worker answering");
      const listed = await runCli(["workers", "--json"], t.env());
      expect(listed.code).toBe(0);
      expect(JSON.parse(listed.stdout)).toEqual([
        expect.objectContaining({ node: celeryNode, software: "celery", concurrency: 1 }),
        { node, software: "matchflow 0.1.0", pid: worker.proc.pid, uptimeS: expect.any(Number) as number, processed: 0, concurrency: 4 },
      ]);
      const table = await runCli(["workers", "--destination", node], t.env());
      expect(table.stdout.split("\n").slice(1, -1)).toEqual([expect.stringMatching(new RegExp(`^${node.replace(/\./g, "\\.")}\\s+matchflow 0\\.1\\.0\\s+${worker.proc.pid}\\s`)) as string, "1 worker answered"]);

      const revoke = await runCli(["revoke", "ops-1", "ops-1"], t.env());
      expect(revoke.code).toBe(0);
      expect(revoke.stdout.split("\n").slice(0, 4)).toEqual([
        `${celeryNode}: tasks ops-1 flagged as revoked`,
        `${node}: tasks ops-1 flagged as revoked`,
        "written to the database (celery_revoked): matchflow workers read it there, running ones within 10 s, those that start within 3 hours at start-up",
        expect.stringMatching(/^2 workers flagged 1 task as revoked/) as string,
      ]);
      // ops-1 revoked just now; t-1 revoked by the first test, before this worker started, read from the database.
      await publishConfirmed(t.vhost.url, [encodeTaskV2({ taskName: TASK, taskId: "ops-1", args: [makeMatch("ops", 1)] }), encodeTaskV2({ taskName: TASK, taskId: "t-1", args: [makeMatch("ops", 2)] })]);
      await until(async () => (await t.peek()).length === 2, 30_000, "ops-1 and t-1 dead-lettered");
      expect((await t.peek()).map((m) => [m.headers.id, m.headers[MF_HEADERS.errorCode]]).sort()).toEqual([["ops-1", "task_revoked"], ["t-1", "task_revoked"]]);
      expect(await t.rows("ops")).toEqual({ total: 0, distinct: 0 });

      // Revoked while the running worker could not be told (RabbitMQ unreachable for the command):
      // it reads the id from the database at its next read (every 10 s) and stops the task too.
      expect(await runCli(["revoke", "ops-3"], t.env({ RABBITMQ_URL: "amqp://guest:guest@127.0.0.1:1/" }))).toMatchObject({ code: 4 });
      // Only the line naming ops-3: ops-1 may have had one of its own (the revoke writes the
      // database before it broadcasts, so the worker's 10 s read can come between the two).
      const told = (l: Record<string, unknown>) => l.msg === "revoked tasks read from the database that this worker had not been told of" && Array.isArray(l.ids) && l.ids.includes("ops-3");
      expect(await worker.waitForLog(told, 30_000)).toMatchObject({ revoked: 1, ids: ["ops-3"] });
      await publishConfirmed(t.vhost.url, [encodeTaskV2({ taskName: TASK, taskId: "ops-3", args: [makeMatch("ops", 3)] })]);
      await until(async () => (await t.peek()).some((m) => m.headers.id === "ops-3"), 30_000, "ops-3 dead-lettered");
      expect((await t.peek()).find((m) => m.headers.id === "ops-3")?.headers[MF_HEADERS.errorCode]).toBe("task_revoked");
      expect(await t.rows("ops")).toEqual({ total: 0, distinct: 0 });
    } finally {
      await celery.stop();
    }
  });

  it("a worker whose mailbox queue is deleted under it declares it again and answers again (before: silent until the next reconnect)", async () => {
    const worker: CliProcess = await t.startWorker();
    const node = `matchflow.${worker.proc.pid}@${hostname()}`;
    await until(async () => (await runCli(["workers", "--destination", node, "--timeout", "1s"], t.env())).code === 0, 30_000, "the worker answering");
    const conn = await amqp.connect(t.vhost.url);
    try {
      const ch = await conn.createChannel();
      await ch.deleteQueue(`${node}.celery.pidbox`);
      await ch.close();
    } finally {
      await conn.close();
    }
    await worker.waitForLog((l) => l.msg === "Celery control channel closed by the broker: opening it again", 30_000);
    await until(async () => (await runCli(["workers", "--destination", node, "--timeout", "1s"], t.env())).code === 0, 30_000, "the worker answering again");
  });

  it("refuses what is not a task id, and a bad --timeout, as usage errors", async () => {
    expect(await runCli(["revoke", "x".repeat(256)], t.env())).toMatchObject({ code: 2, stderr: expect.stringContaining("is not a task id (1 to 255 bytes, not blank)") as string });
    expect(await runCli(["revoke", "ok-id", " "], t.env())).toMatchObject({ code: 2, stderr: expect.stringContaining('" " is not a task id') as string });
    expect(await runCli(["workers", "--timeout", "2 days"], t.env())).toMatchObject({ code: 2, stderr: expect.stringContaining("--timeout must be a duration from 0.1s to 60s") as string });
    // `--destination "$NODE"` with NODE unset asked nobody and said "no worker answered".
    expect(await runCli(["workers", "--destination", " "], t.env())).toMatchObject({ code: 2, stderr: expect.stringContaining("a node name is required (leave --destination out to ask every worker)") as string });
  });

  it("revoke --destination is refused before anything is written or sent: the database record (and a matchflow worker obeying it) would revoke the task on every worker", async () => {
    const run = await runCli(["revoke", "dest-1", "--destination", `matchflow.1@${hostname()}`, "--timeout", "300ms"], t.env());
    expect(run).toMatchObject({ code: 2, stdout: "", stderr: expect.stringContaining("revoke --destination is refused: a revoke cannot stay with one node") as string });
    // It wrote dest-1 to celery_revoked, which every matchflow worker reads, and exited 0 with no node answering.
    expect((await t.sql.query("SELECT task_id FROM celery_revoked WHERE task_id = 'dest-1'")).rows).toEqual([]);
    expect(await runCli(["revoke", "dest-1", "--destination", ""], t.env())).toMatchObject({ code: 2, stderr: expect.stringContaining("revoke --destination is refused") as string });
    expect((await runCli(["revoke", "--help"], t.env())).stdout).not.toContain("--destination <node>");
  });

  it("workers --destination naming nodes none of which answers: says no named worker answered, exit 1 (JSON: [] on stdout, the reason on stderr)", async () => {
    const args = ["workers", "--destination", "nobody@nowhere", "--destination", "gone@nowhere", "--timeout", "300ms"];
    expect(await runCli(args, t.env())).toMatchObject({ code: 1, stdout: expect.stringMatching(/^no named worker \(nobody@nowhere, gone@nowhere\) answered within 0\.3 s \(/) as string });
    expect(await runCli([...args, "--json"], t.env())).toMatchObject({ code: 1, stdout: "[]\n", stderr: expect.stringMatching(/^no named worker \(nobody@nowhere, gone@nowhere\) answered within 0\.3 s/) as string });
  });
});
