/**
 * A received task's headers are bounded in heap bytes: real tables pass untouched, a structure
 * that decodes to many times its wire size loses its heaviest foreign headers, named.
 */
import { createRequire } from "node:module";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { fieldTableBytes } from "../../src/broker/field-table-size.js";
import { DEPLOYED_FRAME_MAX } from "../../src/broker/fit-headers.js";
import { MF_HEADERS } from "../../src/broker/headers.js";
import { boundReceivedHeaders, HEAP_BYTES, INBOUND_HEADER_HEAP_BUDGET } from "../../src/broker/inbound-headers.js";
import { encodeTaskV2 } from "../../src/celery/codec.js";

const require = createRequire(import.meta.url);
const amqplibLib = path.join(path.dirname(require.resolve("amqplib")), "lib");
const codec = require(path.join(amqplibLib, "codec.js")) as {
  encodeTable(buffer: Buffer, value: unknown, offset: number): number;
  decodeFields(slice: Buffer): Record<string, unknown>;
};

/** The table as a consumer gets it: encoded and decoded by amqplib. */
function received(headers: Record<string, unknown>): Record<string, unknown> {
  const buffer = Buffer.alloc(2 ** 20);
  const length = codec.encodeTable(buffer, headers, 0);
  return codec.decodeFields(buffer.subarray(4, length));
}

const TASK = "celery_tasks.match_tasks.process_match_data";
const celeryHeaders = () => encodeTaskV2({ taskName: TASK, taskId: "t-1", args: [{ home_team: "A", away_team: "B" }] }).properties.headers;
const xDeath = [{ count: 3, reason: "expired", queue: "matches.retry.4000ms", time: { "!": "timestamp", value: 1_700_000_000 }, exchange: "", "routing-keys": ["matches.retry.4000ms"] }];
/** 16 KiB on the wire: as much as the deployed frame_max lets through, as empty tables. */
const emptyTables = (n = Math.floor((DEPLOYED_FRAME_MAX - 1024) / 5)) => Array.from({ length: n }, () => ({}));

describe("boundReceivedHeaders", () => {
  it("leaves real Celery headers (with the broker's history) as they are: the same object, nothing dropped", () => {
    const headers = received({ ...celeryHeaders(), "x-death": xDeath, [MF_HEADERS.attempts]: 2 });
    const bounded = boundReceivedHeaders(headers);
    expect(bounded.headers).toBe(headers);
    expect(bounded.dropped).toEqual([]);
    expect(HEAP_BYTES.table(headers)).toBeLessThan(INBOUND_HEADER_HEAP_BUDGET / 8);
    expect(boundReceivedHeaders(undefined)).toEqual({ headers: undefined, dropped: [] });
  });

  it("leaves the largest text the deployed frame_max lets through (two bytes a character in the heap)", () => {
    const headers = received({ ...celeryHeaders(), "x-pad": `${"x".repeat(DEPLOYED_FRAME_MAX - 2048)}€` });
    expect(fieldTableBytes(headers)).toBeLessThan(DEPLOYED_FRAME_MAX);
    expect(boundReceivedHeaders(headers).dropped).toEqual([]);
  });

  it("drops a structure that decodes to many times its wire size, naming it, and keeps the task's, matchflow's and the broker's headers", () => {
    const headers = received({ ...celeryHeaders(), "x-death": xDeath, "x-small": "kept", junk: emptyTables() });
    expect(fieldTableBytes(headers)).toBeLessThan(DEPLOYED_FRAME_MAX);
    // ~12x its wire size by the estimate (V8 objects against 5-byte tables).
    expect(HEAP_BYTES.table(headers)).toBeGreaterThan(10 * fieldTableBytes(headers));
    const bounded = boundReceivedHeaders(headers);
    expect(bounded.dropped).toEqual(["junk"]);
    expect(bounded.headers).toEqual({ ...received(celeryHeaders()), "x-death": headers["x-death"], "x-small": "kept", [MF_HEADERS.droppedHeaders]: "junk" });
    expect(HEAP_BYTES.table(bounded.headers ?? {})).toBeLessThanOrEqual(INBOUND_HEADER_HEAP_BUDGET);
    // The table as received is not changed (amqplib's message object keeps it).
    expect(headers.junk).toHaveLength(emptyTables().length);
  });

  it("extends the list an earlier copy left, heaviest first, and drops the task's own headers only when they alone are too heavy", () => {
    const headers = received({ ...celeryHeaders(), [MF_HEADERS.droppedHeaders]: "x-pad", a: emptyTables(300), b: emptyTables(3000) });
    expect(boundReceivedHeaders(headers).headers?.[MF_HEADERS.droppedHeaders]).toBe("x-pad, b");

    const hostileTask = received({ ...celeryHeaders(), timelimit: emptyTables() });
    const bounded = boundReceivedHeaders(hostileTask);
    expect(bounded.dropped).toEqual(["timelimit"]);
    expect(bounded.headers?.id).toBe("t-1");
  });
});
