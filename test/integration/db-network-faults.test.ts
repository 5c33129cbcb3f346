/**
 * PostgreSQL across a silent partition (the TCP proxy's blackhole: sockets open, nothing
 * answered). The statement timeout is the server's, so its error cannot cross the partition:
 * the client's read timeout is what ends the wait, and the server's idle-in-transaction timeout
 * what ends the session left holding row locks.
 */
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../src/db/database.js";
import { openDatabase } from "../../src/db/open.js";
import { createTestDatabase, type TestDatabase } from "../helpers/pg.js";
import { startTcpProxy, viaProxy, type TcpProxy } from "../helpers/tcp-proxy.js";

let testDb: TestDatabase;
let proxy: TcpProxy;
let db: Database;

beforeAll(async () => {
  testDb = await createTestDatabase();
  const target = new URL(testDb.url);
  proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  db = await openDatabase(viaProxy(testDb.url, proxy), { timeouts: { lockTimeoutMs: 0, statementTimeoutMs: 500, readTimeoutMs: 1000 } });
  await db.query("CREATE TABLE held (id int PRIMARY KEY, v int NOT NULL)");
  await db.query("INSERT INTO held VALUES (1, 0)");
});

afterEach(() => proxy.heal());

afterAll(async () => {
  proxy?.heal();
  await db?.close();
  await proxy?.close();
  await testDb?.drop();
});

describe("PostgreSQL across a silent partition", () => {
  it("a query fails as db_connection (the worker then waits for the database), and once the link heals the next one runs on a new connection", async () => {
    expect((await db.query<{ n: number }>("SELECT 1 AS n")).rows).toEqual([{ n: 1 }]);
    const accepted = proxy.accepted;
    proxy.blackhole();
    await expect(db.query("SELECT 1")).rejects.toMatchObject({ code: "db_connection", kind: "transient" });
    proxy.heal();
    expect((await db.query<{ n: number }>("SELECT 2 AS n")).rows).toEqual([{ n: 2 }]);
    expect(proxy.accepted).toBeGreaterThan(accepted);
  });

  it("a transaction cut off after taking a row lock fails as db_connection, and the server ends its session, so the lock is not held until the link heals", async () => {
    const failed = db.transaction(async (tx) => {
      await tx.query("UPDATE held SET v = 1 WHERE id = 1");
      proxy.blackhole();
      await tx.query("SELECT 1");
    });
    await expect(failed).rejects.toMatchObject({ code: "db_connection" });

    // Still partitioned: another session takes the same row lock once the server has ended the
    // one cut off (its lock_timeout is far above the idle-in-transaction timeout).
    const direct = new pg.Client({ connectionString: testDb.url });
    await direct.connect();
    try {
      await direct.query("SET lock_timeout = '20s'");
      await direct.query("UPDATE held SET v = 2 WHERE id = 1");
      expect((await direct.query("SELECT v FROM held")).rows).toEqual([{ v: 2 }]);
    } finally {
      await direct.end();
    }
  });
});
