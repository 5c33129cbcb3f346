import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { JSON_SCHEMA_PATH, MATCH_FIELDS, matchDataJsonSchema, matchDataJsonSchemaText, validateForProducer } from "../../src/contract/index.js";

const committedPath = new URL(`../../${JSON_SCHEMA_PATH}`, import.meta.url);

describe("committed JSON Schema (schema/match-data.v1.json)", () => {
  it("is identical to the schema generated from the zod contract", () => {
    const committed = readFileSync(committedPath, "utf8");
    const generated = matchDataJsonSchemaText();
    // Compare text, so formatting drift counts too; the message says how to fix it.
    expect(committed === generated, `${JSON_SCHEMA_PATH} is stale: run \`npm run schema:write\` and commit the result`).toBe(true);
  });

  it("describes every MatchData field, requires the five mandatory ones and forbids others", () => {
    const schema = matchDataJsonSchema() as {
      properties: Record<string, { description?: string }>;
      required: string[];
      additionalProperties: boolean;
      title: string;
    };
    expect(Object.keys(schema.properties)).toEqual(MATCH_FIELDS);
    for (const field of MATCH_FIELDS) expect(schema.properties[field]?.description, field).toMatch(/\w{3}/);
    expect([...schema.required].sort()).toEqual(["age_group", "away_team", "home_team", "match_date", "match_type"]);
    expect(schema.additionalProperties).toBe(false);
    expect(schema.title).toBe("MatchData v1");
  });

  it("publishes an example that the producer accepts and that uses every field", () => {
    const examples = (matchDataJsonSchema() as { examples: Record<string, unknown>[] }).examples;
    expect(examples).toHaveLength(1);
    const [example] = examples;
    expect(Object.keys(example ?? {})).toEqual(MATCH_FIELDS);
    expect(validateForProducer(example)).toMatchObject({ ok: true });
  });

  it("is valid JSON ending in one newline", () => {
    const text = readFileSync(committedPath, "utf8");
    expect(() => JSON.parse(text) as unknown).not.toThrow();
    expect(text.endsWith("}\n")).toBe(true);
  });
});
