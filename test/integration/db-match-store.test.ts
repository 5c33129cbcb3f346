/**
 * The worker's store on PostgreSQL: one transaction per batch on the fast path (no savepoint),
 * and when the database refuses one match's data, the batch is written again item by item so
 * that only that match fails (and is recorded in ingest_failures).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { validateForConsumer } from "../../src/contract/index.js";
import type { Database } from "../../src/db/database.js";
import { createMatchStore } from "../../src/db/match-store.js";
import { openDatabase } from "../../src/db/open.js";
import type { StoreItem } from "../../src/worker/store.js";
import { makeMatch } from "../helpers/matches.js";
import { createTestDatabase, type TestDatabase } from "../helpers/pg.js";

let tdb: TestDatabase;
let db: Database;

function item(raw: Record<string, unknown>, taskId: string): StoreItem {
  const r = validateForConsumer(raw);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return { match: r.match, raw, taskId, observedAt: "2026-10-30T06:00:00.000Z" };
}

beforeAll(async () => {
  tdb = await createTestDatabase({ migrated: true });
  db = await openDatabase(tdb.url);
});
afterAll(async () => {
  await db?.close();
  await tdb?.drop();
});

describe("match store", () => {
  it("writes a batch and reports created, then unchanged, per item", async () => {
    const store = createMatchStore(db, { nameResolution: "create", lockTimeoutMs: 5000, statementTimeoutMs: 30000, closeDatabase: false });
    const items = [0, 1, 2].map((i) => item(makeMatch("ms", i), `t-${i}`));
    expect((await store.writeBatch(items, [])).map((o) => o.ok && o.outcome)).toEqual(["created", "created", "created"]);
    expect((await store.writeBatch(items, [])).map((o) => o.ok && o.outcome)).toEqual(["unchanged", "unchanged", "unchanged"]);
  });

  it("isolates a match the database refuses: its neighbours land, it is recorded", async () => {
    const store = createMatchStore(db, { nameResolution: "create", lockTimeoutMs: 5000, statementTimeoutMs: 30000, closeDatabase: false });
    // A NUL character passes the contract but PostgreSQL text cannot hold it.
    const items = [item(makeMatch("iso", 1), "iso-1"), item(makeMatch("iso", 2, { location: "Field \u0000 2" }), "iso-2"), item(makeMatch("iso", 3), "iso-3")];
    const outcomes = await store.writeBatch(items, []);
    expect(outcomes[0]).toMatchObject({ ok: true, outcome: "created" });
    expect(outcomes[1]).toMatchObject({ ok: false, error: { kind: "permanent" } });
    expect(outcomes[2]).toMatchObject({ ok: true, outcome: "created" });
    const stored = await db.query<{ id: string }>("SELECT external_match_id AS id FROM matches WHERE external_match_id LIKE 'iso-%' ORDER BY 1");
    expect(stored.rows.map((r) => r.id)).toEqual(["iso-1", "iso-3"]);
    const failures = await db.query<{ task_id: string; reason_code: string }>("SELECT task_id, reason_code FROM ingest_failures WHERE task_id = 'iso-2'");
    expect(failures.rows).toHaveLength(1);
    expect(failures.rows[0]?.reason_code).toMatch(/^db_(data|constraint)$/);
  });

  it("in strict mode refuses an unknown name for that match only, and records it", async () => {
    const create = createMatchStore(db, { nameResolution: "create", lockTimeoutMs: 5000, statementTimeoutMs: 30000, closeDatabase: false });
    await create.writeBatch([item(makeMatch("st", 0, { home_team: "Known FC", away_team: "Also Known FC" }), "st-0")], []);
    const strict = createMatchStore(db, { nameResolution: "strict", lockTimeoutMs: 5000, statementTimeoutMs: 30000, closeDatabase: false });
    const outcomes = await strict.writeBatch(
      [item(makeMatch("st", 1, { home_team: "known  fc", away_team: "ALSO KNOWN FC" }), "st-1"), item(makeMatch("st", 2, { home_team: "Known FC", away_team: "Nobody United" }), "st-2")],
      [],
    );
    expect(outcomes[0]).toMatchObject({ ok: true, outcome: "created" });
    expect(outcomes[1]).toMatchObject({ ok: false, error: { code: "unresolved_name", kind: "permanent" } });
    const teams = await db.query<{ n: string }>("SELECT count(*) AS n FROM teams WHERE name ILIKE 'nobody%'");
    expect(Number(teams.rows[0]?.n)).toBe(0);
    const failures = await db.query<{ reason_code: string }>("SELECT reason_code FROM ingest_failures WHERE task_id = 'st-2'");
    expect(failures.rows.map((r) => r.reason_code)).toEqual(["unresolved_name"]);
  });

  it("bounds each transaction: a held lock becomes a transient lock timeout", async () => {
    const store = createMatchStore(db, { nameResolution: "create", lockTimeoutMs: 100, statementTimeoutMs: 30000, closeDatabase: false });
    await db.transaction(async (locker) => {
      await locker.query("LOCK TABLE matches IN ACCESS EXCLUSIVE MODE");
      await expect(store.writeBatch([item(makeMatch("lk", 1), "lk-1")], [])).rejects.toMatchObject({ kind: "transient", code: "db_lock_timeout" });
    });
  });
});
