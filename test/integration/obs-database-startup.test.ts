/**
 * A worker started while the database answers but refuses the migrations (read-only: a failover's
 * standby) says so in `matchflow_database_up` as /readyz does, not 1 because a connection opened.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { spawnCli, until } from "../helpers/cli.js";
import { adminQuery } from "../helpers/pg.js";
import { createWorkerEnv, type WorkerEnv } from "../helpers/worker-env.js";

let t: WorkerEnv;

beforeAll(async () => {
  t = await createWorkerEnv("obsdbstart");
});
afterEach(async () => t.killAll());
afterAll(async () => t?.teardown());

describe("database refusing the migrations at start-up", () => {
  it("matchflow_database_up 0 while /readyz says database false, 1 once the worker consumes", async () => {
    await adminQuery(`ALTER DATABASE ${t.db.name} SET default_transaction_read_only = on`);
    const w = spawnCli(["worker"], t.env());
    try {
      const port = Number((await w.waitForLog((l) => l.msg === "ops HTTP server listening (/metrics, /healthz, /readyz)")).port);
      const databaseUp = async () => /^matchflow_database_up (\S+)$/m.exec(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text())?.[1];
      await w.waitForLog((l) => l.msg === "database refuses the migrations at start-up; waiting for it" && l.code === "db_read_only");
      expect((await t.readyz(w)).body).toMatchObject({ status: "not ready", database: false });
      expect(await databaseUp()).toBe("0");
      await adminQuery(`ALTER DATABASE ${t.db.name} RESET default_transaction_read_only`);
      // The pool's sessions took the read-only default when they began: ended, they come back without it.
      await adminQuery("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'matchflow'", [t.db.name]);
      await w.waitForLog((l) => l.msg === "worker consuming", 30_000);
      await until(async () => (await databaseUp()) === "1", 10_000, "matchflow_database_up 1");
      expect((await t.readyz(w)).status).toBe(200);
    } finally {
      await adminQuery(`ALTER DATABASE ${t.db.name} RESET default_transaction_read_only`);
      w.kill("SIGKILL");
    }
  }, 90_000);
});
