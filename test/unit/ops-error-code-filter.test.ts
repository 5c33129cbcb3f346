import { describe, expect, it } from "vitest";
import { parseErrorCodeFilter } from "../../src/ops/error-code-filter.js";

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
