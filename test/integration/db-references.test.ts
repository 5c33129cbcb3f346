/**
 * Migration 0002: the references of `matches` are checked once per statement (not by seven
 * per-row foreign keys), with the same guarantees in both directions. On both backends; the
 * races between a writer and a deleter need two connections, so PostgreSQL only.
 */
import { describe, expect, it } from "vitest";
import type { Database, Queryable } from "../../src/db/database.js";
import { isMatchflowError } from "../../src/errors.js";
import { createNameResolver, resolveInTransaction, type ResolvedIds } from "../../src/db/resolve.js";
import { upsertMatches, type UpsertItem, type UpsertResult } from "../../src/db/upsert.js";
import { BACKENDS, makeMatch, useBackend } from "./db-backends.js";

function item(externalId: string): UpsertItem {
  const match = makeMatch({ external_match_id: externalId });
  return { match, raw: match, taskId: `task-${externalId}`, observedAt: "2026-10-01T12:00:00Z" };
}

/** Stores `ids.length` matches through the resolver, returns their resolved ids. */
async function seed(db: Database, externalIds: string[]): Promise<ResolvedIds[]> {
  const resolver = createNameResolver({ mode: "create" });
  const items = externalIds.map(item);
  let resolved: ResolvedIds[] = [];
  await resolveInTransaction(db, resolver, async (tx, resolve) => {
    resolved = (await resolve(items.map((i) => i.match))) as ResolvedIds[];
    return upsertMatches(tx, items, resolved);
  });
  return resolved;
}

async function write(db: Database, items: UpsertItem[], ids: ResolvedIds[]): Promise<UpsertResult[]> {
  return db.transaction((tx) => upsertMatches(tx, items, ids));
}

async function sqlError(run: () => Promise<unknown>): Promise<{ code?: string; message: string }> {
  try {
    await run();
  } catch (err) {
    const e = err as { code?: string; message: string; cause?: { code?: string } };
    return { code: e.code ?? e.cause?.code, message: e.message };
  }
  throw new Error("expected the statement to fail");
}

/** Polls pg_locks until some session waits for a lock on `matches` (bounded: fails after 10 s). */
async function untilSomeoneWaitsOnMatches(db: Database): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { rows } = await db.query<{ n: string }>("SELECT count(*) AS n FROM pg_locks WHERE NOT granted AND relation = 'matches'::regclass");
    if (Number(rows[0]?.n) > 0) return;
    if (Date.now() > deadline) throw new Error("nobody waited for a lock on matches within 10 s");
    await new Promise((r) => setImmediate(r));
  }
}

describe.each(BACKENDS)("match references on %s", (kind) => {
  const backend = useBackend(kind);

  it("a match naming a team id that does not exist refuses the statement as db_stale_reference, transient, naming it (the store then resolves names again: db-match-store.test.ts)", async () => {
    const { db } = backend();
    const [good] = await seed(db, ["ref-seed"]);
    const err: unknown = await write(db, [item("ref-ok-1"), item("ref-bad"), item("ref-ok-2")], [good!, { ...good!, awayTeamId: 987_654 }, good!]).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "db_stale_reference", kind: "transient" });
    expect(isMatchflowError(err) && err.message).toMatch(/ref-bad refers to team id 987654/);
    const { rows } = await db.query<{ n: string }>("SELECT count(*) AS n FROM matches WHERE external_match_id LIKE 'ref-%' AND external_match_id <> 'ref-seed'");
    expect(Number(rows[0]?.n)).toBe(0);
  });

  it.each([
    ["league", "leagueId"],
    ["season", "seasonId"],
    ["age group", "ageGroupId"],
    ["division", "divisionId"],
    ["match type", "matchTypeId"],
    ["team", "homeTeamId"],
  ] as const)("checks the %s reference", async (word, field) => {
    const { db } = backend();
    const [good] = await seed(db, [`ref-seed-${field}`]);
    const err = await sqlError(() => write(db, [item(`ref-${field}`)], [{ ...good!, [field]: 424_242 }]));
    expect(err.message).toContain(`refers to ${word} id 424242`);
  });

  it("an UPDATE that points a match at a missing row is refused too", async () => {
    const { db } = backend();
    await seed(db, ["ref-upd"]);
    const err = await sqlError(() => db.query("UPDATE matches SET season_id = 55555 WHERE external_match_id = 'ref-upd'"));
    expect(err.message).toMatch(/refers to season id 55555/);
  });

  it("a referenced row cannot be deleted, renumbered or truncated away; an unused one can go", async () => {
    const { db } = backend();
    const [ids] = await seed(db, ["ref-del"]);
    expect((await sqlError(() => db.query("DELETE FROM teams WHERE id = $1", [ids!.homeTeamId]))).message).toMatch(/teams id \d+ is still referenced by matches.home_team_id/);
    expect((await sqlError(() => db.query("DELETE FROM teams WHERE id = $1", [ids!.awayTeamId]))).message).toMatch(/matches.away_team_id/);
    expect((await sqlError(() => db.query("UPDATE seasons SET id = 777 WHERE id = $1", [ids!.seasonId]))).message).toMatch(/seasons id \d+ is still referenced/);
    expect((await sqlError(() => db.query("DELETE FROM match_types"))).message).toMatch(/match_types id \d+ is still referenced/);
    expect((await sqlError(() => db.query("TRUNCATE age_groups"))).message).toMatch(/age_groups id \(any\) is still referenced by matches.age_group_id/);
    expect((await sqlError(() => db.query("TRUNCATE leagues CASCADE"))).message).toMatch(/is still referenced by matches/);

    const { rows } = await db.query<{ id: number }>("INSERT INTO teams (league_id, name) VALUES ($1, 'Nobody Plays Us') RETURNING id", [ids!.leagueId]);
    await db.query("DELETE FROM teams WHERE id = $1", [rows[0]!.id]);
    await db.query("UPDATE teams SET name = name || ' (renamed)' WHERE id = $1", [ids!.homeTeamId]);
    // Emptying matches together with what it refers to is fine: the check runs after the truncation.
    await db.query("TRUNCATE matches, teams, team_aliases");
    expect(Number((await db.query<{ n: string }>("SELECT count(*) AS n FROM teams")).rows[0]?.n)).toBe(0);
  });

  it("refuses to remove reference rows outside READ COMMITTED, where its check could miss a concurrent match", async () => {
    const { db } = backend();
    const [ids] = await seed(db, ["ref-iso"]);
    const { rows } = await db.query<{ id: number }>("INSERT INTO teams (league_id, name) VALUES ($1, 'Unused') RETURNING id", [ids!.leagueId]);
    const err = await sqlError(() =>
      db.transaction(async (tx) => {
        await tx.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ");
        await tx.query("DELETE FROM teams WHERE id = $1", [rows[0]!.id]);
      }),
    );
    expect(err.message).toMatch(/needs READ COMMITTED/);
  });
});

