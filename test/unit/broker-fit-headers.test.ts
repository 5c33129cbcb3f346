/**
 * What the worker and `dlq requeue` do with a copy whose headers would not fit the frame_max:
 * drop the largest headers that are neither the task's nor matchflow's, name them, keep the body.
 */
import { createRequire } from "node:module";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { AMQPLIB_MAX_TABLE_BYTES, contentHeaderFrameBytes, fieldTableBytes, type FramedProperties } from "../../src/broker/field-table-size.js";
import { argsreprBudget, DEPLOYED_FRAME_MAX, fitHeaders, headerTableBudget, MAX_DROPPED_LIST_CHARS } from "../../src/broker/fit-headers.js";
import { MF_HEADERS } from "../../src/broker/headers.js";
import { decodeTask, encodeTaskV2 } from "../../src/celery/codec.js";
import { PermanentError, TransientError } from "../../src/errors.js";
import { validateForProducer } from "../../src/contract/index.js";
import { buildRequeueMessage } from "../../src/ops/dead-letter-message.js";
import { buildDeadLetter, buildRetryMessage } from "../../src/worker/outgoing.js";
import type { InboundMessage } from "../../src/worker/transport.js";

const require = createRequire(import.meta.url);
const amqplibLib = path.join(path.dirname(require.resolve("amqplib")), "lib");
const codec = require(path.join(amqplibLib, "codec.js")) as { encodeTable(buffer: Buffer, value: unknown, offset: number): number };

/** amqplib's own bytes for the table (what the copy would really take). */
function amqplibTableBytes(table: Record<string, unknown>): number {
  return codec.encodeTable(Buffer.alloc(4 * 2 ** 20), table, 0);
}

const NOW = Date.parse("2026-01-02T03:04:05Z");
const TASK = "celery_tasks.match_tasks.process_match_data";

function inbound(headers: Record<string, unknown>, content: Buffer = Buffer.from("not json")): InboundMessage {
  return { content, properties: { contentType: "application/json", contentEncoding: "utf-8", headers, deliveryMode: 2, correlationId: "t-1" }, exchange: "matches", routingKey: "matches.process", redelivered: false, receivedAt: NOW, token: undefined };
}

/** The frame the transport would send for this dead letter (persistent, no expiration). */
function deadLetterFrame(dl: { properties: FramedProperties }): number {
  return contentHeaderFrameBytes({ ...dl.properties, expiration: undefined, deliveryMode: 2 });
}

describe("fitHeaders", () => {
  const rule = { keep: (n: string) => n === "keep", protect: (n: string) => n.startsWith("p-") };

  it("leaves a table that fits as it is", () => {
    const headers = { a: "x".repeat(100), keep: 1 };
    expect(fitHeaders(headers, fieldTableBytes(headers), rule)).toEqual({ headers, dropped: [], bytes: fieldTableBytes(headers) });
  });

  it("drops unprotected headers largest first until it fits, then protected ones, never kept ones; names them", () => {
    const headers = { small: "x".repeat(10), big: "x".repeat(3000), mid: "x".repeat(1000), "p-big": "x".repeat(5000), keep: "x".repeat(500) };
    const one = fitHeaders(headers, 7000, rule);
    expect(one.dropped).toEqual(["big"]);
    expect(one.headers[MF_HEADERS.droppedHeaders]).toBe("big");
    expect(Object.keys(one.headers)).toEqual(["small", "mid", "p-big", "keep", MF_HEADERS.droppedHeaders]);
    expect(one.bytes).toBe(fieldTableBytes(one.headers));
    expect(one.bytes).toBeLessThanOrEqual(7000);

    const two = fitHeaders(headers, 1000, rule);
    expect(two.dropped).toEqual(["big", "mid", "small", "p-big"]);
    expect(two.headers).toEqual({ keep: headers.keep, [MF_HEADERS.droppedHeaders]: "big, mid, small, p-big" });
    expect(two.bytes).toBe(fieldTableBytes(two.headers));
  });

  it("extends an earlier copy's list and bounds it", () => {
    const headers: Record<string, unknown> = { [MF_HEADERS.droppedHeaders]: "x-pad" };
    for (let i = 0; i < 2000; i++) headers[`h-${"n".repeat(40)}-${i}`] = "v".repeat(20);
    const fit = fitHeaders(headers, 2000, rule);
    const list = fit.headers[MF_HEADERS.droppedHeaders] as string;
    expect(list.startsWith("x-pad, h-")).toBe(true);
    expect(list).toMatch(/\(and \d+ more\)$/);
    expect(list.length).toBeLessThan(MAX_DROPPED_LIST_CHARS + 30);
    expect(fit.bytes).toBe(fieldTableBytes(fit.headers));
    expect(fit.bytes).toBeLessThanOrEqual(2000);
  });

  it("budgets the frame minus the other properties and a margin, at most amqplib's 64 KiB buffer", () => {
    expect(headerTableBudget(DEPLOYED_FRAME_MAX, { contentType: "application/json" })).toBe(DEPLOYED_FRAME_MAX - 22 - 17 - 256);
    expect(headerTableBudget(131072, {})).toBe(AMQPLIB_MAX_TABLE_BYTES);
    expect(headerTableBudget(0xffffffff, {})).toBe(AMQPLIB_MAX_TABLE_BYTES);
  });
});

