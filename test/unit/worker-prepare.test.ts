import { describe, expect, it } from "vitest";
import { decodeTask, encodeTaskV1, encodeTaskV2 } from "../../src/celery/codec.js";
import { PermanentError, TransientError } from "../../src/errors.js";
import { headersAsDelivered } from "../../src/broker/field-values.js";
import { MF_HEADERS } from "../../src/broker/headers.js";
import { buildDeadLetter, buildEtaCopy, buildRetryMessage } from "../../src/worker/outgoing.js";
import { MAX_CLOCK_SKEW_MS, prepareMessage } from "../../src/worker/prepare.js";
import { warmUpMessagePath } from "../../src/worker/warm-up.js";
import { loadConfig } from "../../src/config.js";
import type { InboundMessage } from "../../src/worker/transport.js";

/** Headers as a consumer receives them (amqplib unwraps the typed numbers matchflow sends). */
const delivered = (headers: Record<string, unknown> | undefined) => headersAsDelivered(headers ?? {});

const TASK = "celery_tasks.match_tasks.process_match_data";
const NOW = Date.parse("2026-11-01T12:00:00Z");
const match = { home_team: "IFA", away_team: "NEFC", match_date: "2026-10-18", age_group: "U14", match_type: "League", external_match_id: "100436" };

function inbound(content: Buffer, properties: InboundMessage["properties"]): InboundMessage {
  return { content, properties, exchange: "", routingKey: "matches", redelivered: false, receivedAt: NOW, token: 1 };
}
const options = { taskName: TASK, maxMessageBytes: 1_048_576, now: NOW };