/**
 * Runs `work` in a transaction on `db` and keeps it open (locks held) until `release()`.
 * Resolves once `work` is done (its locks taken), so the caller can race another session against it.
 */
async function holdOpen(db: Database, work: (tx: Queryable) => Promise<unknown>): Promise<{ release: () => void; committed: Promise<void> }> {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let opened!: () => void;
  const isOpen = new Promise<void>((r) => (opened = r));
  const committed = db.transaction(async (tx) => {
    await work(tx);
    opened();
    await held;
  });
  await Promise.race([isOpen, committed]);
  return { release, committed };
}

describe("match references under concurrency (postgres)", () => {
  const backend = useBackend("postgres");

  it("a delete waits for an uncommitted match that uses the row, then is refused", async () => {
    const { db, openAnother } = backend();
    const [ids] = await seed(db, ["ref-race-seed"]);
    const { rows } = await db.query<{ id: number }>("INSERT INTO teams (league_id, name) VALUES ($1, 'Newcomers') RETURNING id", [ids!.leagueId]);
    const newTeam = rows[0]!.id;
    const other = await openAnother!();

    const writer = await holdOpen(db, (tx) => upsertMatches(tx, [item("ref-race")], [{ ...ids!, homeTeamId: newTeam }]));
    let deleteSettled = false;
    const deleter = sqlError(() => other.query("DELETE FROM teams WHERE id = $1", [newTeam])).finally(() => (deleteSettled = true));
    // The deleter is blocked on the writer's lock: prove it by finding the wait in pg_locks.
    await untilSomeoneWaitsOnMatches(db);
    expect(deleteSettled).toBe(false);
    writer.release();
    await writer.committed;
    expect((await deleter).message).toMatch(/still referenced by matches.home_team_id/);
    expect(Number((await db.query<{ n: string }>("SELECT count(*) AS n FROM teams WHERE id = $1", [newTeam])).rows[0]?.n)).toBe(1);
  });

  it("a match written while a delete of its team is uncommitted waits, then is refused", async () => {
    const { db, openAnother } = backend();
    const [ids] = await seed(db, ["ref-race2-seed"]);
    const { rows } = await db.query<{ id: number }>("INSERT INTO teams (league_id, name) VALUES ($1, 'Leaving Soon') RETURNING id", [ids!.leagueId]);
    const doomed = rows[0]!.id;
    const other = await openAnother!();

    const deleter = await holdOpen(other, (tx) => tx.query("DELETE FROM teams WHERE id = $1", [doomed]));
    const writer = db.transaction((tx) => upsertMatches(tx, [item("ref-race2")], [{ ...ids!, awayTeamId: doomed }]));
    await untilSomeoneWaitsOnMatches(other);
    deleter.release();
    await deleter.committed;
    const err = await sqlError(() => writer);
    expect(err).toMatchObject({ code: "db_stale_reference", message: expect.stringMatching(/ref-race2 refers to team id/) as string });
  });
});
