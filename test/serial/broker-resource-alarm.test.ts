/**
 * RabbitMQ under a resource alarm (memory here; a disk alarm blocks the same way): the broker
 * stops reading every connection that publishes. Serial: the alarm is the whole broker's, so
 * nothing else may run at the same time (see vitest.config.ts); the watermark is always restored.
 *
 * - The worker keeps storing and acking while its dead-letter copies wait for the alarm to
 *   clear (copies go out on a connection of their own, and a batch does not hold its slot while
 *   they wait); stopped meanwhile, it gives the waiting originals back; nothing is lost.
 * - `publish` and `dlq requeue` give up after PUBLISH_BLOCKED_TIMEOUT with an honest report and
 *   exit 4; what they sent and the broker did not read is discarded, not routed later.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { encodeTaskV2 } from "../../src/celery/codec.js";
import { runCli, until } from "../helpers/cli.js";
import { makeMatch } from "../helpers/matches.js";
import { publishConfirmed } from "../helpers/rabbit.js";
import { createWorkerEnv, type WorkerEnv } from "../helpers/worker-env.js";

const run = promisify(execFile);
const TASK = "celery_tasks.match_tasks.process_match_data";
let t: WorkerEnv;
let watermark = "0.4";

async function alarmed(): Promise<boolean> {
  const { stdout } = await run("rabbitmqctl", ["eval", "rabbit_alarm:get_alarms()."]);
  return stdout.includes("memory");
}

async function setWatermark(value: string, alarm: boolean): Promise<void> {
  await run("rabbitmqctl", ["set_vm_memory_high_watermark", value]);
  await until(async () => (await alarmed()) === alarm, 30_000, alarm ? "memory alarm set" : "memory alarm cleared");
}

beforeAll(async () => {
  const { stdout } = await run("rabbitmqctl", ["eval", "vm_memory_monitor:get_vm_memory_high_watermark()."]);
  // A relative watermark prints as a float (0.4); keep whatever the broker had.
  if (/^\d+(\.\d+)?$/.test(stdout.trim())) watermark = stdout.trim();
  t = await createWorkerEnv("alarm");
});
afterEach(async () => {
  await setWatermark(watermark, false);
  await t.killAll();
});
afterAll(async () => {
  await t?.teardown();
});

describe("broker resource alarm", () => {
  it("the worker stores and acks every good match while its dead letters wait; stopped meanwhile, it gives those back; once the alarm clears, each is dead-lettered once", async () => {
    const poison = 8;
    const good = 2000;
    await t.publish(Array.from({ length: 10 }, (_, i) => makeMatch("alarm", i)));
    // Poison among the lowest delivery tags: a multiple-ack cannot pass them while their copies wait.
    await publishConfirmed(t.vhost.url, Array.from({ length: poison }, (_, i) => encodeTaskV2({ taskName: TASK, taskId: `poison-${i}`, args: [{ home_team: "only a home team" }] })));
    await t.publish(Array.from({ length: good - 10 }, (_, i) => makeMatch("alarm", i + 10)));
    await setWatermark("0.0001", true);

    const w = await t.startWorker({ SHUTDOWN_GRACE: "2s" });
    await until(async () => (await t.rows("alarm")).total === good, 60_000, `${good} rows during the alarm`);
    await w.waitForLog((l) => l.msg === "broker blocked publishing (resource alarm)" && l.connection === "matchflow worker copies");
    await until(async () => (await t.ready()) === 0, 10_000, "work queue drained");
    expect((await t.readyz(w)).status).toBe(200);
    const port = Number((await w.waitForLog((l) => l.msg === "ops HTTP server listening (/metrics, /healthz, /readyz)")).port);
    expect(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).toMatch(/^matchflow_broker_blocked 1$/m);

    // Stopped with its dead letters unconfirmed: bounded, and their originals go back.
    const stoppedAt = Date.now();
    await t.stopWorker(w);
    expect(Date.now() - stoppedAt).toBeLessThan(15_000);
    expect(w.logs.filter((l) => l.msg === "task dead-lettered")).toEqual([]);
    await setWatermark(watermark, false);
    expect(await t.ready()).toBe(poison);

    const again = await t.startWorker();
    const poisonIds = Array.from({ length: poison }, (_, i) => `poison-${i}`).sort();
    const letters = async () => (await t.peek()).map((m) => String(m.properties.correlationId));
    await until(
      async () => {
        const l = await letters();
        return poisonIds.every((id) => l.includes(id)) && (await t.ready()) === 0;
      },
      30_000,
      "every poison task dead-lettered",
    );
    // Exactly once here: the first worker's copies, written before it stopped, sat unread in the
    // blocked connection, which it ended with a TCP reset, so the broker never took them (after a
    // plain close it did when the alarm cleared: 16 dead letters, each original given back too).
    const seen = await letters();
    expect(seen.sort()).toEqual(poisonIds);
    expect(await t.rows("alarm")).toEqual({ total: good, distinct: good });
    await t.stopWorker(again);
  });

  it("`publish` gives up after PUBLISH_BLOCKED_TIMEOUT: every match reported failed, exit 4; after the alarm the same file goes through", async () => {
    const matches = Array.from({ length: 50 }, (_, i) => makeMatch("blocked", i));
    const input = matches.map((m) => JSON.stringify(m)).join("\n");
    await t.publish([makeMatch("blocked-topology", 0)]);
    const before = await t.ready();
    await setWatermark("0.0001", true);
    const started = Date.now();
    const blocked = await runCli(["publish"], t.env({ PUBLISH_BLOCKED_TIMEOUT: "2s" }), { input });
    expect(blocked.code).toBe(4);
    expect(Date.now() - started).toBeLessThan(30_000);
    // The summary on stdout; the JSON logs and each failed match on stderr.
    expect(blocked.stdout).toMatch(/0 submitted, 0 invalid, 50 failed/);
    expect(blocked.stdout).not.toContain('"level"');
    expect(blocked.stderr).toContain("broker blocked publishing too long: unconfirmed messages fail");
    expect(blocked.stderr).toContain("failed: the broker blocked publishing for 2 s (resource alarm: low on memory)");

    await setWatermark(watermark, false);
    const after = await runCli(["publish"], t.env(), { input });
    expect(after.code).toBe(0);
    expect(after.stdout).toMatch(/50 submitted, 0 invalid, 0 failed/);
    // Whatever the blocked run wrote before it gave up was never read: nothing else arrived.
    expect(await t.ready()).toBe(before + 50);
  });

  it("`dlq requeue --all` stops after PUBLISH_BLOCKED_TIMEOUT with every letter still in the dead-letter queue, exit 4; after the alarm it requeues each once", async () => {
    const letters = 5;
    const w = await t.startWorker();
    expect((await runCli(["dlq", "purge", "--yes"], t.env())).code).toBe(0); // the earlier tests' letters
    await publishConfirmed(t.vhost.url, Array.from({ length: letters }, (_, i) => encodeTaskV2({ taskName: TASK, taskId: `letter-${i}`, args: [{ home_team: "only a home team" }] })));
    await until(async () => (await t.ready("matches.dead_letter")) === letters, 30_000, `${letters} dead letters`);
    await t.stopWorker(w);
    const queued = await t.ready();

    await setWatermark("0.0001", true);
    const started = Date.now();
    const blocked = await runCli(["dlq", "requeue", "--all"], t.env({ PUBLISH_BLOCKED_TIMEOUT: "2s" }));
    expect(blocked.code).toBe(4);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(blocked.stderr).toContain("the broker blocked publishing for 2 s (resource alarm: low on memory); requeue stopped after 0 message(s); the rest are still in matches.dead_letter");
    expect(await t.ready("matches.dead_letter")).toBe(letters);

    await setWatermark(watermark, false);
    const after = await runCli(["dlq", "requeue", "--all"], t.env());
    expect(after.code).toBe(0);
    expect(after.stdout).toContain(`requeued ${letters} dead letters`);
    // The blocked run's copies were never read by the broker: each letter arrives once.
    expect(await t.ready()).toBe(queued + letters);
    expect(await t.ready("matches.dead_letter")).toBe(0);
  });
});
