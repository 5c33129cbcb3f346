import { describe, expect, it } from "vitest";
import { betterCopy, keepBestCopies, type CopyRank, type CopyRules } from "../../src/sources/duplicates.js";

interface Row {
  id: string | undefined;
  rank: CopyRank;
  note?: string;
}
const row = (id: string | undefined, rank: Partial<CopyRank> = {}, note?: string): Row => ({ id, rank: { result: false, completed: false, start: 0, ...rank }, ...(note ? { note } : {}) });
const rules: CopyRules<Row> = {
  key: (r) => r.id,
  rank: (r) => r.rank,
  same: (a, b) => JSON.stringify(a) === JSON.stringify(b),
  where: (key) => `game ${key}`,
  feed: "schedule k",
};

describe("one copy of a repeated match", () => {
  it("prefers a result, then completed, then the later kickoff; ties keep the first", () => {
    const plain: CopyRank = { result: false, completed: false, start: 10 };
    expect(betterCopy(plain, { ...plain, result: true, start: 5 })).toBe(true);
    expect(betterCopy({ ...plain, result: true }, { ...plain, completed: true, start: 99 })).toBe(false);
    expect(betterCopy(plain, { ...plain, completed: true, start: 5 })).toBe(true);
    expect(betterCopy(plain, { ...plain, start: 11 })).toBe(true);
    expect(betterCopy(plain, { ...plain })).toBe(false);
  });

  it("a stale unplayed copy before the copy with a result: the result is kept, in the first copy's place, and the difference said", () => {
    const out = keepBestCopies([row("1"), row("7", { start: 5 }, "stale"), row("2"), row("7", { result: true, completed: true, start: 5 }, "final")], rules);
    expect(out.kept.map((r) => [r.id, r.note])).toEqual([["1", undefined], ["7", "final"], ["2", undefined]]);
    expect(out.duplicates).toBe(1);
    expect(out.problems).toEqual([{ where: "game 7", reason: "2 copies in the feed that differ: kept the one with a result" }]);
  });

  it("identical copies (a page read twice) are counted, not reported; keyless items are never merged", () => {
    const out = keepBestCopies([row("1"), row("1"), row("1"), row(undefined), row(undefined)], rules);
    expect(out.kept.map((r) => r.id)).toEqual(["1", undefined, undefined]);
    expect(out.duplicates).toBe(2);
    expect(out.problems).toEqual([]);
  });

  it("says which copy was kept when none has a result", () => {
    const out = keepBestCopies([row("a", { start: 1 }), row("a", { start: 2 }), row("b", { completed: true }), row("b", { start: 9 })], rules);
    expect(out.kept.map((r) => r.rank)).toEqual([{ result: false, completed: false, start: 2 }, { result: false, completed: true, start: 0 }]);
    expect(out.problems.map((p) => p.reason)).toEqual(["2 copies in the feed that differ: kept the one kicking off latest", "2 copies in the feed that differ: kept the one marked completed"]);
  });

  it("lists the first 1,000 differing ids, then how many more", () => {
    const rows = Array.from({ length: 1003 }, (_, i) => [row(String(i)), row(String(i), { start: 1 })]).flat();
    const out = keepBestCopies(rows, rules);
    expect(out.duplicates).toBe(1003);
    expect(out.problems).toHaveLength(1001);
    expect(out.problems.at(-1)).toEqual({ where: "schedule k", reason: "3 more repeated match id(s) with differing copies, not listed (the first 1000 are)" });
  });
});
