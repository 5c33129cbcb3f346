import { describe, expect, it } from "vitest";
import { intArrayLiteral, textArrayLiteral } from "../../src/db/array-literal.js";
import { INPUT_COLUMNS, upsertMatchesParams, type UpsertRow } from "../../src/db/upsert-sql.js";

const self = <T>(v: T): T => v;

describe("textArrayLiteral", () => {
  it("quotes every element and escapes only the quote and the backslash", () => {
    expect(textArrayLiteral(["a", 'say "hi"', "back\\slash", "{x},y", "NULL", "", " sp "], self)).toBe(
      String.raw`{"a","say \"hi\"","back\\slash","{x},y","NULL",""," sp "}`,
    );
  });

  it("writes null as the bare NULL, unlike the text 'NULL'", () => {
    expect(textArrayLiteral([null, "NULL"], self)).toBe('{NULL,"NULL"}');
  });

  it("is the empty array for no items, and reads each item through the getter", () => {
    expect(textArrayLiteral([], self)).toBe("{}");
    expect(textArrayLiteral([{ n: "x" }, { n: null }], (r) => r.n)).toBe('{"x",NULL}');
  });
});

describe("intArrayLiteral", () => {
  it("writes numbers bare and null as NULL", () => {
    expect(intArrayLiteral([1, null, -7, 0], self)).toBe("{1,NULL,-7,0}");
  });

  it("passes non-integers through for PostgreSQL to reject, never changing the literal's shape", () => {
    expect(intArrayLiteral([1.5, Number.NaN, 1e21], self)).toBe("{1.5,NaN,1e+21}");
    // A value the types should have kept out is quoted like text: it cannot add elements.
    expect(intArrayLiteral(["1},{2" as unknown as number], self)).toBe('{"1},{2"}');
  });
});

describe("upsertMatchesParams", () => {
  it("sends each column's own value in its own parameter, in the statement's order", () => {
    // Every column a different value, so a getter reading the wrong field cannot go unnoticed.
    const row: UpsertRow = {
      external_match_id: "ext-1", league_id: 11, home_team_id: 12, away_team_id: 13, match_date: "2026-10-03",
      scheduled_kickoff: "2026-10-03T13:00:00.000Z", match_time: "09:00", home_score: 14, away_score: 15,
      home_penalty_score: 16, away_penalty_score: 17, match_status: "completed", season_id: 18, age_group_id: 19,
      division_id: 20, match_type_id: 21, location: "Field 1", source: "assist", notes: "note", observed_at: "2026-10-03T15:00:00.000Z",
      last_task_id: "task-1", raw: { any: "thing" },
    };
    const params = upsertMatchesParams([row]);
    expect(params).toHaveLength(INPUT_COLUMNS.length + 1);
    INPUT_COLUMNS.forEach((c, i) => {
      const v = row[c.name];
      expect(params[i], c.name).toBe(typeof v === "number" ? `{${v}}` : `{"${String(v)}"}`);
    });
    expect(new Set(INPUT_COLUMNS.map((c) => c.name)).size).toBe(INPUT_COLUMNS.length);
    expect(JSON.parse(params.at(-1) ?? "")).toEqual([row.raw]);
  });
});