describe("argsrepr of a published task fits the broker's frame_max", () => {
  // The longest match the contract allows, in 3-byte characters: its repr is ~9 KB of UTF-8.
  const euro = (n: number) => "\u20ac".repeat(n);
  const checked = validateForProducer({ home_team: euro(200), away_team: `b${euro(199)}`, match_date: "2026-09-05", age_group: euro(50), match_type: euro(100), division: euro(200), external_match_id: euro(100), location: euro(500), notes: euro(2000), source: euro(100) });
  if (!checked.ok) throw new Error(JSON.stringify(checked.issues));
  const longOrigin = `gen${"9".repeat(7)}@${"h".repeat(64)}`;
  const task = (argsreprMaxChars: number, args: unknown[] = [checked.match]) =>
    encodeTaskV2({ taskName: "t".repeat(255), taskId: "0".repeat(36), args, replyTo: "r".repeat(36), origin: longOrigin, ignoreResult: true, argsreprMaxChars });
  const frame = (m: ReturnType<typeof task>) => contentHeaderFrameBytes(m.properties);
  const sample = task(0, []);
  const other = contentHeaderFrameBytes({ ...(sample.properties as FramedProperties), headers: { ...sample.properties.headers, argsrepr: "" } });

  it("cuts a budget the frame cannot carry, so the longest match's header frame fits the smallest frame_max", () => {
    expect(frame(task(65_536))).toBeGreaterThan(4096);
    for (const frameMax of [4096, 8192, 16_384]) {
      const budget = argsreprBudget(frameMax, other, 65_536);
      expect(budget).toBeLessThan(65_536);
      expect(frame(task(budget))).toBeLessThanOrEqual(frameMax);
    }
  });

  it("keeps the configured budget when it fits, when frame_max is unlimited (0) or unknown (no connection)", () => {
    expect(argsreprBudget(4096, other, 160)).toBe(160);
    expect(argsreprBudget(undefined, other, 65_536)).toBe(65_536);
    expect(frame(task(argsreprBudget(0, other, 65_536)))).toBeLessThanOrEqual(AMQPLIB_MAX_TABLE_BYTES);
  });
});

