/**
 * Migration 0003: names stored with invisible differences before the contract canonicalised
 * text (no-break and zero-width spaces, decomposed accents, fullwidth letters) are merged into
 * one row each, their matches repointed, and the database keys names as the contract does.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { migrate } from "../../src/db/migrate.js";
import { lookupIds } from "../../src/db/resolve-sql.js";
import type { Database } from "../../src/db/database.js";
import { migrationsBefore, type MigrationsBefore } from "../helpers/migrations.js";
import { BACKENDS, useBackend } from "./db-backends.js";

const NAME_MIGRATION = "0003_canonical_name_keys.sql";

async function one<T>(db: Database, sql: string, params: unknown[] = []): Promise<T> {
  const { rows } = await db.query<T>(sql, params);
  if (rows.length !== 1) throw new Error(`expected one row from ${sql}, got ${rows.length}`);
  return rows[0] as T;
}

async function id(db: Database, sql: string, params: unknown[]): Promise<number> {
  return Number((await one<{ id: number }>(db, `${sql} RETURNING id`, params)).id);
}

/** What a database written by an older worker holds: each spelling a row of its own. */
async function seedSpellings(db: Database) {
  const league = (name: string) => id(db, "INSERT INTO leagues (name) VALUES ($1)", [name]);
  const team = (leagueId: number, name: string) => id(db, "INSERT INTO teams (league_id, name) VALUES ($1, $2)", [leagueId, name]);
  const l1 = await league("Homegrown");
  const l2 = await league("Homegrown\u200b"); // zero-width space
  const season = await id(db, "INSERT INTO seasons (name, start_date, end_date) VALUES ('2026-27', '2026-08-01', '2027-07-31')", []);
  const u14 = await id(db, "INSERT INTO age_groups (name) VALUES ('U14')", []);
  const u14Wide = await id(db, "INSERT INTO age_groups (name) VALUES ($1)", ["\uff35\uff11\uff14"]); // fullwidth "U14"
  const league_ = await id(db, "INSERT INTO match_types (name) VALUES ('League')", []);
  const d1 = await id(db, "INSERT INTO divisions (league_id, name) VALUES ($1, 'Northeast')", [l1]);
  const d2 = await id(db, "INSERT INTO divisions (league_id, name) VALUES ($1, 'Northeast')", [l2]); // merges with its league
  const oak = await team(l1, "Oakwood SC");
  const oakNbsp = await team(l1, "Oakwood\u00a0SC");
  const cafeDecomposed = await team(l1, "Cafe\u0301 United");
  const cafe = await team(l1, "Caf\u00e9 United");
  const oakOther = await team(l2, "Oakwood SC");
  const river = await team(l2, "River FC");
  await db.query("INSERT INTO team_aliases (league_id, alias, team_id) VALUES ($1, 'OSC', $2), ($3, 'OSC', $4)", [l1, oakNbsp, l2, oakOther]);
  const match = (ext: string, leagueId: number, home: number, away: number, ageGroup: number, division: number | null) =>
    db.query(
      `INSERT INTO matches (external_match_id, league_id, home_team_id, away_team_id, match_date, season_id, age_group_id, division_id, match_type_id)
       VALUES ($1, $2, $3, $4, '2026-10-03', $5, $6, $7, $8)`,
      [ext, leagueId, home, away, season, ageGroup, division, league_],
    );
  await match("m1", l1, oak, cafeDecomposed, u14, d1);
  await match("m2", l1, oakNbsp, cafe, u14Wide, null);
  await match("m3", l2, oakOther, river, u14, d2);
  return { l1, u14, d1, oak, cafeDecomposed, river };
}

