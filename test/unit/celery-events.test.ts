import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { encodeTaskV2 } from "../../src/celery/codec.js";
import { decodeTask } from "../../src/celery/decode.js";
import { CeleryEventBuilder, utcoffsetHours, type CeleryEvent } from "../../src/celery/events.js";
import { MATCHFLOW_VERSION } from "../../src/version.js";
import { celeryNodeName, WorkerEvents } from "../../src/worker/celery-events.js";
import { createWorkerMetrics } from "../../src/worker/metrics.js";
import type { CeleryEventSink } from "../../src/worker/transport.js";

const source = { hostname: "matchflow.7@host", pid: 7, now: () => 1_764_000_000_500, utcoffset: () => 0 };
const software = { ident: "matchflow", version: "0.1.0", system: "Linux" };
const body = (e: CeleryEvent) => JSON.parse(e.content.toString("utf8")) as Record<string, unknown>;
const encoded = encodeTaskV2({ taskName: "celery_tasks.match_tasks.process_match_data", taskId: "t-1", args: [{ external_match_id: "m-1" }], rootId: "r-1", parentId: "p-1" });
const envelope = decodeTask(encoded.content, encoded.properties, { maxBytes: 65_536 });

describe("Celery events", () => {
  it("a worker event as Celery's Heart sends it: fields, routing key with dots, transient, hostname header", () => {
    const e = new CeleryEventBuilder(source, software).worker("worker-heartbeat", { active: 3, processed: 10, loadavg: [0.123, 1, 2.456] });
    expect(e.routingKey).toBe("worker.heartbeat");
    expect(e.properties).toEqual({ contentType: "application/json", contentEncoding: "utf-8", deliveryMode: 1, headers: { hostname: "matchflow.7@host" } });
    expect(body(e)).toEqual({
      type: "worker-heartbeat",
      hostname: "matchflow.7@host",
      pid: 7,
      utcoffset: 0,
      clock: 1,
      timestamp: 1_764_000_000.5,
      freq: 2,
      active: 3,
      processed: 10,
      loadavg: [0.12, 1, 2.46],
      sw_ident: "matchflow",
      sw_ver: "0.1.0",
      sw_sys: "Linux",
    });
  });

  it("a settled task's events: received and started stamped at receipt, then how it ended; the clock moves on every event", () => {
    const builder = new CeleryEventBuilder(source, software);
    const [received, started, succeeded] = builder.task(envelope, 1_764_000_000_000, { kind: "succeeded", result: { match_id: 5, status: "created" } });
    expect(received).toMatchObject({ type: "task-received", uuid: "t-1", name: "celery_tasks.match_tasks.process_match_data", root_id: "r-1", parent_id: "p-1", retries: 0, eta: null, expires: null, timestamp: 1_764_000_000, clock: 1 });
    expect(received?.args).toBe("[{'external_match_id': 'm-1'}]");
    expect(received?.kwargs).toBe("{}");
    expect(started).toMatchObject({ type: "task-started", uuid: "t-1", timestamp: 1_764_000_000, clock: 2 });
    expect(succeeded).toMatchObject({ type: "task-succeeded", uuid: "t-1", result: "{'match_id': 5, 'status': 'created'}", runtime: 0.5, timestamp: 1_764_000_000.5, clock: 3 });
    const [, , failed] = builder.task(envelope, 1_764_000_000_000, { kind: "failed", code: "contract_violation", message: "home_team: it's missing" });
    expect(failed).toMatchObject({ type: "task-failed", exception: "MatchflowError('contract_violation: home_team: it\\'s missing')", traceback: null, clock: 6 });
    const [, , retried] = builder.task(envelope, 1_764_000_000_000, { kind: "retried", code: "db_lock_timeout", message: "lock" });
    expect(retried).toMatchObject({ type: "task-retried", exception: "MatchflowError('db_lock_timeout: lock')" });
    // Expired before it ran: received and revoked, as Celery announces it; never started.
    const expired = builder.task(envelope, 1_764_000_000_000, { kind: "revoked", expired: true });
    expect(expired.map((e) => e.type)).toEqual(["task-received", "task-revoked"]);
    expect(expired[1]).toMatchObject({ uuid: "t-1", terminated: false, signum: null, expired: true });
  });

  it("task events travel as Celery's worker batches them: a JSON list under task.multi", () => {
    const builder = new CeleryEventBuilder(source, software);
    const events = builder.task(envelope, 1_764_000_000_000, { kind: "succeeded", result: 1 });
    const message = builder.taskMessage(events);
    expect(message.routingKey).toBe("task.multi");
    expect(message.properties.headers).toEqual({ hostname: "matchflow.7@host" });
    expect(JSON.parse(message.content.toString("utf8"))).toEqual(events);
  });

  it("utcoffset as Python's time.timezone // 3600: hours west of UTC, floored", () => {
    const at = (minutesWest: number) => utcoffsetHours({ getTimezoneOffset: () => minutesWest } as Date);
    expect(at(0)).toBe(0);
    expect(at(300)).toBe(5); // US Eastern
    expect(at(-60)).toBe(-1); // Central Europe
    expect(at(-330)).toBe(-6); // India, +5:30: Python floors -5.5 to -6
  });

  it("the version events report is the package's", () => {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
    expect(MATCHFLOW_VERSION).toBe(pkg.version);
    expect(celeryNodeName(42, "pod-1")).toBe("matchflow.42@pod-1");
  });
});

