/**
 * Schema migrations: plain SQL files `migrations/NNNN_name.sql`, applied in order, each in its
 * own transaction, recorded in `schema_migrations(name, checksum, applied_at)`.
 *
 * Several workers may start at once: every transaction that reads or changes the migration
 * state first takes a transaction-scoped advisory lock, then re-checks what is applied, so a
 * migration runs exactly once and the others wait, then skip it. A transaction-scoped lock (not
 * a session lock) is released by COMMIT/ROLLBACK on the connection that took it, which is what
 * a pool needs. PGlite supports the same functions.
 */
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { isMatchflowError, PermanentError } from "../errors.js";
import { silentLogger, type Logger } from "../log.js";
import type { Database, Queryable } from "./database.js";

/** Works from `src/db/` (tsx) and from `dist/db/` (built): both are two levels below the root. */
export const MIGRATIONS_DIR = fileURLToPath(new URL("../../migrations/", import.meta.url));

/** An arbitrary constant: "matchflow" as a 32-bit number, the key of the migration lock. */
const MIGRATION_LOCK_KEY = 0x6d66_6d67;
/**
 * Migrations wait for the lock (another process may be migrating) and may run long: they are
 * not bound by the session timeouts a worker's connections carry (`openDatabase({ timeouts })`).
 */
const UNBOUNDED = { setup: "SET LOCAL lock_timeout = 0; SET LOCAL statement_timeout = 0; SET LOCAL idle_in_transaction_session_timeout = 0", unbounded: true };
const FILE_RE = /^\d{4}_[A-Za-z0-9_-]+\.sql$/;
/**
 * How long a migration's own statements wait for a table lock, once it holds the migration lock.
 * An `ALTER TABLE matches` queued behind an operator's long read made every worker's write queue
 * behind it in turn, until their DB_LOCK_TIMEOUT (10 s) spent their retries: now the migration
 * gives way after this (its transaction rolled back), the writes go through, and it tries again.
 */
export const MIGRATION_LOCK_WAIT_MS = 2000;
const retryPauseMs = (attempt: number) => Math.min(500 * attempt, 5000);

export interface MigrationFile {
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrateOptions {
  log?: Logger;
  /** @default MIGRATIONS_DIR */
  dir?: string;
  /** @default MIGRATION_LOCK_WAIT_MS */
  lockWaitMs?: number;
}

export function checksumOf(sql: string): string {
  return createHash("sha256").update(sql).digest("hex");
}

export async function readMigrations(dir: string = MIGRATIONS_DIR): Promise<MigrationFile[]> {
  const names = (await readdir(dir)).filter((n) => FILE_RE.test(n)).sort();
  return Promise.all(
    names.map(async (name) => {
      const sql = await readFile(`${dir.replace(/\/?$/, "/")}${name}`, "utf8");
      return { name, sql, checksum: checksumOf(sql) };
    }),
  );
}

async function lockAndRead(tx: Queryable): Promise<Map<string, string>> {
  await tx.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK_KEY]);
  const { rows } = await tx.query<{ name: string; checksum: string }>("SELECT name, checksum FROM schema_migrations");
  return new Map(rows.map((r) => [r.name, r.checksum]));
}

function assertUnchanged(file: MigrationFile, applied: Map<string, string>): void {
  const recorded = applied.get(file.name);
  if (recorded !== undefined && recorded !== file.checksum) {
    throw new PermanentError(
      "migration_changed",
      `migration ${file.name} was changed after it was applied (recorded checksum ${recorded.slice(0, 12)}, file ${file.checksum.slice(0, 12)}): add a new migration instead of editing an applied one`,
    );
  }
}

/** Applies every pending migration; returns the names applied by this call (empty: up to date). */
export async function migrate(db: Database, options: MigrateOptions = {}): Promise<{ applied: string[] }> {
  const log = options.log ?? silentLogger;
  const files = await readMigrations(options.dir);

  const initiallyApplied = await db.transaction(async (tx) => {
    // Creating the bookkeeping table under the lock too: concurrent CREATE TABLE IF NOT EXISTS
    // can still collide on the catalog's unique index.
    await tx.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK_KEY]);
    await tx.query(
      "CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
    );
    return lockAndRead(tx);
  }, UNBOUNDED);
  const known = new Set(files.map((f) => f.name));
  for (const name of initiallyApplied.keys()) {
    if (!known.has(name)) log.warn({ migration: name }, "applied migration has no file (is this an older build?)");
  }
  for (const file of files) assertUnchanged(file, initiallyApplied);

  const applied: string[] = [];
  const lockWaitMs = Math.trunc(options.lockWaitMs ?? MIGRATION_LOCK_WAIT_MS);
  for (const file of files) {
    if (initiallyApplied.has(file.name)) continue;
    const once = () =>
      db.transaction(async (tx) => {
        const now = await lockAndRead(tx);
        if (now.has(file.name)) {
          assertUnchanged(file, now);
          return false; // another process applied it while we waited for the lock
        }
        if (db.kind === "postgres") await tx.query(`SET LOCAL lock_timeout = ${lockWaitMs}`);
        await tx.query(file.sql);
        await tx.query("INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)", [file.name, file.checksum]);
        return true;
      }, UNBOUNDED);
    let ran: boolean;
    for (let attempt = 1; ; attempt++) {
      try {
        ran = await once();
        break;
      } catch (err) {
        if (!(isMatchflowError(err) && err.code === "db_lock_timeout")) throw err;
        const pauseMs = retryPauseMs(attempt);
        log.warn({ migration: file.name, attempt, pauseMs }, `migration waits for a table lock another session holds (it gives way every ${lockWaitMs} ms so that writes do not queue behind it); trying again`);
        await new Promise((resolve) => setTimeout(resolve, pauseMs));
      }
    }
    if (ran) {
      applied.push(file.name);
      log.info({ migration: file.name }, "migration applied");
    }
  }
  return { applied };
}
