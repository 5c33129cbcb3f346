/** The published JSON Schema of MatchData v1, generated from the zod schema (never by hand). */
import { z } from "zod";
import { producerMatchSchema, SCHEMA_VERSION } from "./match-data.js";

export const JSON_SCHEMA_PATH = "schema/match-data.v1.json";

export function matchDataJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(producerMatchSchema, { io: "input", target: "draft-2020-12" }) as Record<string, unknown>;
  return {
    $schema: schema.$schema,
    $id: "https://matchflow.dev/schema/match-data.v1.json",
    title: `MatchData v${SCHEMA_VERSION}`,
    description:
      "One MLS NEXT match as sent in the first positional argument of the Celery task " +
      "celery_tasks.match_tasks.process_match_data. Cross-field rules (not expressible here): " +
      "home_team and away_team differ; scores both or neither; penalty scores both or neither and only " +
      "after a level score; match_status completed requires both scores. When absent, season is derived " +
      "from match_date (seasons run August to July) and match_status from the scores.",
    ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== "$schema")),
    examples: [MATCH_DATA_EXAMPLE],
  };
}

/** A complete, valid v1 message (a unit test keeps it valid), published as the schema's example. */
export const MATCH_DATA_EXAMPLE = {
  home_team: "IFA",
  away_team: "NEFC",
  match_date: "2025-10-18",
  season: "2025-26",
  age_group: "U14",
  match_type: "League",
  league: "Homegrown",
  division: "Northeast",
  home_score: 2,
  away_score: 2,
  home_penalty_score: 4,
  away_penalty_score: 3,
  match_status: "completed",
  external_match_id: "100436",
  scheduled_kickoff: "2025-10-18T14:00:00Z",
  match_time: "10:00",
  location: "Boston, MA",
  notes: null,
  source: "mlsnext-assist",
  scraped_at: "2025-10-19T06:00:00Z",
  schema_version: 1,
} as const;

/** Stable text form, as committed at `schema/match-data.v1.json`. */
export function matchDataJsonSchemaText(): string {
  return `${JSON.stringify(matchDataJsonSchema(), null, 2)}\n`;
}
