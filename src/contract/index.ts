// The contract's public surface: what other layers may import.
export { SCHEMA_VERSION, MATCH_STATUSES, MAX_EXTERNAL_ID_CHARS, LEAGUES, DEFAULT_LEAGUE, MATCH_FIELDS, type MatchData, type MatchDataInput, type MatchStatus, type League } from "./match-data.js";
export { validateForProducer, validateForConsumer, assertValid, derivedExternalId, ContractViolation, type ContractIssue, type ValidationResult } from "./validate.js";
export { seasonForDate, seasonName, seasonFirstYear, seasonBounds } from "./season.js";
export { matchDataJsonSchema, matchDataJsonSchemaText, JSON_SCHEMA_PATH } from "./json-schema.js";
