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

describe("RevokedSet.merge keeps the set as a full re-sort would, and add keeps it in order", () => {
  /** The straightforward merge: the later time of each id, everything sorted oldest first (stable), the oldest past the limits dropped. */
  function reference(before: [string, number][], incoming: [string, number][], max: number, cutoff: number): [string, number][] {
    const later = new Map(before);
    for (const [id, at] of incoming) {
      const known = later.get(id);
      if (known === undefined || at > known) later.set(id, at);
    }
    const sorted = [...later].sort((a, b) => a[1] - b[1]).filter(([, at]) => at > cutoff);
    return sorted.slice(Math.max(0, sorted.length - max));
  }

  it("on random sets and merges: old, new, interleaved, repeated and duplicate ids", () => {
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return (seed >>> 16) % n; // an LCG's low bits repeat quickly
    };
    for (let round = 0; round < 300; round += 1) {
      let now = 1_000;
      const set = new RevokedSet(() => now, 1 + random(12), 400);
      for (let step = 0; step < 6; step += 1) {
        now += random(60);
        if (random(2) === 0) {
          set.add(Array.from({ length: random(4) }, () => `id${random(15)}`));
          // Merged times may be later than this clock's now: the set stays oldest first all the same.
          const times = set.entries().map(([, at]) => at);
          expect(times).toEqual([...times].sort((a, b) => a - b));
          continue;
        }
        const incoming = Array.from({ length: random(8) }, (): [string, number] => [`id${random(15)}`, now - 500 + random(560)]);
        // The reference sorts stably from the set's own (time-ordered) entries, as merge keeps equal times.
        const expected = reference(set.entries(), incoming, set["max"], now - 400);
        set.merge(incoming);
        expect(set.entries().map(([, at]) => at)).toEqual(expected.map(([, at]) => at));
        expect(new Set(set.entries().map(([id]) => id))).toEqual(new Set(expected.map(([id]) => id)));
      }
    }
  });

  it("merging nothing new leaves the set as it was; newer ids are appended", () => {
    let now = 100;
    const set = new RevokedSet(() => now, 10, 1_000);
    set.add(["a"]);
    now = 200;
    set.add(["b"]);
    expect(set.merge([])).toEqual([]);
    expect(set.merge([["a", 50], ["b", 200]])).toEqual([]);
    expect(set.entries()).toEqual([["a", 100], ["b", 200]]);
    set.merge([["c", 300], ["d", 250]]);
    expect(set.entries()).toEqual([["a", 100], ["b", 200], ["d", 250], ["c", 300]]);
  });

  it("returns what it changed (new ids, later times), oldest first: what the worker writes to the database", () => {
    const set = new RevokedSet(() => 500, 10, 1_000);
    set.merge([["a", 100], ["b", 200]]);
    expect(set.merge([["c", 300], ["a", 400], ["b", 150], ["c", 250], ["d", 50]])).toEqual([["d", 50], ["c", 300], ["a", 400]]);
  });
});
