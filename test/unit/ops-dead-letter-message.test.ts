/**
 * Dead letters as the worker makes them (`buildDeadLetter`), read back for `dlq list/show`
 * and turned into requeue messages: retries reset, task id kept, failure headers dropped.
 */
import { deflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { headersAsDelivered } from "../../src/broker/field-values.js";
import { MF_HEADERS } from "../../src/broker/headers.js";
import { amqpInt, decodeTask, encodeTaskV1, encodeTaskV2, type EncodedMessage } from "../../src/celery/codec.js";
import { PermanentError, TransientError } from "../../src/errors.js";
import { buildRequeueMessage, deadLetterCode, deadLetterKey, deadLetterKeyOf, describeDeadLetter, summariseDeadLetter, type DeadLetterMessage } from "../../src/ops/dead-letter-message.js";
import { buildDeadLetter } from "../../src/worker/outgoing.js";
import type { InboundMessage } from "../../src/worker/transport.js";

const TASK = "celery_tasks.match_tasks.process_match_data";
const MAX = 1_048_576;
const NOW = Date.parse("2025-09-07T10:00:00Z");
const match = { home_team: "Home FC", away_team: "Away SC", match_date: "2025-09-06", age_group: "U14", match_type: "League", external_match_id: "ext-1" };

function inbound(msg: EncodedMessage, extraHeaders: Record<string, unknown> = {}): InboundMessage {
  return {
    content: msg.content,
    properties: { ...msg.properties, headers: { ...msg.properties.headers, ...extraHeaders } },
    exchange: "matches",
    routingKey: "matches.process",
    redelivered: false,
    receivedAt: NOW,
    token: undefined,
  };
}

function deadLetterOf(msg: EncodedMessage, attempts = 4, extraHeaders: Record<string, unknown> = {}): DeadLetterMessage {
  const error = new TransientError("database_unavailable", "connection refused");
  return buildDeadLetter(inbound(msg, extraHeaders), error, attempts, NOW);
}

describe("summariseDeadLetter", () => {
  it("reads task id, external id, error, attempts and time from a worker dead letter", () => {
    const dl = deadLetterOf(encodeTaskV2({ taskName: TASK, taskId: "task-1", args: [match], retries: 3 }));
    expect(summariseDeadLetter(dl, MAX)).toMatchObject({
      taskId: "task-1",
      taskName: TASK,
      externalMatchId: "ext-1",
      errorCode: "database_unavailable",
      errorMessage: "connection refused",
      attempts: 4,
      failedAt: "2025-09-07T10:00:00.000Z",
      originalExchange: "matches",
      originalRoutingKey: "matches.process",
      protocol: 2,
      decodeError: null,
    });
  });

  it("finds the match in kwargs and reads protocol 1 bodies", () => {
    const dl = deadLetterOf(encodeTaskV1({ taskName: TASK, taskId: "task-v1", args: [], kwargs: { match_data: match } }));
    expect(summariseDeadLetter(dl, MAX)).toMatchObject({ taskId: "task-v1", externalMatchId: "ext-1", protocol: 1 });
  });

  it("still names an undecodable message by its correlation id and says why it is unreadable", () => {
    const raw: InboundMessage = { ...inbound(encodeTaskV2({ taskName: TASK, taskId: "x", args: [match] })), content: Buffer.from("not json"), properties: { contentType: "application/json", correlationId: "corr-9", headers: {} } };
    const dl = buildDeadLetter(raw, new PermanentError("malformed_json", "message body is not valid JSON"), 1, NOW);
    const s = summariseDeadLetter(dl, MAX);
    expect(s.taskId).toBe("corr-9");
    expect(s.errorCode).toBe("malformed_json");
    expect(s.decodeError).toMatch(/not valid JSON/);
    expect(s.externalMatchId).toBeNull();
  });

  it("unwraps amqplib typed header values", () => {
    const dl = deadLetterOf(encodeTaskV2({ taskName: TASK, taskId: "t", args: [match] }));
    dl.properties.headers = { ...dl.properties.headers, [MF_HEADERS.attempts]: { "!": "int", value: 7 } };
    expect(summariseDeadLetter(dl, MAX).attempts).toBe(7);
  });
});

describe("summariseDeadLetter of a message the broker dead-lettered itself", () => {
  // As RabbitMQ 3.10 hands over a Celery task (expires=1) that expired while queued in `matches`.
  const celery = encodeTaskV2({ taskName: TASK, taskId: "celery-1", args: [match], expires: "2025-09-07T09:59:59+00:00" });
  const death = (reason: string, count = 1) => ({
    ...celery,
    properties: {
      ...celery.properties,
      expiration: undefined,
      headers: {
        ...celery.properties.headers,
        "x-death": [{ count, reason, queue: "matches", time: { "!": "timestamp", value: NOW / 1000 }, exchange: "", "routing-keys": ["matches"], "original-expiration": "1000" }],
        "x-first-death-reason": reason,
        "x-first-death-queue": "matches",
        "x-first-death-exchange": "",
      },
    },
  });

  it("an expired Celery task (no worker saw it, so no x-matchflow headers) is named by the broker's reason, queue and time instead of '?' (x-death)", () => {
    expect(summariseDeadLetter(death("expired"), MAX)).toMatchObject({
      taskId: "celery-1",
      externalMatchId: "ext-1",
      errorCode: "broker_expired",
      errorMessage: expect.stringMatching(/^expired in queue matches before a worker took it \(per-message TTL 1000 ms: a Celery producer's expires=\)$/) as unknown,
      attempts: 0,
      failedAt: "2025-09-07T10:00:00.000Z",
    });
    expect(summariseDeadLetter(death("rejected", 2), MAX)).toMatchObject({ errorCode: "broker_rejected", errorMessage: expect.stringContaining("not a matchflow worker") as unknown, attempts: 2 });
  });

  it("a worker's dead letter keeps its own reason even when it carries x-death (an eta copy that came back through a delay queue)", () => {
    const dl = deadLetterOf(death("expired"));
    expect(summariseDeadLetter(dl, MAX)).toMatchObject({ errorCode: "database_unavailable", attempts: 4 });
  });
});

describe("describeDeadLetter", () => {
  it("gives headers, properties and decoded task arguments", () => {
    const d = describeDeadLetter(deadLetterOf(encodeTaskV2({ taskName: TASK, taskId: "task-2", args: [match], retries: 3 })), MAX);
    expect(d.task?.args).toEqual([match]);
    expect(d.task?.retries).toBe(3);
    expect(d.headers[MF_HEADERS.errorCode]).toBe("database_unavailable");
    expect(d.properties.correlationId).toBe("task-2");
    expect(d.properties).not.toHaveProperty("headers");
    expect(d.body).toBeNull();
  });

  it("shows an undecodable body as text, or base64 when it is not UTF-8", () => {
    const dl: DeadLetterMessage = { content: Buffer.from([0xff, 0xfe, 0x00]), properties: { contentType: "application/json", headers: {} } };
    const d = describeDeadLetter(dl, MAX);
    expect(d.task).toBeNull();
    expect(d.body).toEqual({ encoding: "base64", text: Buffer.from([0xff, 0xfe, 0x00]).toString("base64") });
  });
});

describe("buildRequeueMessage", () => {
  const opts = { deadLetterQueue: "matches.dead_letter", maxBytes: MAX };

  it("keeps the Celery headers a Python producer set that matchflow does not model, and none of the task headers it re-encodes", () => {
    // A Celery producer's message: time limits and a group, an eta and a parent.
    const original = encodeTaskV2({ taskName: TASK, taskId: "task-4", args: [match], retries: 2, eta: "2025-09-07T09:59:00Z", parentId: "parent-1" });
    const dl = deadLetterOf(original, 3, { timelimit: [300, 200], group: "group-1", group_index: 0, shadow: null });
    const sent = buildRequeueMessage(dl, opts).options.headers as Record<string, unknown>;
    // Typed as py-amqp reads them: amqplib's guess for 128-32767 is a short string to Python.
    expect(sent.timelimit).toEqual([amqpInt(300), amqpInt(200)]);
    const headers = headersAsDelivered(sent);
    expect(headers).toMatchObject({ timelimit: [300, 200], group: "group-1", group_index: 0, parent_id: "parent-1", retries: 0 });
    expect(headers).not.toHaveProperty("eta");
  });

  it("sends the task back as it was sent: ignore_result and priority kept (matchflow's publisher sets ignore_result)", () => {
    const original = encodeTaskV2({ taskName: TASK, taskId: "task-ir", args: [match], ignoreResult: true, priority: 7, replyTo: "caller.reply" });
    const out = buildRequeueMessage(deadLetterOf(original, 1), opts);
    expect(out.reencoded).toBe(true);
    expect(out.options.priority).toBe(7);
    expect(out.options.replyTo).toBe("caller.reply");
    expect(headersAsDelivered(out.options.headers as Record<string, unknown>)).toMatchObject({ ignore_result: true });
    const plain = buildRequeueMessage(deadLetterOf(encodeTaskV2({ taskName: TASK, taskId: "task-p", args: [match] }), 1), opts);
    expect(headersAsDelivered(plain.options.headers as Record<string, unknown>)).toMatchObject({ ignore_result: false });
    expect(plain.options.priority).toBe(0);
  });

  it("keeps the task's Celery canvas (callbacks, errbacks, chain) in the re-encoded body, and dlq show shows it", () => {
    const embed = { callbacks: [{ task: "notify.done", args: [], kwargs: {}, options: {}, subtask_type: null, immutable: false }], errbacks: null, chain: null, chord: null };
    const original = encodeTaskV2({ taskName: TASK, taskId: "task-w", args: [match], embed });
    const out = buildRequeueMessage(deadLetterOf(original, 1), opts);
    expect(out.reencoded).toBe(true);
    expect(JSON.parse(out.content.toString("utf8"))).toEqual([[match], {}, embed]);
    // `dlq show` shows it, so an operator sees what a requeue would set off; none for a plain task.
    expect(describeDeadLetter(deadLetterOf(original, 1), MAX).task?.canvas).toEqual(embed);
    expect(describeDeadLetter(deadLetterOf(encodeTaskV2({ taskName: TASK, taskId: "plain", args: [match] }), 1), MAX).task?.canvas).toBeNull();
  });

  it("sends a task Celery compressed as it came, compressed, with its compression header", () => {
    const plain = encodeTaskV2({ taskName: TASK, taskId: "task-z", args: [match] });
    const compressed = deflateSync(plain.content);
    const dl = deadLetterOf({ ...plain, content: compressed }, 4, { compression: "application/x-gzip" });
    const out = buildRequeueMessage(dl, opts);
    expect(out.reencoded).toBe(true);
    expect(out.content.equals(compressed)).toBe(true);
    expect(out.options.headers).toHaveProperty("compression", "application/x-gzip");
    expect(decodeTask(out.content, out.options, { maxBytes: MAX }).args).toEqual([match]);
  });

  it("re-encodes protocol 2 with retries 0, no eta, the same task id, and no failure headers", () => {
    const original = encodeTaskV2({ taskName: TASK, taskId: "task-3", args: [match], retries: 3, eta: "2025-09-07T09:59:00Z", rootId: "root-1" });
    const dl = deadLetterOf(original, 4, { "x-death": [{ count: 1, queue: "matches.retry.60000ms" }], "x-first-death-queue": "q", "x-delivery-count": 3, "x-custom": "kept" });
    const out = buildRequeueMessage(dl, opts);
    expect(out.reencoded).toBe(true);
    expect(out.taskId).toBe("task-3");
    const headers = headersAsDelivered(out.options.headers as Record<string, unknown>);
    expect(Object.keys(headers).filter((h) => h.startsWith("x-matchflow-")).sort()).toEqual(
      [MF_HEADERS.firstFailureAt, MF_HEADERS.firstDeliveredAt, MF_HEADERS.originalExchange, MF_HEADERS.originalRoutingKey, MF_HEADERS.requeuedFrom, MF_HEADERS.requeues].sort(),
    );
    expect(headers[MF_HEADERS.requeuedFrom]).toBe("matches.dead_letter");
    expect(headers[MF_HEADERS.requeues]).toBe(1);
    expect(headers).not.toHaveProperty("x-death");
    expect(headers).not.toHaveProperty("x-first-death-queue");
    expect(headers).not.toHaveProperty("x-delivery-count");
    expect(headers["x-custom"]).toBe("kept");
    expect(out.options.expiration).toBeUndefined();
    expect(out.options.deliveryMode).toBe(2);
    const env = decodeTask(out.content, { ...out.options, headers }, { maxBytes: MAX });
    expect(env).toMatchObject({ protocol: 2, taskId: "task-3", taskName: TASK, retries: 0, eta: null, rootId: "root-1", args: [match] });
    expect(out.options.correlationId).toBe("task-3");
  });

  it("keeps the first failure and the original destination through a requeue, also for undecodable bytes", () => {
    const firstFailure = "2025-09-01T08:00:00.000Z";
    const history = { [MF_HEADERS.firstFailureAt]: firstFailure, [MF_HEADERS.originalExchange]: "matches-fanout", [MF_HEADERS.originalRoutingKey]: "" };
    const decodable = deadLetterOf(encodeTaskV2({ taskName: TASK, taskId: "t-h", args: [match] }), 2, history);
    const undecodable: DeadLetterMessage = { content: Buffer.from("not json"), properties: { contentType: "application/json", headers: { ...decodable.properties.headers } } };
    for (const dl of [decodable, undecodable]) {
      const headers = buildRequeueMessage(dl, opts).options.headers as Record<string, unknown>;
      expect(headers).toMatchObject(history);
      expect(headers).not.toHaveProperty(MF_HEADERS.lastFailureAt);
      expect(headers).not.toHaveProperty(MF_HEADERS.deadLetteredAt);
      expect(headers).not.toHaveProperty(MF_HEADERS.errorCode);
      expect(headers).not.toHaveProperty(MF_HEADERS.attempts);
    }
  });

  it("keeps protocol 1 as protocol 1 with retries 0", () => {
    const dl = deadLetterOf(encodeTaskV1({ taskName: TASK, taskId: "task-v1", args: [match], retries: 3 }));
    const out = buildRequeueMessage(dl, opts);
    const env = decodeTask(out.content, { ...out.options }, { maxBytes: MAX });
    expect(env).toMatchObject({ protocol: 1, taskId: "task-v1", retries: 0, args: [match] });
  });

  it("never sets a per-message expiration, even for a task with expires (it would vanish from the work queue)", () => {
    const dl = deadLetterOf(encodeTaskV2({ taskName: TASK, taskId: "t-exp", args: [match], expires: "2025-09-08T00:00:00Z" }, { now: NOW }));
    const out = buildRequeueMessage(dl, opts);
    expect(out.options.expiration).toBeUndefined();
    expect(decodeTask(out.content, { ...out.options }, { maxBytes: MAX }).expires).toBe("2025-09-08T00:00:00Z");
  });

  it("puts an undecodable dead letter back byte for byte, minus the failure headers", () => {
    const content = Buffer.from([0x7b, 0xff, 0x00, 0x41]);
    const dl: DeadLetterMessage = {
      content,
      properties: { contentType: "application/json", correlationId: "corr-1", messageId: "m-1", userId: "someone", expiration: "5", headers: { [MF_HEADERS.errorCode]: "malformed_json", "x-custom": 1 } },
    };
    const out = buildRequeueMessage(dl, opts);
    expect(out.reencoded).toBe(false);
    expect(out.content.equals(content)).toBe(true);
    expect(out.taskId).toBe("corr-1");
    expect(out.options).toMatchObject({ contentType: "application/json", correlationId: "corr-1", messageId: "m-1", deliveryMode: 2 });
    expect(out.options.userId).toBeUndefined();
    expect(out.options.expiration).toBeUndefined();
    expect(out.options.headers).toEqual({ "x-custom": amqpInt(1), [MF_HEADERS.requeuedFrom]: "matches.dead_letter", [MF_HEADERS.requeues]: amqpInt(1) });
  });

  it("counts requeues: one more than the dead letter says, whatever else it says; listed with the summary", () => {
    const original = encodeTaskV2({ taskName: TASK, taskId: "task-r", args: [match] });
    const requeuesAfter = (value: unknown) => headersAsDelivered(buildRequeueMessage(deadLetterOf(original, 2, value === undefined ? {} : { [MF_HEADERS.requeues]: value }), opts).options.headers as Record<string, unknown>)[MF_HEADERS.requeues];
    expect([undefined, 0, 2, "7", -3, "lots", 1.5].map(requeuesAfter)).toEqual([1, 1, 3, 8, 1, 1, 1]);
    expect(summariseDeadLetter(deadLetterOf(original, 2, { [MF_HEADERS.requeues]: 4 }), MAX).requeues).toBe(4);
    expect(summariseDeadLetter(deadLetterOf(original, 2), MAX).requeues).toBe(0);
  });
});

describe("deadLetterKeyOf", () => {
  const raw = (content: string, properties: Record<string, unknown>): DeadLetterMessage =>
    buildDeadLetter({ ...inbound(encodeTaskV2({ taskName: TASK, taskId: "x", args: [match] })), content: Buffer.from(content), properties: { contentType: "application/json", headers: {}, ...properties } }, new PermanentError("malformed_json", "bad"), 1, NOW);
  const letters: [string, DeadLetterMessage][] = [
    ["protocol 2", deadLetterOf(encodeTaskV2({ taskName: TASK, taskId: "task-2", args: [match] }))],
    ["protocol 1 (the id in the body)", deadLetterOf(encodeTaskV1({ taskName: TASK, taskId: "task-v1", args: [match] }))],
    ["undecodable, a correlation id", raw("not json", { correlationId: "corr-9" })],
    ["undecodable, no id at all", raw("not json", {})],
  ];

  it.each(letters)("%s: the key `dlq show` and `dlq requeue` derive from a full decode, from one decode", (_, dl) => {
    const summary = summariseDeadLetter(dl, MAX);
    const expected = summary.taskId ?? summary.bodyRef;
    expect(expected).not.toBeNull();
    expect(deadLetterKeyOf(dl, MAX)).toBe(expected);
    expect(deadLetterKeyOf(dl, MAX)).toBe(deadLetterKey(buildRequeueMessage(dl, { deadLetterQueue: "matches.dead_letter", maxBytes: MAX }).taskId, dl.content));
  });
});

describe("deadLetterCode", () => {
  it("is the code dlq list shows: the worker's, else the broker's own reason, else null", () => {
    const worker = deadLetterOf(encodeTaskV2({ taskName: TASK, taskId: "c-1", args: [match] }));
    const task = encodeTaskV2({ taskName: TASK, taskId: "c-2", args: [match] });
    const byBroker: DeadLetterMessage = { content: task.content, properties: { ...task.properties, headers: { ...task.properties.headers, "x-death": [{ reason: "maxlen", queue: "matches", count: 1 }] } } };
    const unexplained: DeadLetterMessage = { content: task.content, properties: task.properties };
    for (const dl of [worker, byBroker, unexplained]) expect(deadLetterCode(dl)).toBe(summariseDeadLetter(dl, MAX).errorCode);
    expect([worker, byBroker, unexplained].map(deadLetterCode)).toEqual(["database_unavailable", "broker_maxlen", null]);
  });
});
