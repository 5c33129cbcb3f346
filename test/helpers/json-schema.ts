/**
 * The committed JSON Schema (schema/match-data.v1.json) as an outside consumer uses it: compiled
 * by Ajv (draft 2020-12, formats checked). The original published a schema that its own messages
 * did not match; tests hold real messages of both sides against this one.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { JSON_SCHEMA_PATH } from "../../src/contract/index.js";

const ROOT = path.resolve(import.meta.dirname, "../..");

const ajv = new Ajv2020({ allErrors: true, strict: true });
addFormats.default(ajv);
const validate = ajv.compile(JSON.parse(readFileSync(path.join(ROOT, JSON_SCHEMA_PATH), "utf8")) as object);

/** What the schema finds wrong with `value` (`instancePath message`), none when it validates. */
export function schemaErrors(value: unknown): string[] {
  return validate(value) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message ?? "invalid"}${e.params && "additionalProperty" in e.params ? `: ${String(e.params.additionalProperty)}` : ""}`);
}
