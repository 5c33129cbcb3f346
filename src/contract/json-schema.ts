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
  };
}

/** Stable text form, as committed at `schema/match-data.v1.json`. */
export function matchDataJsonSchemaText(): string {
  return `${JSON.stringify(matchDataJsonSchema(), null, 2)}\n`;
}