describe.each(BACKENDS)(`migration ${NAME_MIGRATION} on %s`, (kind) => {
  const backend = useBackend(kind, { migrated: false });
  let before: MigrationsBefore;
  beforeEach(async () => {
    before = await migrationsBefore(NAME_MIGRATION);
    await migrate(backend().db, { dir: before.dir });
  });
  afterEach(async () => {
    await before.remove();
  });

  it("merges every spelling into its oldest row, repoints the matches and stores canonical names", async () => {
    const db = backend().db;
    const ids = await seedSpellings(db);
    expect((await migrate(db)).applied).toEqual(before.pending);
    expect(before.pending[0]).toBe(NAME_MIGRATION);

    const { rows: leagues } = await db.query<{ id: number; name: string }>("SELECT id, name FROM leagues");
    expect(leagues.map((r) => [Number(r.id), r.name])).toEqual([[ids.l1, "Homegrown"]]);
    const { rows: teams } = await db.query<{ id: number; league_id: number; name: string }>("SELECT id, league_id, name FROM teams ORDER BY id");
    expect(teams.map((r) => [Number(r.id), Number(r.league_id), r.name])).toEqual([
      [ids.oak, ids.l1, "Oakwood SC"],
      [ids.cafeDecomposed, ids.l1, "Caf\u00e9 United"],
      [ids.river, ids.l1, "River FC"],
    ]);
    const { rows: groups } = await db.query<{ id: number }>("SELECT id FROM age_groups");
    expect(groups.map((r) => Number(r.id))).toEqual([ids.u14]);
    const { rows: divisions } = await db.query<{ id: number }>("SELECT id FROM divisions");
    expect(divisions.map((r) => Number(r.id))).toEqual([ids.d1]);
    const { rows: aliases } = await db.query<{ league_id: number; team_id: number }>("SELECT league_id, team_id FROM team_aliases");
    expect(aliases.map((r) => [Number(r.league_id), Number(r.team_id)])).toEqual([[ids.l1, ids.oak]]);

    const { rows: matches } = await db.query<Record<string, number | null>>(
      "SELECT external_match_id, league_id, home_team_id, away_team_id, age_group_id, division_id FROM matches ORDER BY external_match_id",
    );
    expect(matches.map((m) => [m.external_match_id, ...[m.league_id, m.home_team_id, m.away_team_id, m.age_group_id, m.division_id].map((v) => (v === null ? null : Number(v)))])).toEqual([
      ["m1", ids.l1, ids.oak, ids.cafeDecomposed, ids.u14, ids.d1],
      ["m2", ids.l1, ids.oak, ids.cafeDecomposed, ids.u14, null],
      ["m3", ids.l1, ids.oak, ids.river, ids.u14, ids.d1],
    ]);
  });

  it("keys names as the contract does: a second spelling is refused, and looked up as the first", async () => {
    const db = backend().db;
    const ids = await seedSpellings(db);
    await migrate(db);
    await expect(db.query("INSERT INTO teams (league_id, name) VALUES ($1, $2)", [ids.l1, "Oakwood\u00a0\u00a0sc\u200b"])).rejects.toThrow(/teams_league_name_key_unique/);
    const found = await lookupIds(db, "team", [
      { scope: ids.l1, name: "OAKWOOD SC" },
      { scope: ids.l1, name: "Cafe\u0301 United" },
      { scope: ids.l1, name: "\uff32iver FC" },
    ]);
    expect(found.map((f) => f.id).sort((a, b) => a - b)).toEqual([ids.oak, ids.cafeDecomposed, ids.river].sort((a, b) => a - b));
    expect((await one<{ k: string }>(db, "SELECT mf_name_key($1) AS k", ["\ufeff Ｕ14\u00a0"])).k).toBe("u14");
  });

  it("stops, changing nothing, when a match's two teams are spellings of one team", async () => {
    const db = backend().db;
    const ids = await seedSpellings(db);
    await db.query(
      `INSERT INTO matches (external_match_id, league_id, home_team_id, away_team_id, match_date, season_id, age_group_id, match_type_id)
       SELECT 'self-1', league_id, $1, (SELECT id FROM teams WHERE name = $2), match_date, season_id, age_group_id, match_type_id FROM matches WHERE external_match_id = 'm1'`,
      [ids.oak, "Oakwood\u00a0SC"],
    );
    await expect(migrate(db)).rejects.toThrow(/match\(es\) self-1 the home and away teams are two spellings of one team/);
    expect(Number((await one<{ n: number }>(db, "SELECT count(*) AS n FROM teams")).n)).toBe(6);
    expect(Number((await one<{ n: number }>(db, "SELECT count(*) AS n FROM schema_migrations WHERE name = $1", [NAME_MIGRATION])).n)).toBe(0);
  });
});
