import { describe, expect, it } from "vitest";
import { answerControl, controlQueueName, controlRequest, globMatches, MAX_TASKS_LISTED, type TaskSeen, type WorkerFacts } from "../../src/celery/control.js";

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

  it("ignores what is not a request, and casts (no reply wanted: they change workers)", () => {
    expect(controlRequest("ping", NODE)).toBeUndefined();
    expect(controlRequest({ arguments: {} }, NODE)).toBeUndefined();
    expect(controlRequest(request({ reply_to: undefined }), NODE)).toBeUndefined();
    expect(controlRequest(request({ reply_to: { exchange: 1 } }), NODE)).toBeUndefined();
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

  it("refuses the rest with an error reply that names what it answers", () => {
    expect(answerControl("shutdown", facts)).toEqual({ error: 'matchflow answers the inspect commands ping, stats, registered, active_queues, active, reserved, scheduled, revoked, conf, report, clock; not "shutdown"' });
    expect(controlQueueName(NODE)).toBe("matchflow.7@pod-1.celery.pidbox");
  });
});
