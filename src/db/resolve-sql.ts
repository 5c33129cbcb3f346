/**
 * The set-based statements behind name resolution: one statement per kind for any number of
 * distinct names (`unnest` of arrays), so a batch of 500 matches costs a handful of round trips.
 * Names are compared through `mf_name_key()` (the same function that fills `name_key`) with `=`:
 * case- and space-insensitive, and literal (`%` and `_` are ordinary characters).
 */
import type { Queryable } from "./database.js";

export type NameKind = "league" | "season" | "age_group" | "division" | "match_type" | "team";

/** A name to resolve; `scope` is the league id for per-league kinds (division, team). */
export interface NameKey {
  scope: number | null;
  name: string;
}

export interface FoundId extends NameKey {
  id: number;
}

interface Row {
  scope: number | string | null;
  name: string;
  id: number | string;
}

const GLOBAL_TABLES = { league: "leagues", age_group: "age_groups", match_type: "match_types" } as const;

function toFound(rows: Row[]): FoundId[] {
  return rows.map((r) => ({ scope: r.scope === null ? null : Number(r.scope), name: r.name, id: Number(r.id) }));
}

/** The name as stored: trimmed, inner whitespace collapsed (case kept as first seen). */
const TIDY_NAME = "btrim(regexp_replace(n.name, '\\s+', ' ', 'g'))";

const names = (keys: readonly NameKey[]) => keys.map((k) => k.name);
const scopes = (keys: readonly NameKey[]) => keys.map((k) => k.scope ?? 0);

/** Existing ids for `keys`; keys without a row are absent from the result. */
export async function lookupIds(tx: Queryable, kind: NameKind, keys: readonly NameKey[]): Promise<FoundId[]> {
  if (keys.length === 0) return [];
  switch (kind) {
    case "league":
    case "age_group":
    case "match_type": {
      const { rows } = await tx.query<Row>(
        `SELECT NULL::int AS scope, n.name, t.id FROM unnest($1::text[]) AS n(name) JOIN ${GLOBAL_TABLES[kind]} t ON t.name_key = mf_name_key(n.name)`,
        [names(keys)],
      );
      return toFound(rows);
    }
    case "season": {
      const { rows } = await tx.query<Row>(
        "SELECT NULL::int AS scope, n.name, s.id FROM unnest($1::text[]) AS n(name) JOIN seasons s ON s.name = btrim(n.name)",
        [names(keys)],
      );
      return toFound(rows);
    }
    case "division": {
      const { rows } = await tx.query<Row>(
        `SELECT n.scope, n.name, d.id FROM unnest($1::int[], $2::text[]) AS n(scope, name)
           JOIN divisions d ON d.league_id = n.scope AND d.name_key = mf_name_key(n.name)`,
        [scopes(keys), names(keys)],
      );
      return toFound(rows);
    }
    case "team": {
      // An alias wins over a team's own name: aliases exist to merge spellings into one team.
      const { rows } = await tx.query<Row>(
        `SELECT n.scope, n.name, coalesce(a.team_id, t.id) AS id
           FROM unnest($1::int[], $2::text[]) AS n(scope, name)
           LEFT JOIN team_aliases a ON a.league_id = n.scope AND a.alias_key = mf_name_key(n.name)
           LEFT JOIN teams t ON t.league_id = n.scope AND t.name_key = mf_name_key(n.name)
          WHERE coalesce(a.team_id, t.id) IS NOT NULL`,
        [scopes(keys), names(keys)],
      );
      return toFound(rows);
    }
  }
}

/**
 * Creates missing rows race-free: `ON CONFLICT DO NOTHING` waits for a concurrent transaction
 * inserting the same key and then skips, so two resolutions of one new name give one row. The
 * caller looks the ids up again afterwards (a new statement sees rows committed meanwhile).
 * Rows are inserted in key order so two batches with overlapping names lock in the same order;
 * of several spellings of one name, the first in the batch is the one stored.
 */
export async function insertMissing(tx: Queryable, kind: NameKind, keys: readonly NameKey[], seasonBounds?: (name: string) => { startDate: string; endDate: string }): Promise<void> {
  if (keys.length === 0) return;
  switch (kind) {
    case "league":
    case "age_group":
    case "match_type":
      await tx.query(
        `INSERT INTO ${GLOBAL_TABLES[kind]} (name)
         SELECT DISTINCT ON (mf_name_key(n.name)) ${TIDY_NAME} FROM unnest($1::text[]) WITH ORDINALITY AS n(name, ord)
          ORDER BY mf_name_key(n.name), n.ord
         ON CONFLICT (name_key) DO NOTHING`,
        [names(keys)],
      );
      return;
    case "season": {
      if (!seasonBounds) throw new Error("season bounds are required to create seasons");
      const bounds = keys.map((k) => seasonBounds(k.name.trim()));
      await tx.query(
        `INSERT INTO seasons (name, start_date, end_date)
         SELECT DISTINCT ON (btrim(n.name)) btrim(n.name), n.start_date, n.end_date
           FROM unnest($1::text[], $2::date[], $3::date[]) AS n(name, start_date, end_date)
          ORDER BY btrim(n.name)
         ON CONFLICT (name) DO NOTHING`,
        [names(keys), bounds.map((b) => b.startDate), bounds.map((b) => b.endDate)],
      );
      return;
    }
    case "division":
    case "team": {
      const table = kind === "team" ? "teams" : "divisions";
      await tx.query(
        `INSERT INTO ${table} (league_id, name)
         SELECT DISTINCT ON (n.scope, mf_name_key(n.name)) n.scope, ${TIDY_NAME}
           FROM unnest($1::int[], $2::text[]) WITH ORDINALITY AS n(scope, name, ord)
          ORDER BY n.scope, mf_name_key(n.name), n.ord
         ON CONFLICT (league_id, name_key) DO NOTHING`,
        [scopes(keys), names(keys)],
      );
      return;
    }
  }
}
