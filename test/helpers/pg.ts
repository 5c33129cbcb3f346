/**
 * A PostgreSQL database per test file, dropped in teardown. `createTestDatabase({ migrated: true })`
 * copies a template that global setup migrated once, which is much faster than migrating each time.
 */
import pg from "pg";
import { inject } from "vitest";
import { PG_ADMIN_URL, pgUrlFor, uniqueName } from "./services.js";

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

export async function adminQuery(sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    return await client.query(sql, params);
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(options: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const name = uniqueName("t");
  // The migrated template is made once per run by global-setup.ts.
  const template = options.migrated ? ` TEMPLATE ${inject("templateDb")}` : "";
  await adminQuery(`CREATE DATABASE ${name}${template}`);
  return {
    name,
    url: pgUrlFor(name),
    async drop() {
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}
