import { describe, expect, it } from "vitest";
import { revokedForHello, revokedFromHello } from "../../src/celery/mingle.js";
import { REVOKES_MAX } from "../../src/celery/revoked.js";

const clocks = { wallMs: 1_764_000_000_000, monotonicS: 50_000 };

describe("mingle's revoked ids on the wire", () => {
  it("go out as Celery's LimitedSet._data, stamped on the monotonic clock, and come back as they were", () => {
    const entries = [["a", clocks.wallMs - 1_500] as const, ["b", clocks.wallMs] as const];
    const wire = revokedForHello(entries, clocks);
    expect(wire).toEqual({ a: [49_998.5, "a"], b: [50_000, "b"] });
    expect(revokedFromHello(JSON.parse(JSON.stringify(wire)), clocks)).toEqual(entries);
  });

  it("skip what is not an id with a stamp, ids past REVOKE_EXPIRES, and stop at REVOKES_MAX", () => {
    const long = "x".repeat(256);
    expect(revokedFromHello({ ok: 49_000, nan: "1", nul: null, arr: [], [long]: 49_000, "": 49_000, expired: 50_000 - 10_800 }, clocks)).toEqual([["ok", clocks.wallMs - 1_000_000]]);
    expect(revokedFromHello("not a dict", clocks)).toEqual([]);
    const many = Object.fromEntries(Array.from({ length: REVOKES_MAX + 10 }, (_, i) => [`t-${i}`, 49_999]));
    expect(revokedFromHello(many, clocks)).toHaveLength(REVOKES_MAX);
  });
});
