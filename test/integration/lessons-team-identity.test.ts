/**
 * Lessons, "team identity": names are resolved per league, with an alias table. An alias is
 * looked up by (league, alias), so one naming another league's team made that league's matches
 * land on a team of another league ("IFA" of Homegrown stored as the Academy "IFA"). The
 * database refuses such an alias, and the migration that adds the rule names the ones already
 * there instead of failing on a bare constraint error.
 */
import { describe, expect, it } from "vitest";
import type { Database } from "../../src/db/database.js";
import { migrate } from "../../src/db/migrate.js";
import { createNameResolver, isResolved, resolveInTransaction } from "../../src/db/resolve.js";
import { migrationsBefore } from "../helpers/migrations.js";
import { BACKENDS, makeMatch, useBackend } from "./db-backends.js";

const ALIAS_MIGRATION = "0005_alias_team_same_league.sql";

async function id(db: Database, sql: string, params: unknown[]): Promise<number> {
  const { rows } = await db.query<{ id: number }>(`${sql} RETURNING id`, params);
  return Number(rows[0]?.id);
}

/** Two leagues, each with its own "IFA". */
async function twoLeagues(db: Database): Promise<{ homegrown: number; academy: number; homegrownIfa: number; academyIfa: number }> {
  const homegrown = await id(db, "INSERT INTO leagues (name) VALUES ('Homegrown')", []);
  const academy = await id(db, "INSERT INTO leagues (name) VALUES ('Academy')", []);
  const homegrownIfa = await id(db, "INSERT INTO teams (league_id, name) VALUES ($1, 'Intercontinental Football Academy of New England')", [homegrown]);
  const academyIfa = await id(db, "INSERT INTO teams (league_id, name) VALUES ($1, 'Intercontinental Football Academy of New England')", [academy]);
  return { homegrown, academy, homegrownIfa, academyIfa };
}

describe.each(BACKENDS)("lessons: team identity -- aliases stay in their league, on %s", (kind) => {
  const backend = useBackend(kind);

  it("refuses an alias whose team is of another league (a foreign key, 23503); the league's own team is taken", async () => {
    const { db } = backend();
    const t = await twoLeagues(db);
    await expect(db.query("INSERT INTO team_aliases (league_id, alias, team_id) VALUES ($1, 'IFA', $2)", [t.homegrown, t.academyIfa])).rejects.toMatchObject({ code: "db_constraint", message: expect.stringContaining("team_aliases_team_in_league") as unknown });
    await db.query("INSERT INTO team_aliases (league_id, alias, team_id) VALUES ($1, 'IFA', $2)", [t.homegrown, t.homegrownIfa]);

    const [m] = await resolveInTransaction(db, createNameResolver({ mode: "create" }), (_tx, resolve) => resolve([makeMatch({ league: "Homegrown", home_team: "IFA", away_team: "Intercontinental Football Academy of New England" })]));
    // Through the alias, "IFA" is the Homegrown team itself: one team, not two leagues mixed.
    expect(m && !isResolved(m) && m.code).toBe("same_team");
    // Moving a team to another league takes its aliases with it.
    await db.query("UPDATE teams SET name = 'IFA Old', league_id = $1 WHERE id = $2", [t.academy, t.homegrownIfa]);
    expect((await db.query<{ league_id: number }>("SELECT league_id FROM team_aliases WHERE team_id = $1", [t.homegrownIfa])).rows).toEqual([{ league_id: t.academy }]);
  });
});

describe.each(BACKENDS)(`lessons: migration ${ALIAS_MIGRATION} on %s`, (kind) => {
  const backend = useBackend(kind, { migrated: false });

  it("stops, naming them, when aliases already cross leagues; applies once they are mended", async () => {
    const { db } = backend();
    const before = await migrationsBefore(ALIAS_MIGRATION);
    try {
      await migrate(db, { dir: before.dir });
      const t = await twoLeagues(db);
      await db.query("INSERT INTO team_aliases (league_id, alias, team_id) VALUES ($1, 'IFA', $2)", [t.homegrown, t.academyIfa]);

      await expect(migrate(db)).rejects.toThrow(/team aliases name a team of another league: 'IFA' \(alias of league \d+, team \d+ of league \d+\)/);
      await db.query("UPDATE team_aliases SET team_id = $1", [t.homegrownIfa]);
      expect((await migrate(db)).applied).toEqual(before.pending);
      expect(before.pending[0]).toBe(ALIAS_MIGRATION);
    } finally {
      await before.remove();
    }
  });
});
