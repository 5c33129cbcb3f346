import { describe, expect, it } from "vitest";
import { globMatches } from "../../src/celery/glob.js";
import { answerControl, controlQueueName, controlRequest, MAX_REVOKED_LISTED, MAX_TASKS_LISTED, revokedIds, type TaskSeen, type WorkerControls, type WorkerFacts } from "../../src/celery/control.js";

const NODE = "matchflow.7@pod-1";
const replyTo = { exchange: "reply.celery.pidbox", routing_key: "oid-1" };
const request = (extra: Record<string, unknown>) => ({ method: "ping", arguments: {}, destination: null, pattern: null, matcher: null, reply_to: replyTo, ticket: "t-1", ...extra });
const facts: WorkerFacts = {
  node: NODE,
  pid: 7,
  version: "0.1.0",
  uptime: 12.7,
  concurrency: 4,
  prefetch: 1600,
  taskName: "celery_tasks.match_tasks.process_match_data",
  processed: 42,
  queue: { name: "matches", exchange: "matches", exchangeType: "direct", routingKey: "matches.process", durable: true, queueType: "classic" },
  broker: { hostname: "rabbitmq", port: 5672, virtualHost: "/" },
  clock: 9,
  conf: () => ({ rabbitmqUrl: "amqp://guest:***@rabbitmq:5672/" }),
  tasks: () => ({ active: [seen("t-1", null)], reserved: [seen("t-2", null)], scheduled: [seen("t-3", "2026-12-01T10:00:00+00:00")] }),
  revoked: () => [],
  clocks: { wallMs: 1_764_000_000_000, monotonicS: 50_000 },
};

function seen(id: string, eta: string | null): TaskSeen {
  return { id, name: "celery_tasks.match_tasks.process_match_data", argsrepr: "[{...}]", kwargsrepr: "{}", eta, priority: 0, exchange: "matches", routingKey: "matches.process", redelivered: false, receivedAt: 1_764_000_000_000 };
}

describe("Celery remote control requests", () => {
  it("answers a broadcast, or a request that names this node among its destinations", () => {
    expect(controlRequest(request({}), NODE)).toEqual({ method: "ping", arguments: {}, replyTo: { exchange: "reply.celery.pidbox", routingKey: "oid-1" }, ticket: "t-1" });
    expect(controlRequest(request({ destination: ["celery@other", NODE] }), NODE)?.method).toBe("ping");
    expect(controlRequest(request({ destination: ["celery@other"] }), NODE)).toBeUndefined();
  });

  it("matches a glob pattern as kombu's fnmatch does; a pcre pattern from the network is not run", () => {
    expect(controlRequest(request({ pattern: "matchflow.*@pod-?", matcher: "glob" }), NODE)?.method).toBe("ping");
    expect(controlRequest(request({ pattern: "celery@*", matcher: "glob" }), NODE)).toBeUndefined();
    expect(controlRequest(request({ pattern: ".*", matcher: "pcre" }), NODE)).toBeUndefined();
    expect(globMatches("matchflow.[0-9]@pod-1", NODE)).toBe(true);
    expect(globMatches("matchflow.[!0-9]@pod-1", NODE)).toBe(false);
    expect(globMatches("a.b(c)+", "a.b(c)+")).toBe(true);
    expect(globMatches("a.b", "axb")).toBe(false);
  });

  it("ignores what is not a request; a cast (no reply wanted) has no reply address", () => {
    expect(controlRequest("ping", NODE)).toBeUndefined();
    expect(controlRequest({ arguments: {} }, NODE)).toBeUndefined();
    expect(controlRequest(request({ reply_to: undefined }), NODE)).toMatchObject({ method: "ping", replyTo: undefined });
    expect(controlRequest(request({ reply_to: { exchange: 1 } }), NODE)).toMatchObject({ replyTo: undefined });
    expect(controlRequest(request({ arguments: "x", ticket: 5 }), NODE)).toMatchObject({ arguments: {}, ticket: null });
  });
});

