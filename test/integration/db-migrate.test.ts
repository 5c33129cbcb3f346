import { cp, mkdtemp, rm, writeFile, readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { MIGRATIONS_DIR, migrate, readMigrations } from "../../src/db/migrate.js";
import type { Database } from "../../src/db/database.js";
import { runCli, until } from "../helpers/cli.js";
import { createTestDatabase } from "../helpers/pg.js";
import { BACKENDS, openBackend, useBackend } from "./db-backends.js";

const EXPECTED_TABLES = ["age_groups", "celery_revoked", "divisions", "ingest_failures", "leagues", "match_types", "matches", "schema_migrations", "seasons", "team_aliases", "teams"];

async function tables(db: Database): Promise<string[]> {
  const { rows } = await db.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
  );
  return rows.map((r) => r.table_name);
}

describe.each(BACKENDS)("migrate on %s", (kind) => {
  const backend = useBackend(kind, { migrated: false });

  it("creates the schema on an empty database, then a second run applies nothing", async () => {
    expect(await tables(backend().db)).toEqual([]);
    const files = await readMigrations();
    expect(files.map((f) => f.name)[0]).toBe("0001_initial.sql");

    const first = await migrate(backend().db);
    expect(first.applied).toEqual(files.map((f) => f.name));
    expect(await tables(backend().db)).toEqual(EXPECTED_TABLES);

    const second = await migrate(backend().db);
    expect(second.applied).toEqual([]);
    const { rows } = await backend().db.query<{ n: number | string }>("SELECT count(*) AS n FROM schema_migrations");
    expect(Number(rows[0]?.n)).toBe(files.length);
  });

  it("refuses loudly when an applied migration file was changed", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "mf-migrations-"));
    try {
      await cp(MIGRATIONS_DIR, dir, { recursive: true });
      expect((await migrate(backend().db, { dir })).applied.length).toBeGreaterThan(0);
      const file = path.join(dir, "0001_initial.sql");
      await writeFile(file, `${await readFile(file, "utf8")}\n-- edited after it was applied\n`);
      await expect(migrate(backend().db, { dir })).rejects.toMatchObject({ code: "migration_changed", kind: "permanent" });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("applies a new migration after the applied ones, in its own transaction", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "mf-migrations-"));
    try {
      await cp(MIGRATIONS_DIR, dir, { recursive: true });
      await migrate(backend().db, { dir });
      // A failing migration rolls back entirely and is not recorded.
      await writeFile(path.join(dir, "9998_broken.sql"), "CREATE TABLE mf_half_done (id int);\nSELECT no_such_function();\n");
      await expect(migrate(backend().db, { dir })).rejects.toThrow(/no_such_function/);
      expect(await tables(backend().db)).not.toContain("mf_half_done");
      await rm(path.join(dir, "9998_broken.sql"));
      await writeFile(path.join(dir, "9999_extra.sql"), "CREATE TABLE mf_extra (id int);");
      expect((await migrate(backend().db, { dir })).applied).toEqual(["9999_extra.sql"]);
      expect(await tables(backend().db)).toContain("mf_extra");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("migrate on postgres, concurrently", () => {
  it("four workers migrating one empty database at once: no error, one set of tables", async () => {
    const backend = await openBackend("postgres", { migrated: false });
    try {
      const dbs = [backend.db, ...(await Promise.all([1, 2, 3].map(() => backend.openAnother!())))];
      const results = await Promise.all(dbs.map((db) => migrate(db)));
      // Each migration is its own locked transaction, so two processes may share the work (one
      // applies 0001, another wins the lock for 0002): what matters is that every migration ran
      // exactly once, in order, whoever ran it.
      const appliedAll = results.flatMap((r) => r.applied);
      const files = (await readMigrations()).map((f) => f.name);
      expect([...appliedAll].sort()).toEqual(files);
      expect(await tables(backend.db)).toEqual(EXPECTED_TABLES);
      const { rows } = await backend.db.query<{ name: string }>("SELECT name FROM schema_migrations ORDER BY applied_at, name");
      expect(rows.map((r) => r.name)).toEqual(files);
    } finally {
      await backend.cleanup();
    }
  });
});

describe("migrate on postgres, behind an operator's long read", () => {
  it("a migration that alters a table someone reads gives way every few seconds: writes go through meanwhile (they queued behind it until their lock timeout), and it is applied once the read ends", async () => {
    const backend = await openBackend("postgres", { migrated: false });
    const dir = await mkdtemp(path.join(os.tmpdir(), "mf-migrations-"));
    try {
      const [operator, writer] = await Promise.all([backend.openAnother!(), backend.openAnother!()]);
      await backend.db.query("CREATE TABLE mf_busy (id int PRIMARY KEY)");
      await writeFile(path.join(dir, "0001_alter_busy.sql"), "ALTER TABLE mf_busy ADD COLUMN note text;");
      let endRead!: () => void;
      const readEnds = new Promise<void>((r) => (endRead = r));
      let reading!: () => void;
      const isReading = new Promise<void>((r) => (reading = r));
      const read = operator.transaction(async (tx) => {
        await tx.query("SELECT count(*) FROM mf_busy");
        reading();
        await readEnds;
      });
      await isReading;
      const migration = migrate(backend.db, { dir, lockWaitMs: 300 });
      // The migration asks for its lock (seen in pg_locks: not slept for).
      await until(async () => Number((await writer.query<{ n: string }>("SELECT count(*) AS n FROM pg_locks WHERE NOT granted AND relation = 'mf_busy'::regclass")).rows[0]?.n) > 0, 10_000, "the migration waiting for its lock");
      // Writes with a 3 s lock timeout, while the migration keeps asking for its lock.
      for (let i = 0; i < 3; i++) {
        await writer.transaction(async (tx) => {
          await tx.query("SET LOCAL lock_timeout = 3000");
          await tx.query("INSERT INTO mf_busy (id) VALUES ($1)", [i]);
        });
      }
      endRead();
      await read;
      await expect(migration).resolves.toEqual({ applied: ["0001_alter_busy.sql"] });
      const { rows } = await backend.db.query<{ n: string }>("SELECT count(*) AS n FROM information_schema.columns WHERE table_name = 'mf_busy' AND column_name = 'note'");
      expect(Number(rows[0]?.n)).toBe(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
      await backend.cleanup();
    }
  });
});

describe("matchflow migrate", () => {
  it("names the database it migrated, password hidden (a success without DATABASE_URL said nothing of ./.matchflow/db)", async () => {
    const db = await createTestDatabase();
    try {
      const withPassword = new URL(db.url);
      withPassword.password = "hunter2"; // trust auth: any password does
      const shown = new URL(withPassword.toString());
      shown.password = "***";
      const names = (await readMigrations()).map((f) => f.name);
      const first = await runCli(["migrate"], { DATABASE_URL: withPassword.toString() });
      expect(first).toMatchObject({ code: 0, stdout: `applied ${names.length} migrations to ${shown.toString()}: ${names.join(", ")}\n` });
      const again = await runCli(["migrate"], { DATABASE_URL: withPassword.toString() });
      expect(again).toMatchObject({ code: 0, stdout: `schema up to date in ${shown.toString()}\n` });
      expect(first.stdout + first.stderr + again.stdout + again.stderr).not.toContain("hunter2");
    } finally {
      await db.drop();
    }
  });
});
