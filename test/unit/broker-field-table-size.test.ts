/**
 * The encoded size of a header table and of a content header frame (src/broker/field-table-size.ts),
 * checked byte for byte against amqplib's own encoder on every type it chooses.
 */
import { createRequire } from "node:module";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { contentHeaderFrameBytes, fieldTableBytes } from "../../src/broker/field-table-size.js";
import { amqpInt, encodeTaskV2 } from "../../src/celery/codec.js";

const require = createRequire(import.meta.url);
// amqplib's package exports hide lib/: reach its files by path.
const amqplibLib = path.join(path.dirname(require.resolve("amqplib")), "lib");
const codec = require(path.join(amqplibLib, "codec.js")) as { encodeTable(buffer: Buffer, value: unknown, offset: number): number };
const defs = require(path.join(amqplibLib, "defs.js")) as { BasicProperties: number; encodeProperties(id: number, channel: number, size: number, fields: unknown): Buffer };

const NOW = Date.parse("2026-01-02T03:04:05Z");

function amqplibTableBytes(table: Record<string, unknown>): number {
  return codec.encodeTable(Buffer.alloc(4 * 2 ** 20), table, 0);
}

describe("fieldTableBytes", () => {
  const tables: Record<string, Record<string, unknown>> = {
    empty: {},
    strings: { a: "", b: "plain", "clé": "€uro and 𝄞", lone: "\ud800x", long: "x".repeat(70_000) },
    numbers: { z: 0, b: 127, nb: -128, s: 128, ns: -129, s2: 32767, i: 32768, ni: -32769, i2: 2 ** 31 - 1, l: 2 ** 31, nl: -(2 ** 31) - 1, big: 2 ** 50, huge: 2 ** 63, f: 1.5, nf: -0.25, inf: Infinity },
    others: { t: true, f: false, n: null, u: undefined, buf: Buffer.from([1, 2, 3]), date: new Date(NOW) },
    nested: { arr: [1, "two", [3, [4]], { five: 5 }, null, true, Buffer.alloc(7)], table: { inner: { deeper: ["x", { y: [] }] } }, emptyArr: [], emptyTable: {} },
    wrapped: {
      int: amqpInt(1),
      ts: { "!": "timestamp", value: NOW },
      dec: { "!": "decimal", value: { places: 2, digits: 12345 } },
      fl: { "!": "float", value: 1.5 },
      d: { "!": "double", value: 2 },
      ub: { "!": "unsignedbyte", value: 200 },
      us: { "!": "uint16", value: 60000 },
      ui: { "!": "uint32", value: 4e9 },
      l: { "!": "int64", value: 5 },
      str: { "!": "string", value: "wrapped" },
      num: { "!": "number", value: 70000 },
      bool: { "!": "boolean", value: true },
    },
    // What a broker-side dead-lettering leaves on a message, and an array of empty tables.
    xDeath: { "x-death": [{ count: 1, reason: "expired", queue: "matches.retry.1", time: { "!": "timestamp", value: NOW / 1000 }, exchange: "", "routing-keys": ["matches.retry.1"] }], structures: Array.from({ length: 1000 }, () => ({})) },
  };
  for (const [name, table] of Object.entries(tables)) {
    it(`equals amqplib's encoding: ${name}`, () => {
      expect(fieldTableBytes(table)).toBe(amqplibTableBytes(table));
    });
  }

  it("a whole content header frame equals amqplib's, every property set", () => {
    const props = {
      contentType: "application/json",
      contentEncoding: "utf-8",
      headers: tables.nested,
      deliveryMode: 2,
      priority: 0,
      correlationId: "id-1",
      replyTo: "reply",
      expiration: "60000",
      messageId: "m",
      timestamp: NOW,
      type: "t",
      userId: "u",
      appId: "matchflow",
      clusterId: "c",
    };
    expect(contentHeaderFrameBytes(props)).toBe(defs.encodeProperties(defs.BasicProperties, 1, 10, props).length);
    expect(contentHeaderFrameBytes({ headers: {} })).toBe(defs.encodeProperties(defs.BasicProperties, 1, 0, { headers: {} }).length);
  });
});

describe("a task's integer headers past 32 bits", () => {
  it("encode as amqplib can write them: a producer's group_index or retries of 2^31 and more (an `I` of them threw at publish, so the retry copy never went)", () => {
    const m = encodeTaskV2({ taskName: "t", taskId: "id", args: [], groupId: "g", groupIndex: 2 ** 31, retries: 2 ** 32 + 5 });
    expect(() => amqplibTableBytes(m.properties.headers)).not.toThrow();
    expect(fieldTableBytes(m.properties.headers)).toBe(amqplibTableBytes(m.properties.headers));
    expect(m.properties.headers).toMatchObject({ group_index: { "!": "long", value: 2 ** 31 }, retries: { "!": "long", value: 2 ** 32 + 5 } });
  });
});
