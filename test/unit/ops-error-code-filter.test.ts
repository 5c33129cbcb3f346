import { describe, expect, it } from "vitest";
import { codesByFrequency, countCode, noMatchHint, parseErrorCodeFilter } from "../../src/ops/error-code-filter.js";

describe("parseErrorCodeFilter (dlq --code)", () => {
  it("takes exact codes and prefixes ending in *, as a comma list", () => {
    const filter = parseErrorCodeFilter(" db_*, task_expired ,broker_maxlen");
    expect(filter.patterns).toEqual(["db_*", "task_expired", "broker_maxlen"]);
    for (const code of ["db_lock_timeout", "db_read_only", "task_expired", "broker_maxlen"]) expect(filter.matches(code)).toBe(true);
    for (const code of ["contract_violation", "task_expired_later", "broker_expired", "database_unavailable", null]) expect(filter.matches(code)).toBe(false);
  });

  it("a lone * takes every dead letter that has a code, not one without", () => {
    const filter = parseErrorCodeFilter("*");
    expect(filter.matches("anything")).toBe(true);
    expect(filter.matches(null)).toBe(false);
  });

  it.each(["", " , ", "db*_x", "db lock", "a,b?", "*db"])("refuses %j as a usage error naming it", (text) => {
    let refused: unknown;
    try {
      parseErrorCodeFilter(text);
    } catch (err) {
      refused = err;
    }
    expect(refused).toMatchObject({ code: "usage" });
    expect((refused as Error).message).toMatch(/--code/);
  });
});

describe("noMatchHint (dlq --code that took no letter)", () => {
  const counts = new Map<string, number>();
  for (const code of ["b_two", "a_two", "db_lock_timeout", "b_two", "a_two", "db_lock_timeout", "db_lock_timeout", null]) countCode(counts, code);
  const present = codesByFrequency(counts);

  it("counts the codes read, most frequent first, equally frequent ones by name (a letter without a code is not one)", () => {
    expect(present).toEqual([
      { code: "db_lock_timeout", count: 3 },
      { code: "a_two", count: 2 },
      { code: "b_two", count: 2 },
    ]);
  });

  it("names the codes present, and a pattern that differs from one only in case", () => {
    expect(noMatchHint(["task_expired"], present)).toBe("codes present: db_lock_timeout (3), a_two (2), b_two (2)");
    expect(noMatchHint(["DB_Lock_Timeout"], present)).toBe("DB_Lock_Timeout differs only in case from db_lock_timeout (codes are case-sensitive); codes present: db_lock_timeout (3), a_two (2), b_two (2)");
    expect(noMatchHint(["DB_*", "x"], present)).toMatch(/^DB_\* differs only in case from db_\* \(codes are case-sensitive\); codes present: /);
    expect(noMatchHint(["*"], [])).toBe("none of them has an error code");
  });

  it("names at most 10 codes, and how many more there are", () => {
    const many = new Map(Array.from({ length: 13 }, (_, i) => [`code_${String(i).padStart(2, "0")}`, 20 - i] as [string, number]));
    const hint = noMatchHint(["nope"], codesByFrequency(many));
    expect(hint).toBe(`codes present: ${Array.from({ length: 10 }, (_, i) => `code_${String(i).padStart(2, "0")} (${20 - i})`).join(", ")}, and 3 other codes`);
  });
});
