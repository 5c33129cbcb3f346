/**
 * The two database backends the db tests run on: PostgreSQL (a fresh database per file, copied
 * from the migrated template) and embedded PGlite (in memory). Not a test file itself.
 */
import type { MatchData } from "../../src/contract/index.js";
import type { Database } from "../../src/db/database.js";
import { migrate } from "../../src/db/migrate.js";
import { openDatabase } from "../../src/db/open.js";
import { afterAll, beforeAll, beforeEach } from "vitest";
import { createTestDatabase } from "../helpers/pg.js";

export type BackendKind = "postgres" | "pglite";
export const BACKENDS: BackendKind[] = ["postgres", "pglite"];

export interface TestBackend {
  db: Database;
  /** Opens another, independent connection pool to the same database (PostgreSQL only). */
  openAnother?: () => Promise<Database>;
  cleanup(): Promise<void>;
}

export async function openBackend(kind: BackendKind, options: { migrated?: boolean } = {}): Promise<TestBackend> {
  const migrated = options.migrated ?? true;
  if (kind === "postgres") {
    const tdb = await createTestDatabase({ migrated });
    const db = await openDatabase(tdb.url);
    const others: Database[] = [];
    return {
      db,
      openAnother: async () => {
        const other = await openDatabase(tdb.url);
        others.push(other);
        return other;
      },
      async cleanup() {
        await Promise.all([db, ...others].map((d) => d.close()));
        await tdb.drop();
      },
    };
  }
  const db = await openDatabase("pglite://memory");
  if (migrated) await migrate(db);
  return { db, cleanup: () => db.close() };
}

const DATA_TABLES = "leagues, seasons, age_groups, divisions, match_types, teams, team_aliases, matches, ingest_failures, celery_revoked";

/** Empties every data table (ids restart), keeping the schema. */
export async function truncateAll(db: Database): Promise<void> {
  await db.query(`TRUNCATE ${DATA_TABLES} RESTART IDENTITY CASCADE`);
}

/** Drops everything, back to an empty database (for migration tests). */
export async function dropSchema(db: Database): Promise<void> {
  await db.query("DROP SCHEMA public CASCADE; CREATE SCHEMA public;");
}

/**
 * One backend per describe block, emptied before each test. Starting PGlite costs seconds on a
 * busy machine, so a file shares one instance instead of starting one per test.
 */
export function useBackend(kind: BackendKind, options: { migrated?: boolean } = {}): () => TestBackend {
  let backend: TestBackend | undefined;
  beforeAll(async () => {
    backend = await openBackend(kind, options);
  });
  afterAll(async () => {
    await backend?.cleanup();
  });
  beforeEach(async () => {
    if (!backend) return;
    if (options.migrated === false) await dropSchema(backend.db);
    else await truncateAll(backend.db);
  });
  return () => {
    if (!backend) throw new Error("backend not open (beforeAll failed?)");
    return backend;
  };
}

let counter = 0;

/** A valid, normalised MatchData with unique external id; override what the test is about. */
export function makeMatch(overrides: Partial<MatchData> = {}): MatchData {
  counter += 1;
  return {
    home_team: "Alpha FC",
    away_team: "Beta SC",
    match_date: "2026-10-03",
    season: "2026-27",
    age_group: "U14",
    match_type: "League",
    league: "Homegrown",
    division: "Northeast",
    match_status: "scheduled",
    external_match_id: `ext-${process.pid}-${counter}`,
    scraped_at: "2026-10-01T12:00:00Z",
    schema_version: 1,
    ...overrides,
  };
}
