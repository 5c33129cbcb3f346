/**
 * Celery's remote control against matchflow's worker (CELERY_CONTROL=inspect), asked by real
 * Celery as `celery inspect` and Flower ask (test/interop/control_client.py): ping, stats,
 * registered, active_queues, report and clock come back under the worker's node name; a request
 * for another node gets no answer from it; `shutdown` gets an error reply and the worker stays.
 */
import { hostname } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { until, type CliProcess } from "../helpers/cli.js";
import { makeMatch } from "../helpers/matches.js";
import { createWorkerEnv, type WorkerEnv } from "../helpers/worker-env.js";
import { askWorkers } from "../interop/control-client.js";

let t: WorkerEnv;
let worker: CliProcess;
let node: string;

type Replies = Record<"ping" | "stats" | "registered" | "active_queues" | "active" | "reserved" | "conf" | "report" | "clock" | "shutdown", Record<string, unknown> | null>;

/** `destination` "*": a broadcast to every worker. */
function ask(destination: string, commands: (keyof Replies)[]): Promise<Partial<Replies>> {
  return askWorkers(t.vhost.url, destination, commands);
}

beforeAll(async () => {
  // One task per batch and one batch at a time: a second task waits in the buffer (reserved).
  t = await createWorkerEnv("control", { CELERY_CONTROL: "inspect", WORKER_CONCURRENCY: "1", WORKER_BATCH_SIZE: "1", DB_LOCK_TIMEOUT: "60s" });
  worker = await t.startWorker();
  node = `matchflow.${worker.proc.pid}@${hostname()}`;
  await worker.waitForLog((l) => l.msg === "Celery monitoring on");
});

afterAll(async () => {
  await t?.teardown();
});

describe("Celery remote control answered by matchflow's worker", () => {
  it("answers celery inspect as a Celery worker does, and refuses shutdown", async () => {
    const replies = await ask(node, ["ping", "stats", "registered", "active_queues", "conf", "report", "clock", "shutdown"]);
    expect(replies.ping).toEqual({ [node]: { ok: "pong" } });
    expect(replies.registered).toEqual({ [node]: ["celery_tasks.match_tasks.process_match_data"] });
    expect(replies.stats?.[node]).toMatchObject({ pid: worker.proc.pid, pool: { "max-concurrency": 1 }, broker: { transport: "amqp", virtual_host: t.vhost.name }, sw_ident: "matchflow" });
    expect(replies.active_queues?.[node]).toEqual([expect.objectContaining({ name: "matches", routing_key: "matches.process" })]);
    expect(replies.report?.[node]).toEqual({ ok: expect.stringMatching(/^matchflow \d+\.\d+\.\d+ /) as string });
    expect(replies.clock?.[node]).toEqual({ clock: expect.any(Number) as number });
    // The settings, the password of RABBITMQ_URL and DATABASE_URL never in them.
    expect(replies.conf?.[node]).toMatchObject({ worker: { concurrency: 1, celeryControl: "inspect" }, topology: { queue: "matches" } });
    const url = new URL(t.vhost.url);
    expect(url.password).not.toBe("");
    expect(JSON.stringify(replies.conf)).not.toContain(`:${url.password}@`);
    expect(replies.shutdown).toEqual({ [node]: { error: expect.stringContaining('not "shutdown"') as string } });
    // Still there.
    expect((await t.readyz(worker)).status).toBe(200);
  });

  it("answers once its Lamport clock has passed 127 (the reply's clock header typed: py-amqp read 128-32767 as a short string)", async () => {
    for (const clock of [1_000, 40_000]) {
      const replies = await askWorkers(t.vhost.url, node, [`clock=${clock}`, "ping", "clock"]);
      expect(replies.ping).toEqual({ [node]: { ok: "pong" } });
      expect(Number((replies.clock?.[node] as { clock: number }).clock)).toBeGreaterThan(clock);
    }
  });

  it("lists the task being stored as active and the one waiting behind it as reserved", async () => {
    // The matches table locked: the first task's batch waits on it.
    const lock = await t.sql.connect();
    try {
      await lock.query("BEGIN");
      await lock.query("LOCK TABLE matches IN ACCESS EXCLUSIVE MODE");
      const [first, second] = await t.publish([makeMatch("insp", 1), makeMatch("insp", 2)]);
      let replies: Partial<Replies> = {};
      await until(async () => {
        replies = await ask(node, ["active", "reserved"]);
        return JSON.stringify(replies.active).includes(first ?? "?") && JSON.stringify(replies.reserved).includes(second ?? "?");
      }, 30_000, "the tasks listed");
      expect(replies.active?.[node]).toEqual([expect.objectContaining({ id: first, name: "celery_tasks.match_tasks.process_match_data", hostname: node, acknowledged: false, worker_pid: worker.proc.pid })]);
      expect(replies.reserved?.[node]).toEqual([expect.objectContaining({ id: second, time_start: null, delivery_info: expect.objectContaining({ routing_key: "matches.process" }) as unknown })]);
      const query = `query_task=${second}`;
      expect((await askWorkers(t.vhost.url, node, [query]))[query]).toEqual({ [node]: { [second ?? "?"]: ["reserved", expect.objectContaining({ id: second }) as unknown] } });
    } finally {
      await lock.query("ROLLBACK");
      lock.release();
    }
    await until(async () => (await t.rows("insp")).total === 2, 30_000, "both stored once the lock is gone");
  });

  it("answers a broadcast, and not a request addressed to another node", async () => {
    expect((await ask("*", ["ping"])).ping).toEqual({ [node]: { ok: "pong" } });
    expect((await ask("celery@elsewhere", ["ping"])).ping).toBeNull();
  });
});
