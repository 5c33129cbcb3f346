import { describe, expect, it } from "vitest";
import type { Database, Queryable } from "../../src/db/database.js";
import { createNameResolver, isResolved, resolveInTransaction, type ResolveResult, type ResolvedIds } from "../../src/db/resolve.js";
import { BACKENDS, makeMatch, useBackend } from "./db-backends.js";

function ids(r: ResolveResult | undefined): ResolvedIds {
  if (!r || !isResolved(r)) throw new Error(`expected resolved ids, got ${r instanceof Error ? `${r.code}: ${r.message}` : String(r)}`);
  return r;
}

async function count(db: Queryable, table: string): Promise<number> {
  const { rows } = await db.query<{ n: number | string }>(`SELECT count(*) AS n FROM ${table}`);
  return Number(rows[0]?.n);
}

async function teamNames(db: Database): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>("SELECT name FROM teams ORDER BY id");
  return rows.map((r) => r.name);
}

/** Counts statements, to prove what the cache saves. */
function counting(tx: Queryable): { tx: Queryable; count: () => number } {
  let n = 0;
  return { tx: { query: (sql, params) => ((n += 1), tx.query(sql, params)) }, count: () => n };
}

describe.each(BACKENDS)("name resolution on %s", (kind) => {
  const backend = useBackend(kind);

  it("creates every missing kind once, case- and space-insensitively", async () => {
    const { db } = backend();
    const resolver = createNameResolver({ mode: "create" });
    const results = await resolveInTransaction(db, resolver, (_tx, resolve) =>
      resolve([
        makeMatch({ home_team: "Alpha  FC", away_team: "Beta SC", age_group: "U14", match_type: "League" }),
        makeMatch({ home_team: " alpha fc ", away_team: "BETA   sc", age_group: "u14", match_type: "league", division: "NORTHEAST" }),
        makeMatch({ home_team: "Gamma", away_team: "Alpha FC", league: null, season: "2025-26" }),
      ]),
    );
    const [a, b, c] = results.map(ids);
    expect(b).toEqual(a);
    expect(c?.homeTeamId).not.toBe(a?.homeTeamId);
    expect(c?.awayTeamId).toBe(a?.homeTeamId); // no league given: Homegrown, like the others
    expect(c?.seasonId).not.toBe(a?.seasonId);
    expect(await teamNames(db)).toEqual(["Alpha FC", "Beta SC", "Gamma"].sort((x, y) => (x < y ? -1 : 1)));
    expect(await count(db, "leagues")).toBe(1);
    expect(await count(db, "age_groups")).toBe(1);
    expect(await count(db, "match_types")).toBe(1);
    expect(await count(db, "divisions")).toBe(1);
    const { rows } = await db.query<{ name: string; start_date: string; end_date: string }>(
      "SELECT name, start_date::text, end_date::text FROM seasons ORDER BY name",
    );
    expect(rows).toEqual([
      { name: "2025-26", start_date: "2025-08-01", end_date: "2026-07-31" },
      { name: "2026-27", start_date: "2026-08-01", end_date: "2027-07-31" },
    ]);
  });

  it("treats % and _ literally: A_C and A%C never match ABC", async () => {
    const { db } = backend();
    const resolver = createNameResolver({ mode: "create" });
    const [first] = await resolveInTransaction(db, resolver, (_tx, resolve) => resolve([makeMatch({ home_team: "A_C", away_team: "A%C" })]));
    const [second] = await resolveInTransaction(db, createNameResolver({ mode: "create" }), (_tx, resolve) =>
      resolve([makeMatch({ home_team: "ABC", away_team: "AxC" }), makeMatch({ home_team: "a_c", away_team: "a%c" })]),
    );
    expect(second && ids(second).homeTeamId).not.toBe(ids(first).homeTeamId);
    expect(await count(db, "teams")).toBe(4);
    const [, again] = await resolveInTransaction(db, createNameResolver({ mode: "strict" }), (_tx, resolve) =>
      resolve([makeMatch({ home_team: "ABC", away_team: "AxC" }), makeMatch({ home_team: "a_c", away_team: "A%C" })]),
    );
    expect(ids(again)).toMatchObject({ homeTeamId: ids(first).homeTeamId, awayTeamId: ids(first).awayTeamId });
  });

  it("keeps teams and divisions per league: one name in two leagues is two rows", async () => {
    const { db } = backend();
    const resolver = createNameResolver({ mode: "create" });
    const [hg, ac] = (
      await resolveInTransaction(db, resolver, (_tx, resolve) =>
        resolve([makeMatch({ league: "Homegrown", division: "Northeast" }), makeMatch({ league: "Academy", division: "Northeast" })]),
      )
    ).map(ids);
    expect(hg?.leagueId).not.toBe(ac?.leagueId);
    expect(hg?.homeTeamId).not.toBe(ac?.homeTeamId);
    expect(hg?.divisionId).not.toBe(ac?.divisionId);
    expect(await count(db, "teams")).toBe(4);
    expect(await count(db, "divisions")).toBe(2);
  });

  it("reuses committed ids for NAME_CACHE_TTL, then looks every name up again (the cache-only path too: a worker whose names are all cached)", async () => {
    const { db } = backend();
    let clock = 1_000_000;
    const resolver = createNameResolver({ mode: "create", cacheTtlMs: 60_000, now: () => clock });
    const match = makeMatch({ home_team: "Cached Home", away_team: "Cached Away" });
    const [first] = await resolveInTransaction(db, resolver, (_tx, resolve) => resolve([match]));
    clock += 59_999;
    expect(resolver.resolveFromCache([match])?.[0]).toEqual(first);
    clock += 1;
    expect(resolver.resolveFromCache([match])).toBeUndefined();
  });

  it("resolves through team_aliases before team names, per league", async () => {
    const { db } = backend();
    const resolver = createNameResolver({ mode: "create" });
    const [full] = await resolveInTransaction(db, resolver, (_tx, resolve) =>
      resolve([makeMatch({ home_team: "Intercontinental Football Academy of New England", away_team: "Beta SC" })]),
    );
    const team = ids(full).homeTeamId;
    await db.query("INSERT INTO team_aliases (league_id, alias, team_id) VALUES ($1, $2, $3)", [ids(full).leagueId, "IFA", team]);
    const [viaAlias, sameTeam] = await resolveInTransaction(db, createNameResolver({ mode: "strict" }), (_tx, resolve) =>
      resolve([
        makeMatch({ home_team: "Beta SC", away_team: "  ifa " }),
        makeMatch({ home_team: "IFA", away_team: "Intercontinental Football Academy of New England" }),
      ]),
    );
    expect(ids(viaAlias).awayTeamId).toBe(team);
    expect(sameTeam).toMatchObject({ code: "same_team", kind: "permanent" });
    expect(await count(db, "teams")).toBe(2);
  });

  it("strict mode: an unknown name fails only its own match, naming the kind and the name; nothing is created", async () => {
    const { db } = backend();
    await resolveInTransaction(db, createNameResolver({ mode: "create" }), (_tx, resolve) => resolve([makeMatch()]));
    const before = await count(db, "teams");
    const strict = createNameResolver({ mode: "strict" });
    const [known, unknownTeam, unknownDivision, unknownAgeGroup] = await resolveInTransaction(db, strict, (_tx, resolve) =>
      resolve([
        makeMatch(),
        makeMatch({ away_team: "Nobody United" }),
        makeMatch({ division: "Atlantis" }),
        makeMatch({ age_group: "U99" }),
      ]),
    );
    expect(ids(known).homeTeamId).toBeGreaterThan(0);
    expect(unknownTeam).toMatchObject({ code: "unresolved_name", kind: "permanent", details: { kind: "team", name: "Nobody United", league: "Homegrown" } });
    expect((unknownTeam as Error).message).toContain('team "Nobody United"');
    expect(unknownDivision).toMatchObject({ code: "unresolved_name", details: { kind: "division", name: "Atlantis" } });
    expect(unknownAgeGroup).toMatchObject({ code: "unresolved_name", details: { kind: "age_group", name: "U99" } });
    expect(await count(db, "teams")).toBe(before);
    expect(await count(db, "divisions")).toBe(1);
  });

  it("strict mode still creates a new season (it follows from the date: nothing to curate), so the August rollover does not dead-letter every match", async () => {
    const { db } = backend();
    await resolveInTransaction(db, createNameResolver({ mode: "create" }), (_tx, resolve) => resolve([makeMatch()]));
    const [next] = await resolveInTransaction(db, createNameResolver({ mode: "strict" }), (_tx, resolve) => resolve([makeMatch({ match_date: "2027-08-22", season: "2027-28" })]));
    expect(ids(next).seasonId).toBeGreaterThan(0);
    const { rows } = await db.query<{ name: string; start_date: string }>("SELECT name, start_date::text FROM seasons ORDER BY name");
    expect(rows.map((r) => r.name)).toEqual(["2026-27", "2027-28"]);
  });

  it("an invalid name fails its own match only", async () => {
    const { db } = backend();
    const [bad, good, nul] = await resolveInTransaction(db, createNameResolver({ mode: "create" }), (_tx, resolve) =>
      resolve([makeMatch({ home_team: "x".repeat(201) }), makeMatch(), makeMatch({ away_team: "Nul\u0000FC" })]),
    );
    expect(bad).toMatchObject({ code: "invalid_name", kind: "permanent", details: { kind: "team" } });
    expect(nul).toMatchObject({ code: "invalid_name", kind: "permanent" });
    expect(ids(good).homeTeamId).toBeGreaterThan(0);
  });

  it("caches ids only after commit: a rolled-back insert never leaves a cached id", async () => {
    const { db } = backend();
    const resolver = createNameResolver({ mode: "create" });
    await expect(
      resolveInTransaction(db, resolver, async (_tx, resolve) => {
        await resolve([makeMatch({ home_team: "Ghost FC" })]);
        throw new Error("roll back");
      }),
    ).rejects.toThrow("roll back");
    expect(await count(db, "teams")).toBe(0);

    const [after] = await resolveInTransaction(db, resolver, (_tx, resolve) => resolve([makeMatch({ home_team: "Ghost FC" })]));
    const { rows } = await db.query<{ name: string }>("SELECT name FROM teams WHERE id = $1", [ids(after).homeTeamId]);
    expect(rows).toEqual([{ name: "Ghost FC" }]);

    // Committed now: the same names again cost no statement at all.
    await db.transaction(async (tx) => {
      const c = counting(tx);
      const [cached] = await resolver.resolveBatch(c.tx, [makeMatch({ home_team: "Ghost FC" })]);
      expect(ids(cached)).toEqual(ids(after));
      expect(c.count()).toBe(0);
    });
  });

  it("resolves a batch of many distinct names in a few statements", async () => {
    const { db } = backend();
    const matches = Array.from({ length: 200 }, (_, i) => makeMatch({ home_team: `Home ${i}`, away_team: `Away ${i}`, division: `Div ${i % 7}` }));
    await db.transaction(async (tx) => {
      const c = counting(tx);
      const results = await createNameResolver({ mode: "create" }).resolveBatch(c.tx, matches);
      expect(results.every(isResolved)).toBe(true);
      // One find-or-create statement per kind, whatever the batch size and although every name
      // is new: the lookup, the insert and the ids it created travel in one round trip.
      expect(c.count()).toBe(6);
    });
    expect(await count(db, "teams")).toBe(400);
  });

  it.runIf(kind === "postgres")("a name created by a transaction that commits while ours waits on its key is found by a second lookup", async () => {
    const { db } = backend();
    const match = makeMatch({ home_team: "Racing FC", away_team: "Waiting SC", division: "Race" });
    let commitA: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (commitA = resolve));
    let createdA: ResolveResult | undefined;
    // A creates every name and holds its transaction open.
    const a = db.transaction(async (tx) => {
      [createdA] = await createNameResolver({ mode: "create" }).resolveBatch(tx, [match]);
      await gate;
    });
    while (createdA === undefined) await new Promise((r) => setImmediate(r));
    // B finds nothing committed, so its insert waits on A's uncommitted key...
    let statementsB = 0;
    const b = db.transaction(async (tx) => {
      const counted: Queryable = { query: (sql, params) => ((statementsB += 1), tx.query(sql, params)) };
      return (await createNameResolver({ mode: "create" }).resolveBatch(counted, [match]))[0];
    });
    const waitingOnLock = async () => {
      const { rows } = await db.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
      return Number(rows[0]?.n) > 0;
    };
    while (!(await waitingOnLock())) await new Promise((r) => setTimeout(r, 5));
    // ...and skips it once A commits; the statement's snapshot cannot see A's row, a new one can.
    commitA();
    await a;
    const resolvedB = await b;
    expect(ids(resolvedB)).toEqual(ids(createdA));
    // Six find-or-create statements, plus one second lookup for the kind that waited (the
    // league, the first); every later kind already sees A's committed rows.
    expect(statementsB).toBe(7);
    expect(await count(db, "teams")).toBe(2);
  });

  it("8 parallel transactions resolving the same new team create exactly one row", async () => {
    const { db } = backend();
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        // A resolver each, like 8 separate workers: no shared cache to hide a race.
        resolveInTransaction(db, createNameResolver({ mode: "create" }), (_tx, resolve) =>
          resolve([makeMatch({ home_team: "Brand New FC", away_team: "Also New SC", division: "Fresh" })]),
        ),
      ),
    );
    const teamIds = new Set(results.map(([r]) => ids(r).homeTeamId));
    expect(teamIds.size).toBe(1);
    expect(await count(db, "teams")).toBe(2);
    expect(await count(db, "divisions")).toBe(1);
    expect(await count(db, "leagues")).toBe(1);
  });
});
