import { describe, expect, it } from "vitest";
import { RevokedSet, REVOKE_EXPIRES_MS, REVOKES_MAX } from "../../src/celery/revoked.js";

describe("RevokedSet (Celery's worker.state.revoked)", () => {
  it("holds Celery's limits by default: 50,000 ids, three hours", () => {
    expect([REVOKES_MAX, REVOKE_EXPIRES_MS]).toEqual([50_000, 10_800_000]);
  });

  it("remembers a flagged id until it expires; flagging again starts the expiry over", () => {
    let now = 1_000;
    const set = new RevokedSet(() => now, 10, 100);
    set.add(["a", "b"]);
    expect([set.has("a"), set.has("b"), set.has("c")]).toEqual([true, true, false]);
    now = 1_060;
    set.add(["a"]);
    now = 1_100;
    // b was flagged at 1,000: expired now; a again at 1,060.
    expect([set.has("a"), set.has("b")]).toEqual([true, false]);
    expect(set.entries()).toEqual([["a", 1_060]]);
    now = 1_160;
    expect(set.has("a")).toBe(false);
    expect(set.size).toBe(0);
  });

  it("drops the oldest ids past its size, not the newest", () => {
    let now = 0;
    const set = new RevokedSet(() => now++, 3, 1_000);
    set.add(["a", "b", "c"]);
    set.add(["d"]);
    expect(set.entries().map(([id]) => id)).toEqual(["b", "c", "d"]);
    set.add(["b", "e"]);
    expect(set.entries().map(([id]) => id)).toEqual(["d", "b", "e"]);
    expect(set.has("c")).toBe(false);
  });
});

describe("RevokedSet.merge (mingle)", () => {
  it("takes ids flagged elsewhere at their times, keeps the later time of an id known on both sides, and stays oldest first", () => {
    let now = 100;
    const set = new RevokedSet(() => now, 3, 1_000);
    set.add(["a"]);
    now = 200;
    set.add(["b"]);
    set.merge([["c", 150], ["b", 120], ["a", 180], ["old", -2_000]]);
    expect(set.entries()).toEqual([["c", 150], ["a", 180], ["b", 200]]);
    // Full: the oldest go.
    set.merge([["d", 190]]);
    expect(set.entries()).toEqual([["a", 180], ["d", 190], ["b", 200]]);
  });
});
