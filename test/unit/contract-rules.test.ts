/** Cross-field rules and what v1 derives: status, season, external id, UTC instants. */
import { describe, expect, it } from "vitest";
import { derivedExternalId, validateForConsumer, validateForProducer, type ContractIssue, type MatchData } from "../../src/contract/index.js";

const base = { home_team: "IFA", away_team: "NEFC", match_date: "2025-10-18", age_group: "U14", match_type: "League" };

function issuesFor(patch: Record<string, unknown>): ContractIssue[] {
  const result = validateForProducer({ ...base, ...patch });
  return result.ok ? [] : result.issues;
}

function matchFor(patch: Record<string, unknown>): MatchData {
  const result = validateForProducer({ ...base, ...patch });
  if (!result.ok) throw new Error(`expected a valid match, got: ${result.issues.map((i) => i.message).join("; ")}`);
  return result.match;
}

describe("home_team and away_team differ", () => {
  it.each([
    ["IFA", "IFA"],
    ["IFA", "ifa"],
    ["New England FC", "new  england   fc"],
    ["  Boston Bolts", "BOSTON\tBOLTS "],
  ])("rejects %j vs %j", (home, away) => {
    expect(issuesFor({ home_team: home, away_team: away })).toEqual([
      { field: "away_team", rule: "different_teams", message: "away_team must be a different team from home_team" },
    ]);
  });

  it.each([
    ["IFA", "IFA II"],
    ["Boston Bolts", "Boston Bolts U15"],
  ])("accepts %j vs %j", (home, away) => {
    expect(issuesFor({ home_team: home, away_team: away })).toEqual([]);
  });
});

describe("scores: both or neither", () => {
  it.each([
    [{}, "neither"],
    [{ home_score: 2, away_score: 1 }, "both"],
    [{ home_score: 0, away_score: 0 }, "both zero"],
    [{ home_score: null, away_score: null }, "both null"],
  ])("accepts %j (%s)", (patch, _name) => {
    expect(issuesFor(patch)).toEqual([]);
  });

  it.each([
    [{ home_score: 2 }, "away_score"],
    [{ away_score: 0 }, "home_score"],
    [{ home_score: 2, away_score: null }, "away_score"],
  ])("rejects %j, naming %s", (patch, missing) => {
    expect(issuesFor(patch)).toEqual([
      { field: missing, rule: "both_or_neither", message: `${missing} must be given together with the other score (both or neither)` },
    ]);
  });
});

describe("penalty scores: both or neither, only on a level score", () => {
  it("accepts a shootout after a draw", () => {
    expect(issuesFor({ home_score: 2, away_score: 2, home_penalty_score: 4, away_penalty_score: 3 })).toEqual([]);
    expect(issuesFor({ home_score: 0, away_score: 0, home_penalty_score: 0, away_penalty_score: 0 })).toEqual([]);
  });

  it.each([
    [{ home_score: 2, away_score: 1, home_penalty_score: 4, away_penalty_score: 3 }, "after a win"],
    [{ home_penalty_score: 4, away_penalty_score: 3 }, "without any score"],
  ])("rejects %j (%s)", (patch, _name) => {
    expect(issuesFor(patch)).toEqual([
      { field: "home_penalty_score", rule: "level_score", message: "home_penalty_score is only allowed after a level score (a penalty shootout follows a draw)" },
    ]);
  });

  it.each([
    [{ home_penalty_score: 4 }, "away_penalty_score"],
    [{ away_penalty_score: 3 }, "home_penalty_score"],
  ])("rejects %j, naming %s", (patch, missing) => {
    expect(issuesFor({ home_score: 1, away_score: 1, ...patch })).toEqual([
      { field: missing, rule: "both_or_neither", message: `${missing} must be given together with the other penalty score (both or neither)` },
    ]);
  });
});

