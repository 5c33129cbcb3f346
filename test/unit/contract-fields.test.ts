/** Each MatchData v1 field's own rule (type, format, length, enum), valid and invalid. */
import { describe, expect, it } from "vitest";
import { validateForConsumer, validateForProducer, type ContractIssue } from "../../src/contract/index.js";

const base = { home_team: "IFA", away_team: "NEFC", match_date: "2025-10-18", age_group: "U14", match_type: "League" };

function issuesFor(patch: Record<string, unknown>): ContractIssue[] {
  const result = validateForProducer({ ...base, ...patch });
  return result.ok ? [] : result.issues;
}

interface Case {
  field: string;
  valid: unknown[];
  invalid: [value: unknown, rule: string, words: RegExp][];
}

const cases: Case[] = [
  {
    field: "home_team",
    valid: ["A", "x".repeat(200), "  Padded FC  "],
    invalid: [
      [undefined, "required", /home_team is required/],
      [null, "required", /home_team is required/],
      ["", "length", /home_team must not be empty/],
      ["   ", "length", /home_team must not be empty/],
      ["x".repeat(201), "length", /home_team must be at most 200 characters/],
      [42, "type", /home_team must be text/],
    ],
  },
  {
    field: "away_team",
    valid: ["B", "x".repeat(200)],
    invalid: [
      [undefined, "required", /away_team is required/],
      ["\t", "length", /away_team must not be empty/],
      ["y".repeat(201), "length", /away_team must be at most 200 characters/],
      [["NEFC"], "type", /away_team must be text/],
    ],
  },
  {
    field: "match_date",
    valid: ["2025-10-18", "2024-02-29", "2099-12-31"],
    invalid: [
      [undefined, "required", /match_date is required/],
      ["not-a-date", "format", /match_date must be a calendar date written YYYY-MM-DD/],
      ["2025-02-30", "format", /calendar date/],
      ["2025-02-29", "format", /calendar date/],
      ["2025-13-01", "format", /calendar date/],
      ["18/10/2025", "format", /YYYY-MM-DD/],
      ["2025-10-18T10:00:00Z", "format", /YYYY-MM-DD/],
      [20251018, "type", /match_date/],
    ],
  },
  {
    field: "season",
    valid: ["2025-26", "2026-27", " 2024-25 ", null, undefined],
    invalid: [
      ["2025-27", "format", /season must be a season like 2026-27 \(the second year follows the first\)/],
      ["2025/26", "format", /season must be a season like 2026-27/],
      ["2025-2026", "format", /season must be a season like 2026-27/],
      ["", "format", /season must be a season like 2026-27/],
      [2025, "type", /season must be text like 2026-27/],
    ],
  },
  {
    field: "age_group",
    valid: ["U14", "x".repeat(50)],
    invalid: [
      [undefined, "required", /age_group is required/],
      ["", "length", /age_group must not be empty/],
      ["x".repeat(51), "length", /age_group must be at most 50 characters/],
      [14, "type", /age_group must be text/],
    ],
  },
  {
    field: "match_type",
    valid: ["League", "Flex", "Cup", "x".repeat(100)],
    invalid: [
      [undefined, "required", /match_type is required/],
      [" ", "length", /match_type must not be empty/],
      ["x".repeat(101), "length", /match_type must be at most 100 characters/],
    ],
  },
  {
    field: "league",
    valid: ["Homegrown", "Academy", "Flex", null, undefined],
    invalid: [
      ["homegrown", "enum", /league must be one of Homegrown, Academy, Flex/],
      ["MLS", "enum", /league must be one of Homegrown, Academy, Flex/],
      ["", "enum", /league must be one of/],
    ],
  },
  {
    field: "division",
    valid: ["Northeast", "", null, "x".repeat(200)],
    invalid: [
      ["x".repeat(201), "length", /division must be at most 200 characters/],
      [7, "type", /division must be text/],
    ],
  },
  {
    field: "match_status",
    valid: ["scheduled", "tbd", "postponed", "cancelled", null, undefined],
    invalid: [
      ["TBD", "enum", /match_status must be one of scheduled, tbd, completed, postponed, cancelled \(lower case\)/],
      ["Scheduled", "enum", /lower case/],
      ["played", "enum", /match_status must be one of/],
      [1, "enum", /match_status must be one of/],
    ],
  },
  {
    field: "external_match_id",
    valid: ["100436", "x".repeat(100), null],
    invalid: [
      ["x".repeat(101), "length", /external_match_id must be at most 100 characters/],
      [100436, "type", /external_match_id must be text/],
    ],
  },
  {
    field: "scheduled_kickoff",
    valid: ["2026-09-05T13:00:00Z", "2026-09-05T09:00:00-04:00", "2026-09-05T13:00:00.250+00:00", null],
    invalid: [
      ["2026-09-05T09:00:00", "format", /scheduled_kickoff must be an instant with a time zone offset/],
      ["2026-09-05", "format", /scheduled_kickoff must be an instant/],
      ["tomorrow", "format", /scheduled_kickoff must be an instant/],
      ["2026-09-05T25:00:00Z", "format", /scheduled_kickoff must be an instant/],
    ],
  },
  {
    field: "match_time",
    valid: ["00:00", "09:30", "23:59", null],
    invalid: [
      ["24:00", "format", /match_time must be a 24-hour time written HH:MM/],
      ["9:30", "format", /HH:MM/],
      ["09:30:00", "format", /HH:MM/],
      ["9am", "format", /HH:MM/],
    ],
  },
  {
    field: "location",
    valid: ["Boston, MA", "x".repeat(500), null],
    invalid: [["x".repeat(501), "length", /location must be at most 500 characters/]],
  },
  {
    field: "notes",
    valid: ["Rescheduled", "x".repeat(2000), null],
    invalid: [["x".repeat(2001), "length", /notes must be at most 2000 characters/]],
  },
  {
    field: "source",
    valid: ["mlsnext-assist", null],
    invalid: [
      ["x".repeat(101), "length", /source must be at most 100 characters/],
      [false, "type", /source must be text/],
    ],
  },
  {
    field: "scraped_at",
    valid: ["2026-09-01T06:00:00Z", "2026-09-01T02:00:00-04:00", null],
    invalid: [
      ["2026-09-01 06:00:00", "format", /scraped_at must be an instant with a time zone offset/],
      [1756706400000, "type", /scraped_at must be an instant/],
    ],
  },
];