describe("prepareMessage", () => {
  it("accepts a v2 task and a v1 task with the same match alike", () => {
    const v2 = encodeTaskV2({ taskName: TASK, taskId: "a", args: [match] });
    const v1 = encodeTaskV1({ taskName: TASK, taskId: "b", args: [match] });
    const p2 = prepareMessage(inbound(v2.content, v2.properties), options);
    const p1 = prepareMessage(inbound(v1.content, v1.properties), options);
    expect(p2.ok && p1.ok).toBe(true);
    if (p2.ok && p1.ok) {
      expect(p2.item.match).toEqual(p1.item.match);
      expect(p2.item.taskId).toBe("a");
      expect(p2.item.observedAt).toBe(new Date(NOW).toISOString()); // no scraped_at: delivery time
    }
  });

  it("marks a task requeued from a dead-letter queue (its recorded failure is resolved once stored), and only such a task", () => {
    const plain = encodeTaskV2({ taskName: TASK, taskId: "a", args: [match] });
    const requeued = { ...plain.properties, headers: { ...plain.properties.headers, [MF_HEADERS.requeuedFrom]: "matches.dead_letter", [MF_HEADERS.requeues]: 1 } };
    const p = prepareMessage(inbound(plain.content, plain.properties), options);
    const r = prepareMessage(inbound(plain.content, requeued), options);
    expect(p.ok && p.item.requeued).toBeFalsy();
    expect(r.ok && r.item.requeued).toBe(true);
  });

  it("a match without scraped_at that was delivered before (a retry, an eta copy, a dead letter requeued) was observed when first delivered, not at this later delivery", () => {
    const original = encodeTaskV2({ taskName: TASK, taskId: "late", args: [match] });
    const firstDelivered = NOW - 3_600_000;
    const first: InboundMessage = { ...inbound(original.content, original.properties), receivedAt: firstDelivered };
    // It fails a minute after its delivery (a statement timeout): that is not when it was observed.
    const retry = buildRetryMessage(decodeTask(original.content, original.properties, { maxBytes: 1_048_576 }), first, new TransientError("db_timeout", "timeout"), 1, 60_000, firstDelivered + 60_000);
    const p = prepareMessage(inbound(retry.content, { ...retry.properties, headers: delivered(retry.properties.headers) }), options);
    expect(p.ok && p.item.observedAt).toBe(new Date(firstDelivered).toISOString());
    // Its second retry, and a dead letter of it, keep the first delivery's time.
    const retried: InboundMessage = { ...inbound(retry.content, { ...retry.properties, headers: delivered(retry.properties.headers) }), receivedAt: firstDelivered + 120_000 };
    const second = buildRetryMessage(decodeTask(retry.content, retry.properties, { maxBytes: 1_048_576 }), retried, new TransientError("db_timeout", "timeout"), 2, 60_000, firstDelivered + 180_000);
    expect(delivered(second.properties.headers)[MF_HEADERS.firstDeliveredAt]).toBe(new Date(firstDelivered).toISOString());
    expect(delivered(buildEtaCopy(first).properties.headers)[MF_HEADERS.firstDeliveredAt]).toBe(new Date(firstDelivered).toISOString());
    expect(delivered(buildDeadLetter(retried, new TransientError("db_timeout", "t"), 3, NOW).properties.headers)[MF_HEADERS.firstDeliveredAt]).toBe(new Date(firstDelivered).toISOString());
    // A copy from before that header: its first failure's time.
    const legacy = prepareMessage(inbound(original.content, { ...original.properties, headers: { ...delivered(original.properties.headers), [MF_HEADERS.firstFailureAt]: "2026-10-30T06:00:00Z" } }), options);
    expect(legacy.ok && legacy.item.observedAt).toBe("2026-10-30T06:00:00.000Z");
    // A scraped_at, when there is one, says it best.
    const stamped = encodeTaskV2({ taskName: TASK, taskId: "s", args: [{ ...match, scraped_at: "2026-10-29T06:00:00Z" }] });
    const s = prepareMessage(inbound(stamped.content, { ...stamped.properties, headers: { ...stamped.properties.headers, [MF_HEADERS.firstFailureAt]: "2026-10-30T06:00:00Z" } }), options);
    expect(s.ok && s.item.observedAt).toBe("2026-10-29T06:00:00.000Z");
  });

  it("a scraped_at in the future (a producer's clock off, a typo for another year) counts as observed when delivered: stored, it made every later observation stale", () => {
    const at = (scrapedAt: string) => {
      const m = encodeTaskV2({ taskName: TASK, taskId: "f", args: [{ ...match, scraped_at: scrapedAt }] });
      const p = prepareMessage(inbound(m.content, m.properties), options);
      return p.ok ? p.item.observedAt : undefined;
    };
    expect(at("2062-09-05T13:00:00Z")).toBe(new Date(NOW).toISOString());
    expect(at("9999-12-31T23:59:59Z")).toBe(new Date(NOW).toISOString());
    // A clock a few minutes ahead is within the tolerance: the producer's time stands.
    expect(at(new Date(NOW + MAX_CLOCK_SKEW_MS).toISOString())).toBe(new Date(NOW + MAX_CLOCK_SKEW_MS).toISOString());
    expect(at(new Date(NOW + MAX_CLOCK_SKEW_MS + 1000).toISOString())).toBe(new Date(NOW).toISOString());
  });

  it("keeps the task id of a message refused before its body is read (content type), from the id header or the correlation id", () => {
    const v2 = encodeTaskV2({ taskName: TASK, taskId: "from-header", args: [match] });
    const byHeader = prepareMessage(inbound(Buffer.from("not json"), { ...v2.properties, contentType: "text/plain", correlationId: undefined }), options);
    expect(byHeader.ok).toBe(false);
    if (!byHeader.ok) expect(byHeader.failure).toMatchObject({ reasonCode: "unsupported_content_type", taskId: "from-header" });
    const byCorrelation = prepareMessage(inbound(Buffer.from("x"), { contentType: "application/x-python-serialize", correlationId: "from-correlation" }), options);
    expect(!byCorrelation.ok && byCorrelation.failure.taskId).toBe("from-correlation");
    const none = prepareMessage(inbound(Buffer.from("x"), { contentType: "text/plain", headers: { id: 42 } }), options);
    expect(!none.ok && none.failure.taskId).toBeUndefined();
  });

  it("reads the match from kwargs.match_data too", () => {
    const m = encodeTaskV2({ taskName: TASK, taskId: "k", args: [], kwargs: { match_data: match } });
    expect(prepareMessage(inbound(m.content, m.properties), options).ok).toBe(true);
  });

  it("keeps unknown fields in the raw payload and reports them", () => {
    const m = encodeTaskV2({ taskName: TASK, taskId: "u", args: [{ ...match, referee: "J. Doe" }] });
    const p = prepareMessage(inbound(m.content, m.properties), options);
    expect(p.ok && p.unknownFields).toEqual(["referee"]);
    expect(p.ok && (p.item.raw as Record<string, unknown>).referee).toBe("J. Doe");
  });

  it.each([
    ["unknown_task", () => encodeTaskV2({ taskName: "other.task", taskId: "t", args: [match] })],
    ["task_expired", () => encodeTaskV2({ taskName: TASK, taskId: "t", args: [match], expires: "2026-10-01T00:00:00Z" }, { now: Date.parse("2026-09-01T00:00:00Z") })],
    ["bad_task_arguments", () => encodeTaskV2({ taskName: TASK, taskId: "t", args: [match, 2] })],
    ["bad_task_arguments", () => encodeTaskV2({ taskName: TASK, taskId: "t", args: [] })],
    ["contract_violation", () => encodeTaskV2({ taskName: TASK, taskId: "t", args: [{ ...match, away_team: undefined }] })],
    ["schema_version_unsupported", () => encodeTaskV2({ taskName: TASK, taskId: "t", args: [{ ...match, schema_version: "2.0" }] })],
  ])("classifies %s as permanent, with a failure record", (code, make) => {
    const m = make();
    const p = prepareMessage(inbound(m.content, m.properties), options);
    expect(p.ok).toBe(false);
    if (!p.ok) {
      expect(p.error).toMatchObject({ code, kind: "permanent" });
      expect(p.failure).toMatchObject({ reasonCode: code, taskId: "t" });
    }
  });

  it("reads the eta of v2 headers and v1 bodies as dueAt (a naive one as UTC, as Celery does)", () => {
    const v2 = encodeTaskV2({ taskName: TASK, taskId: "e2", args: [match], eta: "2026-11-01T12:00:30.123456+00:00" });
    const v1 = encodeTaskV1({ taskName: TASK, taskId: "e1", args: [match], eta: "2026-11-01T12:00:30" });
    const none = encodeTaskV2({ taskName: TASK, taskId: "e0", args: [match] });
    const due = (m: { content: Buffer; properties: InboundMessage["properties"] }) => {
      const p = prepareMessage(inbound(m.content, m.properties), options);
      return p.ok ? p.dueAt : p.error.code;
    };
    expect(due(v2)).toBe(Date.parse("2026-11-01T12:00:30.123Z"));
    expect(due(v1)).toBe(Date.parse("2026-11-01T12:00:30Z"));
    expect(due(none)).toBeUndefined();
  });

  it("refuses an eta that is not a date and time (invalid_eta, permanent)", () => {
    const m = encodeTaskV2({ taskName: TASK, taskId: "t", args: [match], eta: "in five minutes" });
    const p = prepareMessage(inbound(m.content, m.properties), options);
    expect(!p.ok && p.error).toMatchObject({ code: "invalid_eta", kind: "permanent", message: expect.stringContaining("in five minutes") as unknown });
  });

  it("refuses an expires that is not a date and time (invalid_expires, permanent), as Celery's worker does, instead of running the task as never expiring", () => {
    for (const make of [
      () => encodeTaskV2({ taskName: TASK, taskId: "t", args: [match], expires: "tomorrow" }),
      () => encodeTaskV1({ taskName: TASK, taskId: "t", args: [match], expires: "tomorrow" }),
    ]) {
      const m = make();
      expect(m.properties.expiration).toBeUndefined(); // the codec carries it without a TTL, and without throwing
      const p = prepareMessage(inbound(m.content, m.properties), options);
      expect(!p.ok && p.error).toMatchObject({ code: "invalid_expires", kind: "permanent", message: expect.stringContaining('"tomorrow"') as unknown });
      expect(!p.ok && p.failure).toMatchObject({ reasonCode: "invalid_expires", taskId: "t" });
    }
  });

  it("reads a naive expires as UTC whatever the process's time zone (Celery's reading), not as local time", () => {
    const minuteAgo = new Date(NOW - 60_000).toISOString().replace(/Z$/, "");
    const minuteAhead = new Date(NOW + 60_000).toISOString().replace(/Z$/, "");
    const saved = process.env.TZ;
    try {
      for (const tz of ["America/New_York", "Asia/Tokyo"]) {
        process.env.TZ = tz;
        const past = encodeTaskV2({ taskName: TASK, taskId: "p", args: [match], expires: minuteAgo });
        const future = encodeTaskV2({ taskName: TASK, taskId: "f", args: [match], expires: minuteAhead });
        expect(prepareMessage(inbound(past.content, past.properties), options), tz).toMatchObject({ ok: false, error: { code: "task_expired" } });
        expect(prepareMessage(inbound(future.content, future.properties), options).ok, tz).toBe(true);
      }
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  });

  it("does not run a revoked task (celery control revoke): task_revoked, its id recorded; an expired one stays task_expired", () => {
    const revoked = new Set(["r"]);
    const withRevoked = { ...options, isRevoked: (id: string) => revoked.has(id) };
    const r = encodeTaskV2({ taskName: TASK, taskId: "r", args: [match] });
    const p = prepareMessage(inbound(r.content, r.properties), withRevoked);
    expect(!p.ok && p.error).toMatchObject({ code: "task_revoked", kind: "permanent" });
    expect(!p.ok && p.failure).toMatchObject({ reasonCode: "task_revoked", taskId: "r", externalMatchId: undefined });
    const other = encodeTaskV2({ taskName: TASK, taskId: "s", args: [match] });
    expect(prepareMessage(inbound(other.content, other.properties), withRevoked).ok).toBe(true);
    // Celery announces a task both expired and revoked as expired.
    const both = encodeTaskV2({ taskName: TASK, taskId: "r", args: [match], expires: "2026-10-01T00:00:00Z" }, { now: Date.parse("2026-09-01T00:00:00Z") });
    expect(prepareMessage(inbound(both.content, both.properties), withRevoked)).toMatchObject({ ok: false, error: { code: "task_expired" } });
  });

  it("records the text of an undecodable message", () => {
    const p = prepareMessage(inbound(Buffer.from("not json"), { contentType: "application/json", contentEncoding: "utf-8", headers: { task: TASK, id: "x" } }), options);
    expect(p.ok).toBe(false);
    if (!p.ok) expect(p.failure).toMatchObject({ reasonCode: "malformed_json", raw: "not json" });
  });
});

describe("retry and dead-letter messages", () => {
  const original = encodeTaskV2({ taskName: TASK, taskId: "task-1", args: [match] });
  const message = inbound(original.content, original.properties);

  it("a retry keeps the task id, counts retries + 1, sets eta, and remembers the first failure", () => {
    const p = prepareMessage(message, options);
    if (!p.ok) throw new Error("expected ok");
    const retry = buildRetryMessage(p.envelope, message, new TransientError("db_deadlock", "deadlock detected"), 1, 45_000, NOW);
    const h = delivered(retry.properties.headers);
    // Typed as py-amqp reads them (amqplib's guess for 128-32767 is a short string to Python).
    expect(retry.properties.headers?.["x-matchflow-attempts"]).toEqual({ "!": "int", value: 1 });
    expect(h).toMatchObject({ id: "task-1", eta: "2026-11-01T12:00:45.000+00:00", "x-matchflow-error-code": "db_deadlock", "x-matchflow-attempts": 1 });
    const decoded = decodeTask(retry.content, retry.properties, { maxBytes: 1_048_576 });
    expect(decoded).toMatchObject({ taskId: "task-1", retries: 1, args: [match] });
    expect(h["x-matchflow-first-failure-at"]).toBe(new Date(NOW).toISOString());
    expect(h["x-matchflow-original-routing-key"]).toBe("matches");
    // The second failure keeps the first failure time.
    const second = buildRetryMessage(p.envelope, inbound(retry.content, { ...retry.properties, headers: delivered(retry.properties.headers) }), new TransientError("db_deadlock", "again"), 2, 90_000, NOW + 60_000);
    expect(delivered(second.properties.headers)["x-matchflow-first-failure-at"]).toBe(new Date(NOW).toISOString());
    expect(decodeTask(second.content, second.properties, { maxBytes: 1_048_576 }).retries).toBe(2);
  });

  it("a retry keeps what the task was sent with: ignore_result, priority, shadow, group, group_index, timelimit (as Celery's retry does)", () => {
    const sent = encodeTaskV2({ taskName: TASK, taskId: "opts", args: [match], ignoreResult: true, priority: 7, shadow: "shown", groupId: "g-1", groupIndex: 3, timeLimit: [30, null], replyTo: "caller.reply" });
    const delivery = inbound(sent.content, { ...sent.properties, headers: delivered(sent.properties.headers) });
    const retry = buildRetryMessage(decodeTask(delivery.content, delivery.properties, { maxBytes: 1_048_576 }), delivery, new TransientError("db_deadlock", "x"), 1, 1000, NOW);
    expect(retry.properties.priority).toBe(7);
    expect(retry.properties.replyTo).toBe("caller.reply");
    // Without ignore_result, a worker with RESULT_BACKEND=rpc replied to a caller that waits for none.
    expect(delivered(retry.properties.headers)).toMatchObject({ ignore_result: true, shadow: "shown", group: "g-1", group_index: 3, timelimit: [30, null] });
    // A task sent plainly stays plain.
    const plain = encodeTaskV2({ taskName: TASK, taskId: "plain", args: [match] });
    const plainDelivery = inbound(plain.content, { ...plain.properties, headers: delivered(plain.properties.headers) });
    const plainRetry = buildRetryMessage(decodeTask(plain.content, plainDelivery.properties, { maxBytes: 1_048_576 }), plainDelivery, new TransientError("db_deadlock", "x"), 1, 1000, NOW);
    expect(plainRetry.properties.priority).toBe(0);
    expect(delivered(plainRetry.properties.headers)).toMatchObject({ ignore_result: false });
    expect(Object.keys(plainRetry.properties.headers ?? {})).not.toContain("shadow");
  });

  it("a retry keeps the task's Celery canvas (link callbacks, errbacks, chain), as Celery's own retry does; protocol 1 keeps its body fields", () => {
    const link = { task: "notify.done", args: ["extra"], kwargs: { k: 1 }, options: {}, subtask_type: null, immutable: false };
    const chainStep = { task: "notify.next", args: [], kwargs: {}, options: { task_id: "next-1", reply_to: "caller" }, subtask_type: null, immutable: false };
    const embed = { callbacks: [link], errbacks: [link], chain: [chainStep], chord: null };
    const v2 = encodeTaskV2({ taskName: TASK, taskId: "task-c", args: [match], embed });
    const v2Message = inbound(v2.content, v2.properties);
    const p2 = prepareMessage(v2Message, options);
    if (!p2.ok) throw new Error("expected ok");
    const retry2 = buildRetryMessage(p2.envelope, v2Message, new TransientError("db_deadlock", "deadlock"), 1, 45_000, NOW);
    expect((JSON.parse(retry2.content.toString("utf8")) as unknown[])[2]).toEqual(embed);
    expect(decodeTask(retry2.content, retry2.properties, { maxBytes: 1_048_576 }).workflow).toEqual(["callbacks", "errbacks", "chain"]);

    const v1 = encodeTaskV1({ taskName: TASK, taskId: "task-d", args: [match], embed: { callbacks: [link], errbacks: null } });
    const v1Message = inbound(v1.content, v1.properties);
    const p1 = prepareMessage(v1Message, options);
    if (!p1.ok) throw new Error("expected ok");
    const retry1 = buildRetryMessage(p1.envelope, v1Message, new TransientError("db_deadlock", "deadlock"), 1, 45_000, NOW);
    const body1 = JSON.parse(retry1.content.toString("utf8")) as Record<string, unknown>;
    expect(body1.callbacks).toEqual([link]);
    expect(body1).not.toHaveProperty("errbacks");
    expect(decodeTask(retry1.content, retry1.properties, { maxBytes: 1_048_576 }).workflow).toEqual(["callbacks"]);
  });

  it("a requeued task's requeue count and origin go on through its retries and into its dead letter; a first-time task has none", () => {
    const requeued = inbound(original.content, { ...original.properties, headers: { ...original.properties.headers, [MF_HEADERS.requeues]: 2, [MF_HEADERS.requeuedFrom]: "matches.dead_letter" } });
    const p = prepareMessage(requeued, options);
    if (!p.ok) throw new Error("expected ok");
    const retry = buildRetryMessage(p.envelope, requeued, new TransientError("db_deadlock", "deadlock"), 1, 45_000, NOW);
    expect(delivered(retry.properties.headers)).toMatchObject({ [MF_HEADERS.requeues]: 2, [MF_HEADERS.requeuedFrom]: "matches.dead_letter" });
    const dead = buildDeadLetter(inbound(retry.content, { ...retry.properties, headers: delivered(retry.properties.headers) }), new TransientError("db_deadlock", "again"), 2, NOW);
    expect(delivered(dead.properties.headers)).toMatchObject({ [MF_HEADERS.requeues]: 2, [MF_HEADERS.requeuedFrom]: "matches.dead_letter" });
    const plain = prepareMessage(message, options);
    if (!plain.ok) throw new Error("expected ok");
    const first = buildRetryMessage(plain.envelope, message, new TransientError("db_deadlock", "deadlock"), 1, 45_000, NOW).properties.headers ?? {};
    expect([MF_HEADERS.requeues, MF_HEADERS.requeuedFrom].filter((h) => h in first)).toEqual([]);
  });

  it("a dead letter keeps the original body and properties and adds the error headers", () => {
    const dead = buildDeadLetter(message, new PermanentError("contract_violation", "away_team is required"), 1, NOW);
    expect(dead.content.equals(original.content)).toBe(true);
    expect(dead.properties.correlationId).toBe("task-1");
    expect(delivered(dead.properties.headers)).toMatchObject({
      task: TASK,
      "x-matchflow-error-code": "contract_violation",
      "x-matchflow-error-message": "away_team is required",
      "x-matchflow-attempts": 1,
      "x-matchflow-original-exchange": "",
      "x-matchflow-original-routing-key": "matches",
    });
  });

  it("bounds the error message header", () => {
    const dead = buildDeadLetter(message, new PermanentError("x", "e".repeat(10_000)), 1, NOW);
    expect(String(dead.properties.headers?.["x-matchflow-error-message"]).length).toBeLessThanOrEqual(2000);
  });
});

describe("warmUpMessagePath", () => {
  it("runs valid synthetic messages through decode and validation (none refused)", () => {
    const config = loadConfig({});
    expect(warmUpMessagePath(config)).toBe(2_000);
  });
});
