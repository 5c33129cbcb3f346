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

/**
 * A pool on a test database whose connections may be cut under it: tests terminate backends on
 * purpose, and teardown's DROP DATABASE ... WITH (FORCE) can reach a connection still closing
 * (pool.end() resolves before its sockets are closed). pg-pool re-emits such a connection's error
 * on the pool, which without a listener is an uncaught exception that fails the whole run.
 */
export function testPool(url: string, max: number): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max });
  pool.on("error", () => undefined);
  return pool;
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

/**
 * A stalled database for the worker: an ACCESS EXCLUSIVE lock on `matches`, held by a session of
 * its own until `release()`. `close()` (in a finally) ends the session, rolling back if still held.
 */
export async function lockMatchesTable(url: string): Promise<{ release(): Promise<void>; close(): Promise<void> }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  let held = false;
  try {
    await client.query("BEGIN");
    await client.query("LOCK TABLE matches IN ACCESS EXCLUSIVE MODE");
    held = true;
  } catch (err) {
    await client.end();
    throw err;
  }
  return {
    async release() {
      if (!held) return;
      await client.query("COMMIT");
      held = false;
    },
    async close() {
      if (held) await client.query("ROLLBACK").catch(() => undefined);
      held = false;
      await client.end();
    },
  };
}
