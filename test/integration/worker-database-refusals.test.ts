/**
 * A database that is there but refuses every write, whatever the data: read-only (a standby, or a
 * primary demoted by a failover) and privileges revoked. The worker holds its batches unacked and
 * tries them again until the database takes them: no message spends a retry or becomes a dead
 * letter for it (RETRY_MAX=0 here: one would be dead-lettered at once), readiness says so, and
 * everything is stored once when the database takes writes again.
 */
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { spawnCli, until } from "../helpers/cli.js";
import { makeMatch } from "../helpers/matches.js";
import { adminQuery } from "../helpers/pg.js";
import { createWorkerEnv, type WorkerEnv } from "../helpers/worker-env.js";

let t: WorkerEnv;
const ROLE = `mf_refusal_${process.pid}`;

beforeAll(async () => {
  t = await createWorkerEnv("refusal");
});
afterEach(async () => t.killAll());
afterAll(async () => {
  await t?.teardown();
  await adminQuery(`DROP ROLE IF EXISTS ${ROLE}`);
});

/** One statement in a session of its own (the pool's sessions may predate a reset read-only default). */
async function onDatabase(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: t.db.url });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/** Ends the worker's sessions: its pool reconnects, and new sessions take the database's settings. */
async function endWorkerSessions(): Promise<void> {
  await adminQuery("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'matchflow'", [t.db.name]);
}

describe("worker facing a database that refuses every write", () => {
  it("read-only (a failover's demoted primary): batches held unacked, not ready, no retry or dead letter; all stored once when it takes writes again", async () => {
    const w = await t.startWorker({ RETRY_MAX: "0" });
    await adminQuery(`ALTER DATABASE ${t.db.name} SET default_transaction_read_only = on`);
    await endWorkerSessions();
    const ids = await t.publish(Array.from({ length: 40 }, (_, i) => makeMatch("ro", i)));

    const held = await w.waitForLog((l) => l.msg === "database failed a batch whatever its data: holding it unacked and trying it again until the database takes it (no retry spent)" && l.code === "db_read_only");
    expect((held.taskIds as string[]).length).toBeGreaterThan(0);
    expect(ids).toEqual(expect.arrayContaining(held.taskIds as string[]));
    await until(async () => (await t.readyz(w)).status === 503, 10_000, "/readyz 503");
    expect((await t.readyz(w)).body).toMatchObject({ database: false, broker: true });
    expect(await t.ready("matches.dead_letter")).toBe(0);
    expect((await t.rows("ro")).total).toBe(0);

    await adminQuery(`ALTER DATABASE ${t.db.name} RESET default_transaction_read_only`);
    await endWorkerSessions();
    await until(async () => (await t.rows("ro")).total === 40, 30_000, "40 rows");
    await w.waitForLog((l) => l.msg === "database takes writes again");
    await until(async () => (await t.readyz(w)).status === 200, 10_000, "/readyz 200");
    expect(await t.rows("ro")).toEqual({ total: 40, distinct: 40 });
    expect(await t.ready("matches.dead_letter")).toBe(0);
    expect(w.logs.filter((l) => l.msg === "task dead-lettered" || l.msg === "task will be retried")).toEqual([]);
    await t.stopWorker(w);
  });

  it("privileges revoked from its role: held the same way, and stored once when they are granted again, without a reconnect", async () => {
    await adminQuery(`CREATE ROLE ${ROLE} LOGIN`);
    await adminQuery(`GRANT ALL ON DATABASE ${t.db.name} TO ${ROLE}`);
    const grant = `GRANT ALL ON ALL TABLES IN SCHEMA public TO ${ROLE}; GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO ${ROLE}; GRANT CREATE, USAGE ON SCHEMA public TO ${ROLE}`;
    await onDatabase(grant);
    const url = new URL(t.db.url);
    url.username = ROLE;
    const w = await t.startWorker({ DATABASE_URL: url.toString(), RETRY_MAX: "0" });
    await onDatabase(`REVOKE INSERT, UPDATE ON matches FROM ${ROLE}`);
    await t.publish(Array.from({ length: 30 }, (_, i) => makeMatch("perm", i)));

    await w.waitForLog((l) => l.msg === "database failed a batch whatever its data: holding it unacked and trying it again until the database takes it (no retry spent)" && l.code === "db_permission");
    await until(async () => (await t.readyz(w)).status === 503, 10_000, "/readyz 503");
    expect(await t.ready("matches.dead_letter")).toBe(0);

    await onDatabase(`GRANT INSERT, UPDATE ON matches TO ${ROLE}`);
    await until(async () => (await t.rows("perm")).total === 30, 30_000, "30 rows");
    await until(async () => (await t.readyz(w)).status === 200, 10_000, "/readyz 200");
    expect(await t.rows("perm")).toEqual({ total: 30, distinct: 30 });
    expect(await t.ready("matches.dead_letter")).toBe(0);
    expect(w.logs.filter((l) => l.msg === "task dead-lettered" || l.msg === "task will be retried")).toEqual([]);
    await t.stopWorker(w);
    await onDatabase(`REASSIGN OWNED BY ${ROLE} TO CURRENT_USER; DROP OWNED BY ${ROLE}`);
  });

  it("started while the database is read-only: waits (no exit into a crash loop), not ready; consumes once it takes writes", async () => {
    await adminQuery(`ALTER DATABASE ${t.db.name} SET default_transaction_read_only = on`);
    const w = spawnCli(["worker"], t.env());
    try {
      await w.waitForLog((l) => l.msg === "database refuses the migrations at start-up; waiting for it" && l.code === "db_read_only");
      expect((await t.readyz(w)).body).toMatchObject({ status: "not ready", database: false });
      await adminQuery(`ALTER DATABASE ${t.db.name} RESET default_transaction_read_only`);
      await endWorkerSessions();
      await w.waitForLog((l) => l.msg === "worker consuming", 30_000);
      await t.publish(Array.from({ length: 10 }, (_, i) => makeMatch("ro-start", i)));
      await until(async () => (await t.rows("ro-start")).total === 10, 30_000, "10 rows");
      await t.stopWorker(w);
    } finally {
      w.kill("SIGKILL");
    }
  });
});
