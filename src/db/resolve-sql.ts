/**
 * The set-based statements behind name resolution: one statement per kind for any number of
 * distinct names (`unnest` of arrays), so a batch of 500 matches costs a handful of round trips.
 * Each kind's lookup is written once (`LOOKUP`, a query over the input rows `n`) and serves both
 * the plain lookup and the find-or-create statement.
 * Names are compared through `mf_name_key()` (the same function that fills `name_key`) with `=`:
 * canonical (Unicode NFKC, zero-width characters removed: migration 0003), case- and
 * space-insensitive, and literal (`%` and `_` are ordinary characters).
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

function toFound(rows: Row[]): FoundId[] {
  return rows.map((r) => ({ scope: r.scope === null ? null : Number(r.scope), name: r.name, id: Number(r.id) }));
}

/** The name as stored: trimmed, inner whitespace collapsed (case kept as first seen). */
const TIDY_NAME = "btrim(regexp_replace(n.name, '\\s+', ' ', 'g'))";

const names = (keys: readonly NameKey[]) => keys.map((k) => k.name);
const scopes = (keys: readonly NameKey[]) => keys.map((k) => k.scope ?? 0);

/** Kinds whose names are unique per league (their rows carry `league_id`, their keys a scope). */
function perLeague(kind: NameKind): boolean {
  return kind === "division" || kind === "team";
}

/** The input rows `n` of a lookup: the names, and for per-league kinds their league ids. */
function lookupInput(kind: NameKind): string {
  return perLeague(kind) ? "unnest($1::int[], $2::text[]) AS n(scope, name)" : "unnest($1::text[]) AS n(name)";
}

function lookupParams(kind: NameKind, keys: readonly NameKey[]): unknown[] {
  return perLeague(kind) ? [scopes(keys), names(keys)] : [names(keys)];
}

/** Existing ids for the input rows `n`: one row (scope, name, id) per input name that has one. */
const LOOKUP: Record<NameKind, string> = {
  league: "SELECT NULL::int AS scope, n.name, t.id FROM n JOIN leagues t ON t.name_key = mf_name_key(n.name)",
  age_group: "SELECT NULL::int AS scope, n.name, t.id FROM n JOIN age_groups t ON t.name_key = mf_name_key(n.name)",
  match_type: "SELECT NULL::int AS scope, n.name, t.id FROM n JOIN match_types t ON t.name_key = mf_name_key(n.name)",
  season: "SELECT NULL::int AS scope, n.name, s.id FROM n JOIN seasons s ON s.name = btrim(n.name)",
  division: "SELECT n.scope, n.name, d.id FROM n JOIN divisions d ON d.league_id = n.scope AND d.name_key = mf_name_key(n.name)",
  // An alias wins over a team's own name: aliases exist to merge spellings into one team.
  team: `SELECT n.scope, n.name, coalesce(a.team_id, t.id) AS id FROM n
           LEFT JOIN team_aliases a ON a.league_id = n.scope AND a.alias_key = mf_name_key(n.name)
           LEFT JOIN teams t ON t.league_id = n.scope AND t.name_key = mf_name_key(n.name)
          WHERE coalesce(a.team_id, t.id) IS NOT NULL`,
};

/** Existing ids for `keys`; keys without a row are absent from the result. */
export async function lookupIds(tx: Queryable, kind: NameKind, keys: readonly NameKey[]): Promise<FoundId[]> {
  if (keys.length === 0) return [];
  const { rows } = await tx.query<Row>(`WITH n AS (SELECT * FROM ${lookupInput(kind)}) ${LOOKUP[kind]}`, lookupParams(kind, keys));
  return toFound(rows);
}

/**
 * How each kind creates its missing names from the input rows `n` (which carry `ord`, the
 * position in the batch): of several spellings of one name, the first in the batch is stored;
 * rows go in key order, so two batches with overlapping names lock in the same order. Each
 * returns the created rows' id and key, and `joinCreated` maps them back to the input names.
 */
