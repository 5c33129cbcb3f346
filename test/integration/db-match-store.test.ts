/**
 * The worker's store on PostgreSQL: one statement per batch on the fast path (no transaction
 * block when there is nothing to record), and when the database refuses one match's data, the
 * batch is written again in a transaction, item by item, so that only that match fails (and is
 * recorded in ingest_failures).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { validateForConsumer } from "../../src/contract/index.js";
import type { Database } from "../../src/db/database.js";
import { createMatchStore } from "../../src/db/match-store.js";
import { migrate } from "../../src/db/migrate.js";
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

/** Polls until some session has waited for a lock for `forMs` (bounded: fails after 10 s). */
async function waitForLockWait(on: Database, forMs = 0): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { rows } = await on.query<{ n: string }>(
      `SELECT count(*) AS n FROM pg_stat_activity
        WHERE wait_event_type = 'Lock' AND clock_timestamp() - query_start > $1 * interval '1 millisecond'`,
      [forMs],
    );
    if (Number(rows[0]?.n) > 0) return;
    if (Date.now() > deadline) throw new Error("nobody waited for a lock within 10 s");
    await new Promise((r) => setImmediate(r));
  }
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
    const store = createMatchStore(db, { nameResolution: "create", closeDatabase: false });
    const items = [0, 1, 2].map((i) => item(makeMatch("ms", i), `t-${i}`));
    expect((await store.writeBatch(items, [])).map((o) => o.ok && o.outcome)).toEqual(["created", "created", "created"]);
    expect((await store.writeBatch(items, [])).map((o) => o.ok && o.outcome)).toEqual(["unchanged", "unchanged", "unchanged"]);
  });

  it("lets batches that bring new names take turns, the one whose turn it is resolving for those waiting", async () => {
    // Every statement the store sends, with the batch it was sent for, through a thin wrapper
    // around the real database.
    const batchOf = new AsyncLocalStorage<string>();
    const sent: { batch: string | undefined; sql: string }[] = [];
    const counted: Database = {
      kind: db.kind,
      concurrent: db.concurrent,
      query: (sql, params, options) => {
        sent.push({ batch: batchOf.getStore(), sql });
        return db.query(sql, params, options);
      },
      transaction: (fn, options) => db.transaction(fn, options),
      close: () => Promise.resolve(),
    };
    const nameStatement = (sql: string) => /FROM unnest|INSERT INTO (leagues|seasons|age_groups|match_types|divisions|teams)\b/.test(sql);
    const store = createMatchStore(counted, { nameResolution: "create", closeDatabase: false });
    const names = { home_team: "Turn Taking FC", away_team: "Waiting Rovers", division: "Turns 1", league: "Flex", age_group: "U15" };
    const write = (batch: string, i: number) => batchOf.run(batch, () => store.writeBatch([item(makeMatch("turn", i, names), `turn-${i}`)], []));
    // Started in the same tick: without turns, both would look up (and insert) the same new names.
    const [a, b] = await Promise.all([write("first", 0), write("second", 1)]);
    expect([a[0], b[0]]).toMatchObject([{ ok: true, outcome: "created" }, { ok: true, outcome: "created" }]);
    expect(sent.filter((s) => s.batch === "first" && /INSERT INTO teams\b/.test(s.sql))).toHaveLength(1);
    expect(sent.filter((s) => s.batch === "second" && nameStatement(s.sql))).toEqual([]);
    const ids = await db.query("SELECT home_team_id, away_team_id, division_id, league_id FROM matches WHERE external_match_id LIKE 'turn-%' ORDER BY external_match_id");
    expect(ids.rows).toHaveLength(2);
    expect(ids.rows[0]).toEqual(ids.rows[1]);

    // Three more at once, each with teams of its own: the first takes its turn when the other
    // two already wait behind it, so it resolves the names of all three in one round.
    sent.length = 0;
    const own = (i: number) => ({ ...names, home_team: `Queue Home ${i}`, away_team: `Queue Away ${i}` });
    const later = (batch: string, i: number) => batchOf.run(batch, () => store.writeBatch([item(makeMatch("turn", i, own(i)), `turn-${i}`)], []));
    const outcomes = await Promise.all([later("third", 3), later("fourth", 4), later("fifth", 5)]);
    expect(outcomes.map((o) => o[0])).toMatchObject([{ ok: true, outcome: "created" }, { ok: true, outcome: "created" }, { ok: true, outcome: "created" }]);
    expect(sent.filter((s) => s.batch === "third" && /INSERT INTO teams\b/.test(s.sql))).toHaveLength(1);
    expect(sent.filter((s) => (s.batch === "fourth" || s.batch === "fifth") && nameStatement(s.sql))).toEqual([]);
    const fifth = await db.query<{ home: string; away: string }>(
      "SELECT h.name AS home, a.name AS away FROM matches m JOIN teams h ON h.id = m.home_team_id JOIN teams a ON a.id = m.away_team_id WHERE m.external_match_id = 'turn-5'",
    );
    expect(fifth.rows).toEqual([{ home: "Queue Home 5", away: "Queue Away 5" }]);
  });

  it("isolates a match the database refuses: its neighbours land, it is recorded", async () => {
    const store = createMatchStore(db, { nameResolution: "create", closeDatabase: false });
    // PostgreSQL text cannot hold a NUL character. The contract refuses one before the store now,
    // so it is put in after validation: the store must isolate whatever the database refuses.
    const refused = item(makeMatch("iso", 2), "iso-2");
    refused.match.location = "Field \u0000 2";
    const items = [item(makeMatch("iso", 1), "iso-1"), refused, item(makeMatch("iso", 3), "iso-3")];
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
    const create = createMatchStore(db, { nameResolution: "create", closeDatabase: false });
    await create.writeBatch([item(makeMatch("st", 0, { home_team: "Known FC", away_team: "Also Known FC" }), "st-0")], []);
    const strict = createMatchStore(db, { nameResolution: "strict", closeDatabase: false });
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

  it("a requeued task stored at last marks its recorded failure resolved; one not requeued is not looked up", async () => {
    const strict = createMatchStore(db, { nameResolution: "strict", closeDatabase: false });
    const refused = makeMatch("rs", 1, { home_team: "Known FC", away_team: "Newcomers FC" });
    const [first] = await strict.writeBatch([item(refused, "rs-1")], []);
    expect(first).toMatchObject({ ok: false, error: { code: "unresolved_name" } });
    const unresolved = async () => (await db.query<{ task_id: string }>("SELECT task_id FROM ingest_failures WHERE task_id = 'rs-1' AND resolved_at IS NULL")).rows.length;
    expect(await unresolved()).toBe(1);
    // The operator adds the team; a plain redelivery stored does not look the failure up...
    const create = createMatchStore(db, { nameResolution: "create", closeDatabase: false });
    await create.writeBatch([item(makeMatch("rs", 2, { home_team: "Known FC", away_team: "Newcomers FC" }), "rs-2")], []);
    await strict.writeBatch([item(refused, "rs-1")], []);
    expect(await unresolved()).toBe(1);
    // ...the dlq requeue does: stored, its failure is resolved.
    const [stored] = await strict.writeBatch([{ ...item(refused, "rs-1"), requeued: true }], []);
    expect(stored).toMatchObject({ ok: true });
    expect(await unresolved()).toBe(0);
    const { rows } = await db.query<{ resolved: boolean }>("SELECT resolved_at IS NOT NULL AS resolved FROM ingest_failures WHERE task_id = 'rs-1'");
    expect(rows).toEqual([{ resolved: true }]);
  });

  it("is bounded by the connection's timeouts: a held lock becomes a transient lock timeout, on both write paths", async () => {
    const bounded = await openDatabase(tdb.url, { timeouts: { lockTimeoutMs: 100, statementTimeoutMs: 30_000 } });
    const store = createMatchStore(bounded, { nameResolution: "create" });
    try {
      await store.writeBatch([item(makeMatch("lk", 0), "lk-0")], []); // names created and cached
      await db.transaction(async (locker) => {
        await locker.query("LOCK TABLE matches IN ACCESS EXCLUSIVE MODE");
        // One statement (nothing to record) and the transaction (a failure to record).
        await expect(store.writeBatch([item(makeMatch("lk", 1), "lk-1")], [])).rejects.toMatchObject({ kind: "transient", code: "db_lock_timeout" });
        const failure = { reasonCode: "contract_violation", detail: "x", taskId: "lk-bad", raw: {} };
        await expect(store.writeBatch([item(makeMatch("lk", 2), "lk-2")], [failure])).rejects.toMatchObject({ kind: "transient", code: "db_lock_timeout" });
      });
    } finally {
      await store.close();
    }
  });

  it("a migration is not bound by those timeouts: it waits for the lock", async () => {
    const bounded = await openDatabase(tdb.url, { timeouts: { lockTimeoutMs: 50, statementTimeoutMs: 30_000 } });
    try {
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let locked!: () => void;
      const isLocked = new Promise<void>((r) => (locked = r));
      const holder = db.transaction(async (tx) => {
        await tx.query("SELECT pg_advisory_xact_lock($1)", [0x6d66_6d67]);
        locked();
        await held;
      });
      await isLocked;
      const migration = migrate(bounded);
      // The migration waits on the advisory lock for 4x lock_timeout (proven from
      // pg_stat_activity, not slept), then finishes once the lock is released.
      await waitForLockWait(db, 200);
      release();
      await holder;
      await expect(migration).resolves.toEqual({ applied: [] });
    } finally {
      await bounded.close();
    }
  });

  it("a new name the database refuses fails only the matches naming it; the rest of the batch lands (before, the whole batch failed as permanent)", async () => {
    await db.query("ALTER TABLE teams ADD CONSTRAINT test_no_refused_names CHECK (name NOT LIKE 'Refused%')");
    try {
      const store = createMatchStore(db, { nameResolution: "create", closeDatabase: false });
      const away = { away_team: "Accepted Away FC" };
      const out = await store.writeBatch([item(makeMatch("refuse", 0, { ...away, home_team: "Accepted Home FC" }), "rf-0"), item(makeMatch("refuse", 1, { ...away, home_team: "Refused United" }), "rf-1"), item(makeMatch("refuse", 2, { ...away, home_team: "Accepted Third FC" }), "rf-2")], []);
      expect(out[0]).toMatchObject({ ok: true, outcome: "created" });
      expect(out[2]).toMatchObject({ ok: true, outcome: "created" });
      expect(out[1]).toMatchObject({ ok: false, error: { code: "invalid_name", kind: "permanent", message: expect.stringMatching(/^team name "Refused United" refused by the database: .*test_no_refused_names/) as string } });
      const { rows } = await db.query<{ external_match_id: string }>("SELECT external_match_id FROM matches WHERE external_match_id LIKE 'refuse-%' ORDER BY 1");
      expect(rows.map((r) => r.external_match_id)).toEqual(["refuse-0", "refuse-2"]);
    } finally {
      await db.query("ALTER TABLE teams DROP CONSTRAINT test_no_refused_names");
    }
  });

  describe("an operator merges a misspelt team into the right one (a team_aliases row) while the worker runs", () => {
    /** The worker created "<misspelt>" as a team of its own; the operator repoints its matches to "<right>", aliases it and deletes it. */
    async function merge(misspelt: string, right: string, deleteIt: boolean): Promise<number> {
      const { rows } = await db.query<{ id: number; league_id: number }>("SELECT id, league_id FROM teams WHERE name = $1", [misspelt]);
      const wrong = rows[0]!;
      const { rows: rightRows } = await db.query<{ id: number }>("SELECT id FROM teams WHERE name = $1 AND league_id = $2", [right, wrong.league_id]);
      const rightId = rightRows[0]!.id;
      await db.query("UPDATE matches SET home_team_id = $1 WHERE home_team_id = $2", [rightId, wrong.id]);
      await db.query("UPDATE matches SET away_team_id = $1 WHERE away_team_id = $2", [rightId, wrong.id]);
      if (deleteIt) await db.query("DELETE FROM teams WHERE id = $1", [wrong.id]);
      await db.query("INSERT INTO team_aliases (league_id, alias, team_id) VALUES ($1, $2, $3)", [wrong.league_id, misspelt, rightId]);
      return rightId;
    }
    const homeTeamOf = async (externalId: string) => (await db.query<{ home_team_id: number }>("SELECT home_team_id FROM matches WHERE external_match_id = $1", [externalId])).rows[0]?.home_team_id;

    it("the misspelt team deleted: the next match naming it is written to the right team, not dead-lettered (the cached id is dropped and the names resolved again)", async () => {
      const store = createMatchStore(db, { nameResolution: "create", closeDatabase: false });
      const away = { away_team: "Merge Away FC" };
      await store.writeBatch([item(makeMatch("merge-del", 0, { ...away, home_team: "Mrege Wrongly FC" }), "md-0"), item(makeMatch("merge-del", 1, { ...away, home_team: "Merge Rightly FC" }), "md-1")], []);
      const rightId = await merge("Mrege Wrongly FC", "Merge Rightly FC", true);
      const [out] = await store.writeBatch([item(makeMatch("merge-del", 2, { ...away, home_team: "Mrege Wrongly FC" }), "md-2")], []);
      expect(out).toMatchObject({ ok: true, outcome: "created" });
      expect(await homeTeamOf("merge-del-2")).toBe(rightId);
    });

    it("the misspelt team kept: a store whose cache has outlived NAME_CACHE_TTL writes the next match to the right team; one whose cache has not, still to the old one", async () => {
      const away = { away_team: "Alias Away FC" };
      const fresh = createMatchStore(db, { nameResolution: "create", closeDatabase: false, nameCacheTtlMs: 0 });
      const lasting = createMatchStore(db, { nameResolution: "create", closeDatabase: false });
      await fresh.writeBatch([item(makeMatch("merge-ttl", 0, { ...away, home_team: "Alias Rightly FC" }), "mt-0")], []);
      for (const [store, i] of [[fresh, 1], [lasting, 2]] as const) await store.writeBatch([item(makeMatch("merge-ttl", i, { ...away, home_team: "Alais Wrongly FC" }), `mt-${i}`)], []);
      const oldId = await homeTeamOf("merge-ttl-2");
      const rightId = await merge("Alais Wrongly FC", "Alias Rightly FC", false);
      await fresh.writeBatch([item(makeMatch("merge-ttl", 3, { ...away, home_team: "Alais Wrongly FC" }), "mt-3")], []);
      await lasting.writeBatch([item(makeMatch("merge-ttl", 4, { ...away, home_team: "Alais Wrongly FC" }), "mt-4")], []);
      expect(await homeTeamOf("merge-ttl-3")).toBe(rightId);
      expect(await homeTeamOf("merge-ttl-4")).toBe(oldId);
    });
  });
});
