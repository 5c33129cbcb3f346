/** Producer strict, consumer tolerant; schema_version; the seed's valid and invalid examples. */
import { describe, expect, it } from "vitest";
import { assertValid, ContractViolation, validateForConsumer, validateForProducer } from "../../src/contract/index.js";
import { PermanentError } from "../../src/errors.js";

const base = { home_team: "IFA", away_team: "NEFC", match_date: "2025-10-18", age_group: "U14", match_type: "League" };

/** The seed's "Example Valid Message", verbatim. */
const seedValid = {
  home_team: "IFA",
  away_team: "NEFC",
  match_date: "2025-10-18",
  season: "2024-25",
  age_group: "U14",
  match_type: "League",
  division: "Northeast",
  home_score: 5,
  away_score: 1,
  match_status: "completed",
  external_match_id: "100436",
  location: "Boston, MA",
  notes: null,
};

describe("the seed's examples", () => {
  it("accepts the valid example on both sides", () => {
    for (const validate of [validateForProducer, validateForConsumer]) {
      const result = validate(seedValid);
      expect(result).toEqual({
        ok: true,
        unknownFields: [],
        match: {
          home_team: "IFA",
          away_team: "NEFC",
          match_date: "2025-10-18",
          season: "2024-25",
          age_group: "U14",
          match_type: "League",
          division: "Northeast",
          home_score: 5,
          away_score: 1,
          match_status: "completed",
          external_match_id: "100436",
          location: "Boston, MA",
          schema_version: 1,
        },
      });
    }
  });

  // Each invalid example changes one thing of an otherwise valid message, so its error is the only one.
  it.each([
    ["missing away_team", { ...seedValid, away_team: undefined }, "away_team", "required", "away_team is required"],
    ["match_date not a date", { ...seedValid, match_date: "not-a-date" }, "match_date", "format", "match_date must be a calendar date written YYYY-MM-DD"],
    [
      'match_status "TBD"',
      { ...seedValid, match_status: "TBD" },
      "match_status",
      "enum",
      "match_status must be one of scheduled, tbd, completed, postponed, cancelled (lower case)",
    ],
  ])("rejects %s, naming the field and the rule", (_name, input, field, rule, message) => {
    for (const validate of [validateForProducer, validateForConsumer]) {
      const result = validate(JSON.parse(JSON.stringify(input)));
      expect(result).toEqual({ ok: false, code: "contract_violation", issues: [{ field, rule, message }] });
    }
  });

  it("rejects the literal seed fragment with away_team missing (and the other required fields)", () => {
    const result = validateForProducer({ home_team: "IFA", match_date: "2025-10-18" });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues.map((i) => i.message)).toEqual(["away_team is required", "age_group is required", "match_type is required"]);
  });
});

describe("producer side is strict", () => {
  it("rejects unknown fields, each named", () => {
    const result = validateForProducer({ ...base, home_logo: "x.png", Home_Team: "IFA" });
    expect(result).toEqual({
      ok: false,
      code: "contract_violation",
      issues: [
        { field: "home_logo", rule: "unknown_field", message: "home_logo is not a field of MatchData v1" },
        { field: "Home_Team", rule: "unknown_field", message: "Home_Team is not a field of MatchData v1" },
      ],
    });
  });

  it.each([[null], [[]], ["IFA v NEFC"], [42]])("rejects a non-object %j", (input) => {
    expect(validateForProducer(input)).toEqual({
      ok: false,
      code: "contract_violation",
      issues: [{ field: "(message)", rule: "type", message: "a match must be a JSON object" }],
    });
  });

  it.each([[undefined], [null], [1], ["1"], ["1.0"], ["1.2"]])("accepts schema_version %j and sends 1", (version) => {
    const result = validateForProducer({ ...base, schema_version: version });
    expect(result.ok && result.match.schema_version).toBe(1);
  });

  it.each([[2], ["2.0"], [0], ["v1"]])("refuses to send schema_version %j", (version) => {
    const result = validateForProducer({ ...base, schema_version: version });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues).toEqual([expect.objectContaining({ field: "schema_version", message: expect.stringMatching(/^schema_version must be 1/) as unknown })]);
  });
});

describe("consumer side is tolerant of additions", () => {
  it("accepts unknown fields and reports them in unknownFields", () => {
    const result = validateForConsumer({ ...base, home_logo: "x.png", weather: { temp: 21 } });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.unknownFields).toEqual(["home_logo", "weather"]);
    // The normalised match carries only v1 fields; the raw message keeps the rest.
    expect(result.match).not.toHaveProperty("home_logo");
  });

  it("reports no unknown fields for a plain v1 message", () => {
    const result = validateForConsumer(base);
    expect(result.ok && result.unknownFields).toEqual([]);
  });

  it("still enforces every v1 rule", () => {
    const result = validateForConsumer({ ...base, away_team: "ifa", extra: true });
    expect(result).toEqual({
      ok: false,
      code: "contract_violation",
      issues: [{ field: "away_team", rule: "different_teams", message: "away_team must be a different team from home_team" }],
    });
  });

  it.each([[undefined], [null], [1], ["1"], ["1.0"], ["1.7"]])("accepts schema_version %j", (version) => {
    const result = validateForConsumer({ ...base, schema_version: version });
    expect(result.ok && result.match.schema_version).toBe(1);
  });

  it.each([[2], ["2.0"], ["2"], [0], ["abc"]])("refuses schema_version %j as schema_version_unsupported", (version) => {
    // A v2 message may break v1 rules too: the version is checked first, so the reason is clear.
    const result = validateForConsumer({ home_team: "IFA", kickoff: {}, schema_version: version });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.code).toBe("schema_version_unsupported");
    expect(result.issues).toEqual([
      {
        field: "schema_version",
        rule: "version",
        message: `schema_version ${JSON.stringify(version)} is not supported (this worker reads major version 1)`,
      },
    ]);
  });

  it("rejects a non-object", () => {
    expect(validateForConsumer([base]).ok).toBe(false);
  });
});

describe("assertValid", () => {
  it("returns the match and unknown fields when valid", () => {
    expect(assertValid(validateForConsumer({ ...base, extra: 1 })).unknownFields).toEqual(["extra"]);
  });

  it("throws a permanent ContractViolation with the code and every issue", () => {
    let caught: unknown;
    try {
      assertValid(validateForConsumer({ ...base, schema_version: "2.0" }));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ContractViolation);
    expect(caught).toBeInstanceOf(PermanentError);
    const violation = caught as ContractViolation;
    expect(violation.code).toBe("schema_version_unsupported");
    expect(violation.kind).toBe("permanent");
    expect(violation.issues).toHaveLength(1);

    const bad = (() => {
      try {
        assertValid(validateForProducer({ ...base, away_team: undefined, match_time: "9am" }));
      } catch (err) {
        return err as ContractViolation;
      }
      return undefined;
    })();
    expect(bad?.code).toBe("contract_violation");
    expect(bad?.message).toBe("away_team is required; match_time must be a 24-hour time written HH:MM");
  });
});
