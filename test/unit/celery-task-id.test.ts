import { describe, expect, it } from "vitest";
import { timeOrderedTaskId } from "../../src/celery/task-id.js";

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("timeOrderedTaskId", () => {
  it("is a version 7 UUID whose first 48 bits are the time in milliseconds", () => {
    const at = Date.parse("2026-12-03T19:45:00.123Z");
    const id = timeOrderedTaskId(at);
    expect(id).toMatch(UUID_V7);
    expect(parseInt(id.replaceAll("-", "").slice(0, 12), 16)).toBe(at);
  });

  it("sorts as text in the order of time, byte by byte (as PostgreSQL's COLLATE \"C\" compares)", () => {
    const times = [0, 1, 255, 256, 1_000_000, Date.parse("2026-01-01T00:00:00Z"), Date.parse("2026-12-03T19:45:00Z"), 2 ** 48 - 1];
    const ids = times.map((t) => timeOrderedTaskId(t));
    expect([...ids].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))).toEqual(ids);
  });

  it("differs every time within one millisecond (74 random bits)", () => {
    const ids = new Set(Array.from({ length: 1000 }, () => timeOrderedTaskId(42)));
    expect(ids.size).toBe(1000);
  });
});