describe("copies that fit the frame", () => {
  const error = new PermanentError("invalid_match", "x".repeat(2500));

  it("a dead letter of a message whose headers were near the cap drops the largest foreign header, names it, keeps the body", () => {
    const task = encodeTaskV2({ taskName: TASK, taskId: "t-1", args: [{ a: 1 }] });
    const headers = { ...task.properties.headers, "x-small": "s", "x-pad": "€".repeat(5000) };
    const message = inbound(headers, task.content);
    expect(contentHeaderFrameBytes(message.properties)).toBeLessThanOrEqual(DEPLOYED_FRAME_MAX);
    const unfitted = buildDeadLetter(message, error, 1, NOW);
    expect(deadLetterFrame(unfitted)).toBeGreaterThan(DEPLOYED_FRAME_MAX);

    const dl = buildDeadLetter(message, error, 1, NOW, DEPLOYED_FRAME_MAX);
    expect(deadLetterFrame(dl)).toBeLessThanOrEqual(DEPLOYED_FRAME_MAX);
    expect(dl.droppedHeaders).toEqual(["x-pad"]);
    const h = dl.properties.headers ?? {};
    expect(h[MF_HEADERS.droppedHeaders]).toBe("x-pad");
    expect(h["x-small"]).toBe("s");
    expect(h[MF_HEADERS.errorCode]).toBe("invalid_match");
    for (const name of Object.keys(task.properties.headers)) expect(h[name]).toEqual(task.properties.headers[name]);
    expect(dl.content).toBe(message.content);
    // The dead letter still reads as the task.
    expect(decodeTask(dl.content, dl.properties, { maxBytes: 65536 }).taskId).toBe("t-1");
  });

  it("under the default frame_max, a 100 KiB header (more than amqplib can encode) is dropped too", () => {
    const message = inbound({ "x-pad": "x".repeat(100 * 1024), keepme: "k" });
    const dl = buildDeadLetter(message, error, 1, NOW, 131072);
    expect(dl.droppedHeaders).toEqual(["x-pad"]);
    expect(fieldTableBytes(dl.properties.headers ?? {})).toBeLessThanOrEqual(AMQPLIB_MAX_TABLE_BYTES);
    expect(amqplibTableBytes(dl.properties.headers ?? {})).toBe(fieldTableBytes(dl.properties.headers ?? {}));
  });

  it("a dead letter that fits is unchanged; without a frame_max (in-process transport) nothing is dropped", () => {
    const message = inbound({ "x-pad": "x".repeat(100 * 1024) });
    expect(buildDeadLetter(message, error, 1, NOW).droppedHeaders).toEqual([]);
    const small = buildDeadLetter(inbound({ a: "b" }), error, 1, NOW, DEPLOYED_FRAME_MAX);
    expect(small.droppedHeaders).toEqual([]);
    expect(small.properties.headers?.[MF_HEADERS.droppedHeaders]).toBeUndefined();
  });

  it("a retry carries only the task's headers (a near-cap foreign header is not in it) and a dropped list from before", () => {
    const task = encodeTaskV2({ taskName: TASK, taskId: "t-2", args: [{ a: 1 }] });
    const message = inbound({ ...task.properties.headers, "x-pad": "€".repeat(5000), [MF_HEADERS.droppedHeaders]: "x-old" }, task.content);
    const envelope = decodeTask(message.content, message.properties, { maxBytes: 65536 });
    const retry = buildRetryMessage(envelope, message, new TransientError("db_deadlock", "x".repeat(2500)), 1, 45_000, NOW, DEPLOYED_FRAME_MAX);
    expect(retry.droppedHeaders).toEqual([]);
    expect(retry.properties.headers?.["x-pad"]).toBeUndefined();
    expect(retry.properties.headers?.[MF_HEADERS.droppedHeaders]).toBe("x-old");
    expect(contentHeaderFrameBytes({ ...retry.properties, expiration: "45000" })).toBeLessThan(4096);
  });

  it("a retry whose task headers a producer made huge loses argsrepr and history first, never the task's identity", () => {
    const task = encodeTaskV2({ taskName: TASK, taskId: "t-3", args: [{ a: "y".repeat(2000) }], rootId: "r".repeat(9000), parentId: "p".repeat(9000) });
    const message = inbound({ ...task.properties.headers, [MF_HEADERS.firstFailureAt]: "f".repeat(3000) }, task.content);
    const envelope = decodeTask(message.content, message.properties, { maxBytes: 65536 });
    const retry = buildRetryMessage(envelope, message, new TransientError("db_deadlock", "deadlock"), 1, 45_000, NOW, DEPLOYED_FRAME_MAX);
    // Largest first among argsrepr, kwargsrepr and the history; only then a task header (the larger id).
    expect(retry.droppedHeaders.slice(0, 5).sort()).toEqual(["argsrepr", "kwargsrepr", MF_HEADERS.firstFailureAt, MF_HEADERS.originalExchange, MF_HEADERS.originalRoutingKey].sort());
    expect(retry.droppedHeaders.slice(5)).toEqual(["parent_id"]);
    expect(retry.properties.headers?.root_id).toBe("r".repeat(9000));
    expect(contentHeaderFrameBytes({ ...retry.properties, expiration: "45000" })).toBeLessThanOrEqual(DEPLOYED_FRAME_MAX);
    const again = decodeTask(retry.content, retry.properties, { maxBytes: 65536 });
    expect([again.taskId, again.retries, again.taskName]).toEqual(["t-3", 1, TASK]);
  });

  it("dlq requeue drops a near-cap foreign header (after the dead letter's failure headers are gone it may fit again)", () => {
    const task = encodeTaskV2({ taskName: TASK, taskId: "t-4", args: [{ a: 1 }] });
    const dead = { content: task.content, properties: { ...task.properties, headers: { ...task.properties.headers, "x-pad": "x".repeat(20_000), "x-keep": "k" } } };
    const out = buildRequeueMessage(dead, { deadLetterQueue: "matches.dead_letter", maxBytes: 65536, frameMax: DEPLOYED_FRAME_MAX });
    expect(out.droppedHeaders).toEqual(["x-pad"]);
    const headers = out.options.headers as Record<string, unknown>;
    expect(headers[MF_HEADERS.droppedHeaders]).toBe("x-pad");
    expect(headers["x-keep"]).toBe("k");
    expect(headers[MF_HEADERS.requeuedFrom]).toBe("matches.dead_letter");
    expect(contentHeaderFrameBytes(out.options)).toBeLessThanOrEqual(DEPLOYED_FRAME_MAX);
    // Undecodable: back byte for byte, headers fitted alike.
    const raw = buildRequeueMessage({ content: Buffer.from("{"), properties: { headers: { "x-pad": "x".repeat(20_000) } } }, { deadLetterQueue: "dlq", maxBytes: 65536, frameMax: DEPLOYED_FRAME_MAX });
    expect([raw.reencoded, raw.droppedHeaders]).toEqual([false, ["x-pad"]]);
    expect(raw.content.toString()).toBe("{");
    // Without a frame_max, as before.
    expect(buildRequeueMessage(dead, { deadLetterQueue: "matches.dead_letter", maxBytes: 65536 }).droppedHeaders).toEqual([]);
  });
});
