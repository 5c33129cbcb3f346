/**
 * `matchflow process` against a real PostgreSQL database: it migrates an empty database first,
 * writes valid matches (created, then unchanged, then updated), reports invalid ones with
 * their errors and records them, and exits 1 when anything was invalid, 5 when the database
 * is unreachable, or stops refusing writes or ending the session in the middle of the run
 * (stopping there, the matches left not recorded as failed).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectFileOptionRefused, runCli } from "../helpers/cli.js";
import { makeMatch } from "../helpers/matches.js";
import { createTestDatabase, type TestDatabase } from "../helpers/pg.js";

let db: TestDatabase;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase(); // not migrated: `process` migrates first
  dir = await mkdtemp(path.join(tmpdir(), "matchflow-process-"));
});

afterAll(async () => {
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The messages of stderr's log lines; throws on a line that is not one (a JSON log line each). */
function logMessages(stderr: string): string[] {
  return stderr
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => (JSON.parse(line) as { msg: string }).msg);
}

async function query<R extends pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    return (await client.query<R>(text, params)).rows;
  } finally {
    await client.end();
  }
}

describe("matchflow process", () => {
  it("writes a JSON array file, printing each outcome and a summary; invalid matches make it exit 1", async () => {
    const file = path.join(dir, "matches.json");
    const invalid = { ...makeMatch("proc", 9), away_team: undefined };
    await writeFile(file, JSON.stringify([makeMatch("proc", 1), makeMatch("proc", 2), invalid]));
    const run = await runCli(["process", "--file", file], { DATABASE_URL: db.url });
    // Log lines go to stderr: stdout is the outcomes alone, for a script to read.
    expect(logMessages(run.stderr)).toContain("migration applied");
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("proc-1: created\nproc-2: created\nproc-9: invalid: away_team is required\n2 created, 0 updated, 0 unchanged, 1 invalid, 0 failed\n");
    const rows = await query<{ external_match_id: string }>("SELECT external_match_id FROM matches ORDER BY external_match_id");
    expect(rows.map((r) => r.external_match_id)).toEqual(["proc-1", "proc-2"]);
    const failures = await query<{ reason_code: string; external_match_id: string }>("SELECT reason_code, external_match_id FROM ingest_failures");
    expect(failures).toEqual([{ reason_code: "contract_violation", external_match_id: "proc-9" }]);
  });

  it("reads NDJSON from stdin: the same match is unchanged, a newer result updates, exit 0", async () => {
    const newer = makeMatch("proc", 2, { home_score: 9, away_score: 0, scraped_at: "2026-10-31T06:00:00Z" });
    const input = `${JSON.stringify(makeMatch("proc", 1))}\n\n${JSON.stringify(newer)}\n`;
    const run = await runCli(["process"], { DATABASE_URL: db.url }, { input });
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("proc-1: unchanged\nproc-2: updated\n0 created, 1 updated, 1 unchanged, 0 invalid, 0 failed\n");
    expect(await query("SELECT home_score FROM matches WHERE external_match_id = $1", ["proc-2"])).toEqual([{ home_score: 9 }]);
  });

  it("a corrected file run again with the same scraped_at: each later run wins (its task ids sort by time)", async () => {
    const at = "2026-10-30T06:00:00Z";
    for (const score of [5, 1, 3, 2]) {
      const run = await runCli(["process"], { DATABASE_URL: db.url }, { input: JSON.stringify(makeMatch("rerun", 1, { home_score: score, away_score: 0, scraped_at: at })) });
      expect(run.code).toBe(0);
      expect(await query("SELECT home_score FROM matches WHERE external_match_id = $1", ["rerun-1"])).toEqual([{ home_score: score }]);
    }
  });

  it("reports a line that is not JSON as invalid by its number", async () => {
    const run = await runCli(["process"], { DATABASE_URL: db.url }, { input: `${JSON.stringify(makeMatch("proc", 3))}\n{oops\n` });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^proc-3: created\nmatch 2: invalid: line 2 is not valid JSON/);
  });

  it("a --file that is missing or a directory exits 2 with one line naming the option", async () => {
    await expectFileOptionRefused((file) => runCli(["process", "--file", file], { DATABASE_URL: db.url }), dir);
  });

  it("an input with no match says so on stderr and exits 0", async () => {
    const run = await runCli(["process", "--file", "/dev/null"], { DATABASE_URL: db.url });
    expect(run.stderr).toBe("matchflow: warning: --file /dev/null held no matches (nothing to do)\n");
    expect(run.code).toBe(0);
  });

  // A trigger fails the second batch as the database would: with a read-only database's own
  // error (what a failover to a standby or default_transaction_read_only answers), or by
  // terminating the session (an administrator, a restart). Before: the batch's matches were
  // reported and counted "failed", the run went on into the next batch, exit 1.
  it.each([
    ["refuses writes (read-only)", "RAISE EXCEPTION 'cannot execute INSERT in a read-only transaction' USING ERRCODE = '25006'", /^matchflow: database: cannot execute INSERT in a read-only transaction \(db_read_only\): stopped at match 3 of 5; before it: 1 created, 0 updated, 0 unchanged, 1 invalid, 0 failed; the 3 matches from there on were not written nor recorded as failed/],
    ["ends the session", "PERFORM pg_terminate_backend(pg_backend_pid())", /^matchflow: .*\((db_admin_shutdown|db_connection)\): stopped at match 3 of 5; before it: 1 created, .*; the 3 matches from there on were not written nor recorded as failed/],
  ])("a database that %s in the middle of the run: stops, exit 5, says what was stored before; the rest is not recorded as failed", async (_what, statement, pattern) => {
    const own = await createTestDatabase({ migrated: true });
    try {
      const client = new pg.Client({ connectionString: own.url });
      await client.connect();
      try {
        await client.query(`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ${statement}; RETURN NEW; END $$`);
        await client.query("CREATE TRIGGER refuse BEFORE INSERT ON matches FOR EACH ROW WHEN (NEW.external_match_id = 'ro-3') EXECUTE FUNCTION refuse()");
      } finally {
        await client.end();
      }
      const input = [makeMatch("ro", 1), { ...makeMatch("ro", 2), away_team: undefined }, makeMatch("ro", 3), makeMatch("ro", 4), makeMatch("ro", 5)];
      const run = await runCli(["process"], { DATABASE_URL: own.url, WORKER_BATCH_SIZE: "2" }, { input: JSON.stringify(input) });
      expect(run.code).toBe(5);
      const said = run.stderr.split("\n").filter((line) => line.startsWith("matchflow:"));
      expect(said).toEqual([expect.stringMatching(pattern) as string]);
      // What was stored before is printed as a finished run prints it: one line per match.
      expect(run.stdout.split("\n").filter(Boolean)).toEqual([expect.stringMatching(/^ro-1: created/) as string, expect.stringMatching(/^ro-2: invalid: /) as string]);
      const check = new pg.Client({ connectionString: own.url });
      await check.connect();
      try {
        expect((await check.query("SELECT external_match_id FROM matches ORDER BY 1")).rows).toEqual([{ external_match_id: "ro-1" }]);
        // ro-2's record was committed with the first batch; nothing of the others.
        expect((await check.query("SELECT reason_code, external_match_id FROM ingest_failures ORDER BY 2")).rows).toEqual([{ reason_code: "contract_violation", external_match_id: "ro-2" }]);
      } finally {
        await check.end();
      }
    } finally {
      await own.drop();
    }
  });

  it("exits 5 with one line when the database is unreachable", async () => {
    const run = await runCli(["process"], { DATABASE_URL: "postgres://postgres@127.0.0.1:1/none" }, { input: "[]" });
    expect(run.code).toBe(5);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toMatch(/database unreachable at 127\.0\.0\.1:1\/none/);
  });
});