const CREATE: Record<NameKind, { input: string; insert: string; joinCreated: string }> = {
  league: globalCreate("leagues"),
  age_group: globalCreate("age_groups"),
  match_type: globalCreate("match_types"),
  season: {
    input: "unnest($1::text[], $2::date[], $3::date[]) WITH ORDINALITY AS n(name, start_date, end_date, ord)",
    insert: `INSERT INTO seasons (name, start_date, end_date)
             SELECT DISTINCT ON (btrim(n.name)) btrim(n.name), n.start_date, n.end_date FROM n WHERE NOT EXISTS (SELECT 1 FROM found f WHERE f.name = n.name)
              ORDER BY btrim(n.name), n.ord
             ON CONFLICT (name) DO NOTHING RETURNING id, name`,
    joinCreated: "c.name = btrim(n.name)",
  },
  division: scopedCreate("divisions"),
  team: scopedCreate("teams"),
};

function globalCreate(table: string): { input: string; insert: string; joinCreated: string } {
  return {
    input: "unnest($1::text[]) WITH ORDINALITY AS n(name, ord)",
    insert: `INSERT INTO ${table} (name)
             SELECT DISTINCT ON (mf_name_key(n.name)) ${TIDY_NAME} FROM n WHERE NOT EXISTS (SELECT 1 FROM found f WHERE f.name = n.name)
              ORDER BY mf_name_key(n.name), n.ord
             ON CONFLICT (name_key) DO NOTHING RETURNING id, name_key`,
    joinCreated: "c.name_key = mf_name_key(n.name)",
  };
}

function scopedCreate(table: string): { input: string; insert: string; joinCreated: string } {
  return {
    input: "unnest($1::int[], $2::text[]) WITH ORDINALITY AS n(scope, name, ord)",
    insert: `INSERT INTO ${table} (league_id, name)
             SELECT DISTINCT ON (n.scope, mf_name_key(n.name)) n.scope, ${TIDY_NAME} FROM n
              WHERE NOT EXISTS (SELECT 1 FROM found f WHERE f.scope = n.scope AND f.name = n.name)
              ORDER BY n.scope, mf_name_key(n.name), n.ord
             ON CONFLICT (league_id, name_key) DO NOTHING RETURNING id, league_id, name_key`,
    joinCreated: "c.league_id = n.scope AND c.name_key = mf_name_key(n.name)",
  };
}

/**
 * Ids for `keys`, creating the names that do not exist yet, in one statement: the lookup, then
 * an insert of what it did not find, then both results. It replaced a lookup, an insert and a
 * second lookup (three statements a kind; a batch of new names on an empty database: 6 instead
 * of 18). In the latency benchmark's first second that changed nothing measurable (ten
 * interleaved runs; docs/performance-rounds.md): there the cost is CPU contention, not round trips.
 *
 * Race-free: `ON CONFLICT DO NOTHING` waits for a concurrent transaction inserting the same key
 * and then skips, so two resolutions of one new name give one row. A name skipped that way is
 * absent from the result (this statement's snapshot predates the other's commit); the caller
 * looks it up again, and a new statement sees it. Names that exist are filtered out before the
 * insert, so they use no sequence number.
 */
export async function findOrCreate(tx: Queryable, kind: NameKind, keys: readonly NameKey[], seasonBounds: (name: string) => { startDate: string; endDate: string }): Promise<FoundId[]> {
  if (keys.length === 0) return [];
  const create = CREATE[kind];
  let params: unknown[];
  if (kind === "season") {
    const bounds = keys.map((k) => seasonBounds(k.name.trim()));
    params = [names(keys), bounds.map((b) => b.startDate), bounds.map((b) => b.endDate)];
  } else {
    params = lookupParams(kind, keys);
  }
  const { rows } = await tx.query<Row>(
    `WITH n AS (SELECT * FROM ${create.input}),
          found AS (${LOOKUP[kind]}),
          created AS (${create.insert})
     SELECT scope, name, id FROM found
     UNION ALL
     SELECT ${perLeague(kind) ? "n.scope" : "NULL::int"}, n.name, c.id FROM n JOIN created c ON ${create.joinCreated}`,
    params,
  );
  return toFound(rows);
}