// Score fields share one rule set; both scores are set so the both-or-neither rule stays quiet.
const scoreFields = [
  ["home_score", "away_score"],
  ["away_score", "home_score"],
] as const;

describe.each(cases)("$field", ({ field, valid, invalid }) => {
  it.each(valid.map((v) => [v]))("accepts %j", (value) => {
    expect(issuesFor({ [field]: value })).toEqual([]);
  });

  it.each(invalid)("rejects %j (%s)", (value, rule, words) => {
    const issues = issuesFor({ [field]: value });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ field, rule });
    expect(issues[0]?.message).toMatch(words);
    expect(issues[0]?.message.startsWith(`${field} `)).toBe(true);
  });
});

describe.each(scoreFields)("%s", (field, other) => {
  it.each([[0], [5], [999]])("accepts %j", (value) => {
    expect(issuesFor({ [field]: value, [other]: value })).toEqual([]);
  });

  it.each([
    [-1, "range", /must not be negative/],
    [1000, "range", /must be at most 999/],
    [1.5, "type", /must be a whole number/],
    ["3", "type", /must be a number/],
  ] as const)("rejects %j (%s)", (value, rule, words) => {
    const issues = issuesFor({ [field]: value, [other]: 1 });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ field, rule });
    expect(issues[0]?.message).toMatch(new RegExp(`^${field} ${words.source}`));
  });
});

describe("penalty score fields", () => {
  it.each(["home_penalty_score", "away_penalty_score"])("%s must be a whole number >= 0", (field) => {
    const issues = issuesFor({ home_score: 1, away_score: 1, home_penalty_score: 4, away_penalty_score: 3, [field]: -2 });
    expect(issues).toEqual([expect.objectContaining({ field, rule: "range" })]);
  });
});

describe("normalisation of text fields", () => {
  it("trims team names, age group and match type", () => {
    const result = validateForProducer({ ...base, home_team: "  IFA ", away_team: "\tNEFC\n", age_group: " U14 ", match_type: " League " });
    expect(result.ok && result.match).toMatchObject({ home_team: "IFA", away_team: "NEFC", age_group: "U14", match_type: "League" });
  });

  it("gives invisible variants of a name one spelling (NFKC, no-break and zero-width spaces), on both sides of the queue", () => {
    const variants = ["Atl\u00e9tico FC", "Atle\u0301tico FC", "Atl\u00e9tico\u00a0FC", "Atl\u00e9tico FC\u200b", "\ufeffAtl\u00e9tico FC", "\uff21tl\u00e9tico FC"];
    for (const validate of [validateForProducer, validateForConsumer]) {
      const names = variants.map((home_team) => {
        const result = validate({ ...base, home_team });
        return result.ok ? result.match.home_team : "invalid";
      });
      expect(new Set(names)).toEqual(new Set(["Atl\u00e9tico FC"]));
    }
    // A name of nothing but invisible characters is empty, hence refused.
    expect(issuesFor({ home_team: "\u200b\u00a0" }).map((i) => i.field)).toContain("home_team");
    // Told apart from the other team after the same folding.
    expect(issuesFor({ home_team: "NEFC\u00a0", away_team: "NEFC" }).map((i) => i.field)).toContain("away_team");
  });

  it("refuses text the database cannot store (NUL, an unpaired surrogate) on both sides, instead of a db_data failure or a misleading 'unknown team (name resolution is strict)'", () => {
    const fields = ["home_team", "away_team", "age_group", "match_type", "division", "external_match_id", "location", "notes", "source"];
    for (const bad of ["A\u0000B", "FC \ud800", "\udc00 United", "\udfff\ud800"]) {
      for (const field of fields) {
        for (const validate of [validateForProducer, validateForConsumer]) {
          const result = validate({ ...base, [field]: bad });
          expect(result.ok ? [] : result.issues).toEqual([
            { field, rule: "format", message: `${field} must not contain a NUL character or an unpaired surrogate (\\ud800-\\udfff alone is not Unicode text)` },
          ]);
        }
      }
    }
    // A surrogate pair is one character (an emoji): fine.
    expect(issuesFor({ home_team: "Rocket FC \u{1F680}", notes: "\ud83d\ude80" })).toEqual([]);
  });

  it("drops null and empty optional fields instead of sending them", () => {
    const result = validateForProducer({ ...base, division: "  ", notes: null, location: "", league: null, match_time: null });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    for (const key of ["division", "notes", "location", "league", "match_time"]) expect(result.match).not.toHaveProperty(key);
  });

  it("reports every broken field at once, on the consumer side too", () => {
    const input = { ...base, home_team: "", match_date: "x", league: "NBA", home_score: -1, away_score: 0 };
    for (const result of [validateForProducer(input), validateForConsumer(input)]) {
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.issues.map((i) => i.field).sort()).toEqual(["home_score", "home_team", "league", "match_date"]);
    }
  });
});