describe("WorkerEvents", () => {
  function recording(accept = true) {
    const sent: CeleryEvent[] = [];
    const sink: CeleryEventSink = { open: () => Promise.resolve(), send: (e) => (sent.push(e), accept), close: () => Promise.resolve() };
    return { sink, sent };
  }

  it("scope worker: online, no task events, offline with the count of settled tasks", async () => {
    const { sink, sent } = recording();
    const events = new WorkerEvents(sink, { scope: "worker", active: () => 2, processed: () => 2, metrics: createWorkerMetrics({ defaultMetrics: false }), version: "0.1.0" });
    await events.start();
    events.task(envelope, 0, { kind: "succeeded", result: {} });
    events.task(envelope, 0, { kind: "retried", code: "x", message: "y" });
    events.task(envelope, 0, { kind: "failed", code: "x", message: "y" });
    await events.close();
    expect(sent.map((e) => e.routingKey)).toEqual(["worker.online", "worker.offline"]);
    expect(body(sent[1] as CeleryEvent)).toMatchObject({ processed: 2, active: 2 });
  });

  it("task events switched on and off (celery control enable_events / disable_events), and a heartbeat on request", async () => {
    const { sink, sent } = recording();
    const events = new WorkerEvents(sink, { scope: "worker", active: () => 0, processed: () => 0, metrics: createWorkerMetrics({ defaultMetrics: false }), version: "0.1.0" });
    await events.start();
    events.task(envelope, 0, { kind: "succeeded", result: {} });
    expect(events.setTaskEvents(true)).toBe(true);
    expect(events.setTaskEvents(true)).toBe(false);
    events.task(envelope, 0, { kind: "revoked", expired: false });
    // Switched off with events waiting: they go out at once, nothing later.
    expect(events.setTaskEvents(false)).toBe(true);
    events.task(envelope, 0, { kind: "succeeded", result: {} });
    events.heartbeat();
    await new Promise((resolve) => setImmediate(resolve));
    expect(sent.map((e) => e.routingKey)).toEqual(["worker.online", "task.multi", "worker.heartbeat"]);
    expect((JSON.parse((sent[1] as CeleryEvent).content.toString("utf8")) as { type: string }[]).map((e) => e.type)).toEqual(["task-received", "task-revoked"]);
    await events.close();
    events.heartbeat();
    expect(sent.map((e) => e.routingKey).slice(3)).toEqual(["worker.offline"]);
  });

  it("scope all: each task's three events, 24 to a message, the rest at the end of the turn; nothing after close; dropped events counted", async () => {
    const { sink, sent } = recording(false);
    const metrics = createWorkerMetrics({ defaultMetrics: false });
    const events = new WorkerEvents(sink, { scope: "all", active: () => 0, processed: () => 0, metrics, version: "0.1.0" });
    await events.start();
    for (let i = 0; i < 9; i++) events.task(envelope, 0, { kind: "succeeded", result: {} });
    // 27 events: one full message at once, 3 waiting for the end of this turn of the event loop.
    expect(sent.map((e) => e.routingKey)).toEqual(["worker.online", "task.multi"]);
    await new Promise((resolve) => setImmediate(resolve));
    const lists = sent.slice(1).map((e) => JSON.parse(e.content.toString("utf8")) as { type: string }[]);
    expect(lists.map((l) => l.length)).toEqual([24, 3]);
    expect(lists[1]?.map((e) => e.type)).toEqual(["task-received", "task-started", "task-succeeded"]);
    events.task(envelope, 0, { kind: "failed", code: "x", message: "y" });
    await events.close();
    events.task(envelope, 0, { kind: "succeeded", result: {} });
    await new Promise((resolve) => setImmediate(resolve));
    // Closing sends what waits, then worker-offline (last: a task event after it would make the
    // worker look alive again); nothing after.
    expect(sent.slice(3).map((e) => e.routingKey)).toEqual(["task.multi", "worker.offline"]);
    expect((await metrics.celeryEvents.get()).values.find((v) => v.labels.outcome === "dropped")?.value).toBe(1 + 27 + 1 + 3);
  });
});
