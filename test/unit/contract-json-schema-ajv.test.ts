/**
 * The committed JSON Schema, used as an outside consumer would (Ajv, draft 2020-12, formats
 * checked), agrees with the zod contract that matchflow itself validates with. The original's
 * published schema did not match its real messages, and its fields drifted (`date` vs
 * `match_date`, `score_home` vs `home_score`, `played` vs `completed`). Real messages of both
 * sides are held against it in test/integration/contract-schema-wire.test.ts and
 * celery-interop-producer.test.ts.
 */
import { describe, expect, it } from "vitest";
import { validateForProducer } from "../../src/contract/index.js";
import { schemaErrors } from "../helpers/json-schema.js";

const base = { home_team: "IFA", away_team: "NEFC", match_date: "2025-10-18", age_group: "U14", match_type: "League" };

/** The seed's "Example Valid Message", verbatim. */
const seedValid = { ...base, season: "2024-25", division: "Northeast", home_score: 5, away_score: 1, match_status: "completed", external_match_id: "100436", location: "Boston, MA", notes: null };

/** What the producer sends for `input`: the contract's normalised match. */
function published(input: unknown): unknown {
  const r = validateForProducer(input);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.match;
}

describe("schema/match-data.v1.json and the contract agree", () => {
  it("the seed's valid example, as given and as published, validates", () => {
    expect(schemaErrors(seedValid)).toEqual([]);
    expect(schemaErrors(published(seedValid))).toEqual([]);
  });

  it("a fully populated match as published validates (every optional field, instants in UTC)", () => {
    const full = {
      ...base,
      league: "Academy",
      season: "2025-26",
      division: "Northeast",
      home_score: 1,
      away_score: 1,
      home_penalty_score: 4,
      away_penalty_score: 3,
      match_status: "completed",
      external_match_id: "m-1",
      scheduled_kickoff: "2025-10-18T10:00:00-04:00",
      match_time: "10:00",
      location: "Boston, MA",
      notes: "after a delay",
      source: "mlsnext-assist",
      scraped_at: "2025-10-19T06:00:01.250+00:00",
      schema_version: 1,
    };
    const out = published(full) as Record<string, unknown>;
    expect(out.scheduled_kickoff).toMatch(/^2025-10-18T14:00:00(\.000)?Z$/);
    expect(schemaErrors(out)).toEqual([]);
  });

  it.each([
    ["date", { ...base, match_date: undefined, date: "2025-10-18" }],
    ["score_home", { ...base, score_home: 2 }],
    ["played", { ...base, played: true }],
  ])("the original's drifted field name %s is refused by both, named", (field, message) => {
    expect(schemaErrors(JSON.parse(JSON.stringify(message)))).toContainEqual(expect.stringContaining(field));
    expect(validateForProducer(message)).toMatchObject({ ok: false });
  });

  it.each([
    ["match_date not a date", { match_date: "18/10/2025" }],
    ["match_date not a calendar day", { match_date: "2025-02-30" }],
    ["scheduled_kickoff without an offset", { scheduled_kickoff: "2025-10-18T10:00:00" }],
    ["match_time past midnight", { match_time: "24:00" }],
    ["a negative score", { home_score: -1, away_score: 0 }],
    ["a fractional score", { home_score: 1.5, away_score: 0 }],
    ["a season written wrong", { season: "2025-2026" }],
    ["an unknown status", { match_status: "played" }],
    ["an unknown league", { league: "Premier" }],
    ["schema_version 2", { schema_version: 2 }],
    ["an empty team name", { home_team: "" }],
    ["a team name over 200 characters", { home_team: "x".repeat(201) }],
  ])("%s is refused by both", (_what, change) => {
    const message = { ...base, ...change };
    expect(validateForProducer(message)).toMatchObject({ ok: false });
    expect(schemaErrors(message)).not.toEqual([]);
  });
});