describe("Celery remote control answers", () => {
  it("as a Celery worker answers the read-only commands", () => {
    expect(answerControl("ping", facts)).toEqual({ ok: "pong" });
    expect(answerControl("clock", facts)).toEqual({ clock: 9 });
    expect(answerControl("registered", facts)).toEqual(["celery_tasks.match_tasks.process_match_data"]);
    const [queue] = answerControl("active_queues", facts) as Record<string, unknown>[];
    expect(queue).toMatchObject({ name: "matches", routing_key: "matches.process", durable: true, exchange: { name: "matches", type: "direct" } });
    expect(answerControl("stats", facts)).toMatchObject({ pid: 7, uptime: 12, total: { "celery_tasks.match_tasks.process_match_data": 42 }, pool: { "max-concurrency": 4 }, prefetch_count: 1600, broker: { hostname: "rabbitmq", port: 5672, virtual_host: "/", transport: "amqp" } });
    expect(answerControl("report", facts)).toEqual({ ok: expect.stringMatching(/^matchflow 0\.1\.0 \(Node\.js [\d.]+\); task celery_tasks\.match_tasks\.process_match_data; queue matches$/) as string });
  });

  it("lists the tasks being stored, waiting and held for their eta as Celery's Request.info() shows them; none revoked", () => {
    const info = { id: "t-1", name: "celery_tasks.match_tasks.process_match_data", args: "[{...}]", kwargs: "{}", type: "celery_tasks.match_tasks.process_match_data", hostname: NODE, acknowledged: false, delivery_info: { exchange: "matches", routing_key: "matches.process", priority: 0, redelivered: false }, worker_pid: 7 };
    expect(answerControl("active", facts)).toEqual([{ ...info, time_start: 1_764_000_000 }]);
    expect(answerControl("reserved", facts)).toEqual([{ ...info, id: "t-2", time_start: null }]);
    expect(answerControl("scheduled", facts)).toEqual([{ eta: "2026-12-01T10:00:00+00:00", priority: 0, request: { ...info, id: "t-3", time_start: null } }]);
    expect(answerControl("revoked", facts)).toEqual([]);
    expect(answerControl("conf", facts)).toEqual({ rabbitmqUrl: "amqp://guest:***@rabbitmq:5672/" });
    const many = { ...facts, tasks: () => ({ active: [], reserved: Array.from({ length: MAX_TASKS_LISTED + 5 }, (_, i) => seen(`r-${i}`, null)), scheduled: [] }) };
    expect(answerControl("reserved", many)).toHaveLength(MAX_TASKS_LISTED);
  });

  it("query_task: each id held, active or reserved (a task held for its eta too), as Celery answers; the rest left out", () => {
    const info = { name: "celery_tasks.match_tasks.process_match_data", hostname: NODE, worker_pid: 7 };
    expect(answerControl("query_task", facts, { ids: ["t-1", "t-2", "t-3", "nope"] })).toEqual({
      "t-1": ["active", expect.objectContaining({ ...info, id: "t-1", time_start: 1_764_000_000 }) as unknown],
      "t-2": ["reserved", expect.objectContaining({ ...info, id: "t-2", time_start: null }) as unknown],
      "t-3": ["reserved", expect.objectContaining({ id: "t-3" }) as unknown],
    });
    expect(answerControl("query_task", facts, { ids: "t-2" })).toEqual({ "t-2": ["reserved", expect.objectContaining({ id: "t-2" }) as unknown] });
    expect(answerControl("query_task", facts, { ids: [5, null] })).toEqual({});
    expect(answerControl("query_task", facts, {})).toEqual({});
  });

  it("refuses the rest with an error reply that names what it answers", () => {
    expect(answerControl("shutdown", facts)).toEqual({ error: 'matchflow answers the inspect commands ping, stats, registered, active_queues, active, reserved, scheduled, query_task, revoked, conf, report, clock; not "shutdown"' });
    // With CELERY_CONTROL=inspect a control command is not obeyed, and the reply says how to have it.
    expect(answerControl("revoke", facts, { task_id: "t-9" })).toEqual({ error: expect.stringMatching(/^revoke is obeyed with CELERY_CONTROL=control; this worker has CELERY_CONTROL=inspect/) as string });
    expect(controlQueueName(NODE)).toBe("matchflow.7@pod-1.celery.pidbox");
  });
});

