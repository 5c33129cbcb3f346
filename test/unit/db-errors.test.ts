import { describe, expect, it } from "vitest";
import { classifyDbError, isDataError, sqlState } from "../../src/db/errors.js";
import { PermanentError, TransientError } from "../../src/errors.js";

/** A PostgreSQL error as pg and PGlite raise it: an Error with a SQLSTATE `code`. */
function pgError(code: string, message = `error ${code}`, extra: Record<string, string> = {}): Error {
  return Object.assign(new Error(message), { code, ...extra });
}

function socketError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), { code, errno: -111, syscall: "connect" });
}

describe("classifyDbError", () => {
  it.each([
    ["40001", "db_serialization_failure"],
    ["40P01", "db_deadlock"],
    ["55P03", "db_lock_timeout"],
    ["57P01", "db_admin_shutdown"],
    ["57P02", "db_admin_shutdown"],
    ["57P03", "db_connection"],
    ["53300", "db_connection"],
    ["08000", "db_connection"],
    ["08006", "db_connection"],
    ["08P01", "db_connection"],
    ["57014", "db_timeout"],
    ["42P01", "db_schema"],
    ["42501", "db_permission"],
    ["25006", "db_read_only"],
    ["53100", "db_disk_full"],
    ["53200", "db_resources"],
    ["XX000", "db_internal"],
  ])("SQLSTATE %s is transient %s", (state, code) => {
    const c = classifyDbError(pgError(state));
    expect(c).toBeInstanceOf(TransientError);
    expect(c.kind).toBe("transient");
    expect(c.code).toBe(code);
    expect(c.details).toMatchObject({ sqlstate: state });
  });

  it.each([
    ["23505", "db_constraint"],
    ["23514", "db_constraint"],
    ["23503", "db_constraint"],
    ["23502", "db_constraint"],
    ["22001", "db_data"],
    ["22007", "db_data"],
    ["22P02", "db_data"],
  ])("SQLSTATE %s is permanent %s", (state, code) => {
    const c = classifyDbError(pgError(state));
    expect(c).toBeInstanceOf(PermanentError);
    expect(c.code).toBe(code);
    expect(isDataError(pgError(state))).toBe(true);
  });

  it.each(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE"])("socket error %s is a transient db_connection", (code) => {
    const c = classifyDbError(socketError(code));
    expect(c.kind).toBe("transient");
    expect(c.code).toBe("db_connection");
    expect(isDataError(socketError(code))).toBe(false);
  });

  it("a match written with a name id that is gone is transient (names resolved again); any other reference error is a constraint", () => {
    expect(classifyDbError(pgError("23503", "match m-1 refers to team id 7, which does not exist", { table: "matches" }))).toMatchObject({ code: "db_stale_reference", kind: "transient" });
    expect(classifyDbError(pgError("23503", "teams id 7 is still referenced by matches.home_team_id", { table: "teams" }))).toMatchObject({ code: "db_constraint", kind: "permanent" });
  });

  it("recognises pg's connection-terminated messages and its read timeout without a code", () => {
    expect(classifyDbError(new Error("Query read timeout")).code).toBe("db_connection");
    expect(classifyDbError(new Error("Connection terminated unexpectedly")).code).toBe("db_connection");
    expect(classifyDbError(new Error("Connection terminated due to connection timeout")).code).toBe("db_connection");
  });

  it("keeps the PostgreSQL message, constraint and cause", () => {
    const raw = pgError("23514", 'new row for relation "matches" violates check constraint "matches_penalties_after_level_score"', {
      constraint: "matches_penalties_after_level_score",
      table: "matches",
    });
    const c = classifyDbError(raw);
    expect(c.message).toContain("matches_penalties_after_level_score");
    expect(c.details).toMatchObject({ constraint: "matches_penalties_after_level_score", table: "matches" });
    expect(c.cause).toBe(raw);
  });

  it("unknown failures are transient db_unknown (bounded retries are safer than loss)", () => {
    expect(classifyDbError(new Error("something odd")).code).toBe("db_unknown");
    expect(classifyDbError("a string").kind).toBe("transient");
    expect(classifyDbError(pgError("P0001")).code).toBe("db_unknown");
  });

  it("passes MatchflowErrors through unchanged", () => {
    const e = new PermanentError("unresolved_name", "unknown team");
    expect(classifyDbError(e)).toBe(e);
  });

  it("reads SQLSTATEs only from five-character codes", () => {
    expect(sqlState(pgError("23505"))).toBe("23505");
    expect(sqlState(socketError("ECONNREFUSED"))).toBeUndefined();
    expect(sqlState(socketError("EPIPE"))).toBeUndefined();
    expect(sqlState(null)).toBeUndefined();
  });
});
