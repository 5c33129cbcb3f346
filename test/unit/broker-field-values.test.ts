/**
 * Numbers in header tables typed for py-amqp (Python Celery's client), which reads three of
 * amqplib's guessed integer types otherwise; and tables as amqplib hands them to a consumer.
 */
import { describe, expect, it } from "vitest";
import { headersAsDelivered, pythonReadableHeaders } from "../../src/broker/field-values.js";
import { fieldTableBytes } from "../../src/broker/field-table-size.js";
import { pythonReadableNumber } from "../../src/celery/codec.js";

describe("pythonReadableNumber", () => {
  it("types every integer as a signed 32-bit int when it fits (amqplib's guess: b, s), a larger positive one as a 64-bit long", () => {
    for (const n of [0, 1, -1, 127, 128, 200, 32_767, 32_768, -32_769, 2 ** 31 - 1, -(2 ** 31)]) expect(pythonReadableNumber(n), String(n)).toEqual({ "!": "int", value: n });
    expect(pythonReadableNumber(2 ** 31)).toEqual({ "!": "long", value: 2 ** 31 });
    expect(pythonReadableNumber(1_764_680_000_123)).toEqual({ "!": "long", value: 1_764_680_000_123 });
  });

  it("leaves fractions to amqplib (a double) and sends what no integer type holds as a double", () => {
    expect(pythonReadableNumber(1.5)).toBe(1.5);
    expect(pythonReadableNumber(-(2 ** 40))).toEqual({ "!": "double", value: -(2 ** 40) });
    expect(pythonReadableNumber(2 ** 60)).toEqual({ "!": "double", value: 2 ** 60 });
  });
});

describe("pythonReadableHeaders", () => {
  it("types the numbers of arrays and nested tables, and leaves text, booleans, null, Buffers and typed values as they are", () => {
    const stamp = { "!": "timestamp", value: 1_700_000_000 };
    const bytes = Buffer.from("xy");
    const typed = pythonReadableHeaders({ timelimit: [300, null], clock: 40_000, "x-death": [{ count: 3, time: stamp, queue: "q" }], flag: true, none: null, raw: bytes, ratio: 0.5 });
    expect(typed).toEqual({
      timelimit: [{ "!": "int", value: 300 }, null],
      clock: { "!": "int", value: 40_000 },
      "x-death": [{ count: { "!": "int", value: 3 }, time: stamp, queue: "q" }],
      flag: true,
      none: null,
      raw: bytes,
      ratio: 0.5,
    });
    // amqplib can encode it, and its size is measured with the types it asks for.
    expect(fieldTableBytes(typed)).toBeGreaterThan(fieldTableBytes({ timelimit: [300, null] }));
  });

  it("round-trips through headersAsDelivered to the numbers it started from; timestamps stay wrapped as amqplib delivers them", () => {
    const headers = { retries: 2, big: 1_764_680_000_123, nested: { n: -5, list: [1, 2.5] }, time: { "!": "timestamp", value: 1 } };
    expect(headersAsDelivered(pythonReadableHeaders(headers))).toEqual(headers);
  });
});
