// The database layer's public surface: what the worker, the CLI and operations import.
export type { Database, Queryable, QueryResult } from "./database.js";
export { openDatabase, describePostgresUrl, DEFAULT_PGLITE_DIR, type OpenOptions } from "./open.js";
export { classifyDbError, isDataError, sqlState } from "./errors.js";
export { migrate, readMigrations, MIGRATIONS_DIR, type MigrateOptions } from "./migrate.js";
export {
  createNameResolver,
  resolveInTransaction,
  isResolved,
  DEFAULT_LEAGUE,
  type NameResolver,
  type NameResolutionMode,
  type ResolvedIds,
  type ResolveResult,
} from "./resolve.js";
export { upsertMatches, isUpsertOutcome, type UpsertItem, type UpsertOutcome, type UpsertResult, type UnchangedReason } from "./upsert.js";
export { recordIngestFailure, listIngestFailures, type IngestFailure, type IngestFailureInput } from "./failures.js";
export { countMatches, latestResults, getMatchByExternalId, type MatchSummary, type MatchRecord } from "./queries.js";