describe("match_status", () => {
  it("completed requires both scores", () => {
    expect(issuesFor({ match_status: "completed" })).toEqual([
      { field: "match_status", rule: "requires_scores", message: "match_status completed requires both home_score and away_score" },
    ]);
    expect(issuesFor({ match_status: "completed", home_score: 3, away_score: 0 })).toEqual([]);
    // One score only: both rules are reported, whichever score is there.
    for (const [patch, missing] of [[{ home_score: 3 }, "away_score"], [{ away_score: 3 }, "home_score"]] as const) {
      expect(issuesFor({ match_status: "completed", ...patch }).map((i) => [i.field, i.rule])).toEqual([
        [missing, "both_or_neither"],
        ["match_status", "requires_scores"],
      ]);
    }
  });

  it("defaults to completed when both scores are given, scheduled otherwise", () => {
    expect(matchFor({ home_score: 1, away_score: 1 }).match_status).toBe("completed");
    expect(matchFor({ home_score: 0, away_score: 0 }).match_status).toBe("completed");
    expect(matchFor({}).match_status).toBe("scheduled");
    expect(matchFor({ match_status: null }).match_status).toBe("scheduled");
  });

  it("keeps an explicit status", () => {
    for (const status of ["scheduled", "tbd", "postponed", "cancelled"]) expect(matchFor({ match_status: status }).match_status).toBe(status);
  });
});

describe("season", () => {
  it.each([
    ["2025-08-01", "2025-26"],
    ["2025-07-31", "2024-25"],
    ["2026-01-01", "2025-26"],
    ["2025-12-31", "2025-26"],
    ["2099-09-01", "2099-00"],
    ["2100-03-01", "2099-00"],
  ])("is derived from match_date %s as %s when absent", (date, season) => {
    expect(matchFor({ match_date: date }).season).toBe(season);
    expect(matchFor({ match_date: date, season: null }).season).toBe(season);
  });

  it.each(["0001-01-01", "1899-12-31", "3000-01-01"])("refuses match_date %s: outside 1900-2999 (a placeholder or a typo; its season could not be written)", (date) => {
    expect(issuesFor({ match_date: date })).toEqual([{ field: "match_date", rule: "range", message: "match_date must be from 1900-01-01 to 2999-12-31" }]);
  });

  it("a season given must be the match date's or one next to it (a fixture postponed past July keeps its season); one further off is refused", () => {
    for (const season of ["2025-26", "2024-25", "2026-27"]) expect(matchFor({ match_date: "2025-10-18", season }).season).toBe(season);
    expect(matchFor({ match_date: "2100-03-01", season: "2099-00" }).season).toBe("2099-00");
    expect(issuesFor({ match_date: "2026-09-05", season: "2029-30" })).toEqual([{ field: "season", rule: "season_of_date", message: "season must be the season of match_date (2026-27) or one next to it" }]);
    expect(issuesFor({ match_date: "2026-09-05", season: "2024-25" }).map((i) => i.rule)).toEqual(["season_of_date"]);
  });

  it("takes the last and first dates of the range (2999-12-31, 1900-01-01)", () => {
    expect(issuesFor({ match_date: "2999-12-31" })).toEqual([]);
    expect(matchFor({ match_date: "2999-12-31" }).season).toBe("2999-00");
    expect(issuesFor({ match_date: "1900-01-01" })).toEqual([]);
  });

  it("reports a malformed match_date once, not also as out of range", () => {
    expect(issuesFor({ match_date: "soon" }).map((i) => i.rule)).toEqual(["format"]);
    expect(matchFor({ match_date: "1900-01-01" }).season).toBe("1899-00");
  });

  it("keeps an explicit season", () => {
    expect(matchFor({ season: "2024-25" }).season).toBe("2024-25");
  });
});

describe("external_match_id", () => {
  it("keeps the source's id", () => {
    expect(matchFor({ external_match_id: "100436" }).external_match_id).toBe("100436");
  });

  it("is derived when absent, null or blank, and the same for the same match", () => {
    const derived = matchFor({}).external_match_id;
    expect(derived).toMatch(/^mf-[0-9a-f]{24}$/);
    expect(matchFor({ external_match_id: null }).external_match_id).toBe(derived);
    expect(matchFor({ external_match_id: "  " }).external_match_id).toBe(derived);
    // Spelling noise in names does not make a new match.
    expect(matchFor({ home_team: " ifa", away_team: "NEFC  " }).external_match_id).toBe(derived);
  });

  it("differs per match", () => {
    const ids = new Set(
      [{}, { match_date: "2025-10-19" }, { age_group: "U15" }, { home_team: "NEFC", away_team: "IFA" }, { away_team: "FC Delco" }, { league: "Academy" }].map(
        (patch) => matchFor(patch).external_match_id,
      ),
    );
    expect(ids.size).toBe(6);
  });

  it("derivedExternalId folds case and runs of spacing inside names, so a re-scrape with double spaces is the same match", () => {
    const key = { league: "Homegrown", age_group: "U14", match_date: "2025-10-18", home_team: "New England FC", away_team: "NEFC" };
    expect(derivedExternalId({ ...key, home_team: "new  England\tFC" })).toBe(derivedExternalId(key));
    expect(derivedExternalId({ ...key, age_group: " u14 " })).toBe(derivedExternalId(key));
  });

  it("derivedExternalId is a pure function of league, age group, date and teams", () => {
    const key = { league: "Homegrown", age_group: "U14", match_date: "2025-10-18", home_team: "IFA", away_team: "NEFC" };
    expect(derivedExternalId(key)).toBe(derivedExternalId({ ...key }));
    expect(derivedExternalId(key)).not.toBe(derivedExternalId({ ...key, league: "Academy" }));
  });

  it("a match that names no league is the same match as one naming the league it is stored in (Homegrown)", () => {
    const key = { age_group: "U14", match_date: "2025-10-18", home_team: "IFA", away_team: "NEFC" };
    expect(derivedExternalId({ ...key, league: "Homegrown" })).toBe(derivedExternalId({ ...key, league: null }));
    expect(derivedExternalId({ ...key, league: "Homegrown" })).toBe(derivedExternalId(key));
    expect(matchFor({ league: "Homegrown" }).external_match_id).toBe(matchFor({}).external_match_id);
  });
});

