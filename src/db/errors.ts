/**
 * Pure classification of database failures into what the caller should do:
 * transient (retry later: a connection, a lock, a restart) or permanent (this data can never
 * be written: dead-letter it). Tables follow graphile-worker's list of retryable SQLSTATEs.
 * Unknown failures are transient: retrying a bounded number of times is safer than losing data.
 */
import { isMatchflowError, PermanentError, TransientError, type MatchflowError } from "../errors.js";

/** SQLSTATE -> stable transient code. */
const TRANSIENT_SQLSTATE: Record<string, string> = {
  "40001": "db_serialization_failure",
  "40P01": "db_deadlock",
  "55P03": "db_lock_timeout", // lock_not_available
  "55006": "db_lock_timeout", // object_in_use
  "57P01": "db_admin_shutdown",
  "57P02": "db_admin_shutdown", // crash_shutdown
  "57P03": "db_connection", // cannot_connect_now (starting up)
  "57P04": "db_connection", // database_dropped
  "25006": "db_read_only", // read_only_sql_transaction (a standby, default_transaction_read_only)
  "53000": "db_resources", // insufficient_resources
  "53100": "db_disk_full", // disk_full
  "53200": "db_resources", // out_of_memory
  "53300": "db_connection", // too_many_connections
  "57014": "db_timeout", // query_canceled (statement_timeout)
  "25P03": "db_timeout", // idle_in_transaction_session_timeout
  "58000": "db_system", // system_error
  "58030": "db_system", // io_error
  XX000: "db_internal",
};

/** Node socket errors and pg client messages meaning the connection is gone. */
const SOCKET_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN", "ECONNABORTED"]);
const CONNECTION_MESSAGES = [/connection terminated/i, /connection (?:is )?closed/i, /client has encountered a connection error/i, /timeout exceeded when trying to connect/i, /socket hang up/i, /pglite is closed/i, /query read timeout/i];

interface DriverError {
  code?: unknown;
  message?: unknown;
  constraint?: unknown;
  table?: unknown;
  column?: unknown;
  detail?: unknown;
}

function asDriverError(err: unknown): DriverError {
  return typeof err === "object" && err !== null ? err : {};
}

/** The SQLSTATE of a PostgreSQL error (pg or PGlite), if it is one. */
export function sqlState(err: unknown): string | undefined {
  const code = asDriverError(err).code;
  // Five characters, but not a Node error code that happens to be five letters (EPIPE).
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) && !SOCKET_CODES.has(code) ? code : undefined;
}

function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  const m = asDriverError(err).message;
  return typeof m === "string" ? m : String(err);
}

function detailsOf(err: unknown, state: string | undefined): Record<string, unknown> {
  const e = asDriverError(err);
  const details: Record<string, unknown> = {};
  if (state) details.sqlstate = state;
  for (const key of ["constraint", "table", "column", "detail"] as const) {
    if (typeof e[key] === "string") details[key] = e[key];
  }
  return details;
}

/** Maps any error from a database call to a MatchflowError; MatchflowErrors pass unchanged. */
export function classifyDbError(err: unknown): MatchflowError {
  if (isMatchflowError(err)) return err;
  const state = sqlState(err);
  const message = messageOf(err);
  const options = { cause: err, details: detailsOf(err, state) };

  if (state) {
    const transient = TRANSIENT_SQLSTATE[state];
    if (transient) return new TransientError(transient, `database: ${message}`, options);
    if (state.startsWith("08")) return new TransientError("db_connection", `database connection: ${message}`, options);
    if (state === "23503" && asDriverError(err).table === "matches") {
      // A match written with a name id that is gone (migration 0002's statement check): an
      // operator merged or deleted the name after the worker cached its id. Resolved again,
      // the name leads to the row that replaced it (match-store.ts clears the cache).
      return new TransientError("db_stale_reference", `database: ${message} (a name's cached id is gone: resolving names again)`, options);
    }
    if (state.startsWith("23")) return new PermanentError("db_constraint", `database constraint: ${message}`, options);
    if (state.startsWith("22")) return new PermanentError("db_data", `database rejected a value: ${message}`, options);
    if (state === "42501") return new TransientError("db_permission", `database permission: ${message}`, options);
    // 42xxx: a statement the schema does not accept (missing migration, programming error).
    // No message can cure it, but a migration may be in flight: transient.
    if (state.startsWith("42")) return new TransientError("db_schema", `database statement: ${message}`, options);
  }
  const code = asDriverError(err).code;
  if ((typeof code === "string" && SOCKET_CODES.has(code)) || CONNECTION_MESSAGES.some((re) => re.test(message))) {
    return new TransientError("db_connection", `database connection: ${message}`, options);
  }
  return new TransientError("db_unknown", `database: ${message}`, options);
}

/**
 * Codes of failures that are the database's, whatever the data: it refuses every write (a
 * standby or read-only database after a failover, a full disk, revoked privileges, a missing
 * table) or ended the session (an administrator, a crash). A worker holds its batch and tries it
 * again until the database takes it, instead of spending each message's retries: at the default
 * schedule a read-only database turned a whole backlog into dead letters in seven minutes.
 * Not here: lock and statement timeouts, deadlocks, out of memory or shared memory, I/O errors
 * (they may belong to the batch or to one damaged block; the retry schedule bounds them).
 */
export const DATABASE_REFUSALS: ReadonlySet<string> = new Set(["db_read_only", "db_disk_full", "db_permission", "db_schema", "db_admin_shutdown"]);

/** Errors that mean "the database is not there": the worker waits for it instead of burning retries. */
export const DATABASE_UNREACHABLE: ReadonlySet<string> = new Set(["database_unreachable", "db_connection"]);

/** The database itself failed (gone, or refusing every write): no data of the batch is to blame. */
export function isDatabaseWide(err: { code: string }): boolean {
  return DATABASE_UNREACHABLE.has(err.code) || DATABASE_REFUSALS.has(err.code);
}

/** True for failures that belong to one row's data (the batch's neighbours may still land). */
export function isDataError(err: unknown): boolean {
  const c = classifyDbError(err);
  return c.code === "db_constraint" || c.code === "db_data";
}
