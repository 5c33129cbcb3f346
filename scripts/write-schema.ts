/**
 * Writes the MatchData v1 JSON Schema, generated from the zod contract, to
 * `schema/match-data.v1.json`. Run after any change to `src/contract/`: `npm run schema:write`
 * (a unit test fails while the committed file is stale).
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { JSON_SCHEMA_PATH, matchDataJsonSchemaText } from "../src/contract/index.js";

const target = fileURLToPath(new URL(`../${JSON_SCHEMA_PATH}`, import.meta.url));
writeFileSync(target, matchDataJsonSchemaText());
process.stdout.write(`wrote ${JSON_SCHEMA_PATH}\n`);