describe("instants are normalised to UTC", () => {
  it("converts scheduled_kickoff and scraped_at with an offset to Z", () => {
    const match = matchFor({ scheduled_kickoff: "2026-09-05T09:00:00-04:00", scraped_at: "2026-09-01T08:30:00+02:00" });
    expect(match.scheduled_kickoff).toBe("2026-09-05T13:00:00.000Z");
    expect(match.scraped_at).toBe("2026-09-01T06:30:00.000Z");
  });

  it("crosses the date line correctly", () => {
    expect(matchFor({ scheduled_kickoff: "2026-09-05T21:00:00-07:00" }).scheduled_kickoff).toBe("2026-09-06T04:00:00.000Z");
  });

  it("writes every accepted form as toISOString does (Z without milliseconds, fractions, canonical)", () => {
    for (const [given, utc] of [
      ["2026-09-05T13:00:00Z", "2026-09-05T13:00:00.000Z"],
      ["2026-09-05T13:00:00.5Z", "2026-09-05T13:00:00.500Z"],
      ["2026-09-05T13:00:00.000Z", "2026-09-05T13:00:00.000Z"],
      ["2026-09-05T13:00:00.000+00:00", "2026-09-05T13:00:00.000Z"],
      ["2028-02-29T23:59:59.999Z", "2028-02-29T23:59:59.999Z"],
      // Finer than milliseconds (Python's isoformat): kept, so observations within 1 ms still order.
      ["2026-09-05T13:00:00.123900+00:00", "2026-09-05T13:00:00.123900Z"],
      ["2026-09-05T15:00:00.000001+02:00", "2026-09-05T13:00:00.000001Z"],
      ["2026-09-05T23:59:59.9999Z", "2026-09-05T23:59:59.9999Z"],
    ] as const) {
      expect(matchFor({ scheduled_kickoff: given }).scheduled_kickoff).toBe(utc);
    }
  });

  it("refuses an impossible calendar day in an instant instead of rolling it over", () => {
    const result = validateForConsumer({ ...base, scheduled_kickoff: "2026-02-30T13:00:00.000Z" });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.issues.map((i) => i.field)).toEqual(["scheduled_kickoff"]);
  });

  it("is the same on the consumer side", () => {
    const result = validateForConsumer({ ...base, scheduled_kickoff: "2026-09-05T09:00:00-04:00" });
    expect(result.ok && result.match.scheduled_kickoff).toBe("2026-09-05T13:00:00.000Z");
  });
});

describe("the normalised match", () => {
  it("always carries season, status, external id and schema_version 1", () => {
    const match = matchFor({});
    expect(match).toEqual({
      ...base,
      season: "2025-26",
      match_status: "scheduled",
      external_match_id: expect.stringMatching(/^mf-/) as unknown,
      schema_version: 1,
    });
  });

  it("passes the producer again unchanged (idempotent)", () => {
    const once = matchFor({ home_score: 2, away_score: 2, home_penalty_score: 5, away_penalty_score: 4, scheduled_kickoff: "2026-09-05T09:00:00-04:00", league: "Academy", division: " Northeast " });
    const twice = validateForProducer(once);
    expect(twice).toEqual({ ok: true, match: once, unknownFields: [] });
  });
});