describe("Celery remote control commands (CELERY_CONTROL=control)", () => {
  function recording(events: boolean | undefined) {
    const done: string[] = [];
    const controls: WorkerControls = {
      revoke: (ids) => done.push(`revoke ${ids.join(" ")}`),
      mergeRevoked: (entries) => done.push(`merge ${entries.map(([id, at]) => `${id}@${at}`).join(" ")}`),
      taskEvents: (on) => (done.push(`events ${on}`), events === undefined ? undefined : events !== on),
      heartbeat: () => (done.push("heartbeat"), events !== undefined),
    };
    return { controls, done };
  }

  it("revoke flags one id or a list (duplicates once) and replies as Celery; terminate is not pretended", () => {
    const { controls, done } = recording(false);
    expect(answerControl("revoke", facts, { task_id: "t-9", terminate: false, signal: null }, controls)).toEqual({ ok: "tasks t-9 flagged as revoked" });
    expect(answerControl("revoke", facts, { task_id: ["a", "b", "a"] }, controls)).toEqual({ ok: "tasks a, b flagged as revoked" });
    expect(answerControl("revoke", facts, { task_id: "c", terminate: true, signal: "SIGKILL" }, controls)).toEqual({ ok: expect.stringMatching(/^tasks c flagged as revoked; terminate: not done/) as string });
    expect(done).toEqual(["revoke t-9", "revoke a b", "revoke c"]);
  });

  it("a task_id that is no task id gets an error reply and flags nothing", () => {
    const { controls, done } = recording(false);
    for (const taskId of [undefined, "", "  ", 5, ["ok", 7], [], "x".repeat(256), { id: "t" }]) {
      expect(answerControl("revoke", facts, { task_id: taskId }, controls)).toEqual({ error: expect.stringMatching(/^revoke: task_id/) as string });
    }
    expect(done).toEqual([]);
    expect(revokedIds("é".repeat(127))).toEqual(["é".repeat(127)]);
    expect(revokedIds("é".repeat(128))).toEqual(expect.stringMatching(/1 to 255 bytes/) as string);
  });

  it("enable_events / disable_events / heartbeat reply as Celery's worker does, or say the worker sends no events", () => {
    const off = recording(true);
    expect(answerControl("enable_events", facts, {}, off.controls)).toEqual({ ok: "task events already enabled" });
    expect(answerControl("disable_events", facts, {}, off.controls)).toEqual({ ok: "task events disabled" });
    expect(answerControl("heartbeat", facts, {}, off.controls)).toEqual({ ok: "heartbeat sent" });
    expect(off.done).toEqual(["events true", "events false", "heartbeat"]);
    const none = recording(undefined);
    expect(answerControl("enable_events", facts, {}, none.controls)).toEqual({ error: expect.stringMatching(/CELERY_EVENTS=off/) as string });
    expect(answerControl("heartbeat", facts, {}, none.controls)).toEqual({ error: expect.stringMatching(/CELERY_EVENTS=off/) as string });
  });

  it("inspect revoked lists the flagged ids, capped; the rest still refused", () => {
    const { controls } = recording(false);
    const ids = Array.from({ length: MAX_REVOKED_LISTED + 3 }, (_, i) => `r-${i}`);
    const flagged = ids.map((id) => [id, 0] as const);
    expect(answerControl("revoked", { ...facts, revoked: () => flagged.slice(0, 2) }, {}, controls)).toEqual(["r-0", "r-1"]);
    expect(answerControl("revoked", { ...facts, revoked: () => flagged }, {}, controls)).toHaveLength(MAX_REVOKED_LISTED);
    expect(answerControl("shutdown", facts, {}, controls)).toEqual({ error: expect.stringMatching(/and obeys revoke, enable_events, disable_events, heartbeat; not "shutdown"$/) as string });
  });
});

describe("mingle's hello (a starting worker's revoked ids in, ours out)", () => {
  // 50,000 s on the monotonic clock is 1,764,000,000,000 ms on the wall clock.
  const ours = { ...facts, revoked: () => [["mine", 1_764_000_000_000 - 30_000] as const] };

  it("with CELERY_CONTROL=control: takes the sender's ids (stamps converted, expired ones left out) and replies with ours as Celery's LimitedSet._data", () => {
    const done: string[] = [];
    const controls: WorkerControls = { revoke: () => undefined, mergeRevoked: (e) => done.push(...e.map(([id, at]) => `${id}@${at}`)), taskEvents: () => undefined, heartbeat: () => false };
    const reply = answerControl("hello", ours, { from_node: "celery@other", revoked: { theirs: [49_990, "theirs"], bare: 49_999.5, old: [30_000, "old"], future: [60_000, "future"], bad: ["x"] } }, controls);
    expect(reply).toEqual({ revoked: { mine: [49_970, "mine"] }, clock: 9 });
    expect(done).toEqual(["theirs@1763999990000", "bare@1763999999500", "future@1764000000000"]);
  });

  it("with CELERY_CONTROL=inspect: replies with none and takes none; its own broadcast gets no reply", () => {
    expect(answerControl("hello", facts, { from_node: "celery@other", revoked: { theirs: [49_990, "theirs"] } })).toEqual({ revoked: {}, clock: 9 });
    expect(answerControl("hello", facts, { from_node: NODE, revoked: {} })).toBeUndefined();
  });
});
