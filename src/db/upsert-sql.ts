/**
 * The set-based match upsert: one statement for a whole batch (`jsonb_to_recordset` of one JSON
 * parameter), keyed on `external_match_id`. The monotonic rules live in the WHERE of
 * `DO UPDATE`, so a row the rules protect is never written (its `updated_at` stays put):
 * - `score_locked` rows never change;
 * - an observation older than the row's `observed_at` changes nothing;
 * - a `manual` postponed/cancelled status survives unless the new data has a score or a new date;
 * - identical data is not written.
 */

/** Columns of `matches` that the scraper's data determines (what "changed" compares). */
const DATA_COLUMNS = [
  "league_id",
  "home_team_id",
  "away_team_id",
  "match_date",
  "scheduled_kickoff",
  "match_time",
  "home_score",
  "away_score",
  "home_penalty_score",
  "away_penalty_score",
  "season_id",
  "age_group_id",
  "division_id",
  "match_type_id",
  "location",
  "source",
  "notes",
] as const;

/** One row of the statement's input, as JSON. */
export interface UpsertRow {
  external_match_id: string;
  league_id: number;
  home_team_id: number;
  away_team_id: number;
  match_date: string;
  scheduled_kickoff: string | null;
  match_time: string | null;
  home_score: number | null;
  away_score: number | null;
  home_penalty_score: number | null;
  away_penalty_score: number | null;
  match_status: string;
  season_id: number;
  age_group_id: number;
  division_id: number | null;
  match_type_id: number;
  location: string | null;
  source: string | null;
  notes: string | null;
  observed_at: string;
  last_task_id: string;
  raw: unknown;
}

const RECORD_TYPE = `x(
  external_match_id text, league_id int, home_team_id int, away_team_id int, match_date date,
  scheduled_kickoff timestamptz, match_time text, home_score int, away_score int,
  home_penalty_score int, away_penalty_score int, match_status text, season_id int,
  age_group_id int, division_id int, match_type_id int, location text, source text, notes text,
  observed_at timestamptz, last_task_id text, raw jsonb)`;

const INSERT_COLUMNS = ["external_match_id", ...DATA_COLUMNS, "match_status", "observed_at", "last_task_id", "raw"];

/** True when a person's postponed/cancelled status must survive this observation. */
const KEEP_MANUAL_STATUS = `(m.status_set_by = 'manual' AND m.match_status IN ('postponed', 'cancelled')
  AND EXCLUDED.home_score IS NULL AND EXCLUDED.match_date = m.match_date)`;

const NEW_STATUS = `CASE WHEN ${KEEP_MANUAL_STATUS} THEN m.match_status ELSE EXCLUDED.match_status END`;

/** $1: JSON array of UpsertRow. Returns rows written: id, external_match_id, inserted. */
export const UPSERT_MATCHES_SQL = `
INSERT INTO matches AS m (${INSERT_COLUMNS.join(", ")})
SELECT ${INSERT_COLUMNS.map((c) => `x.${c}`).join(", ")}
  FROM jsonb_to_recordset($1::jsonb) AS ${RECORD_TYPE}
 ORDER BY x.external_match_id
ON CONFLICT (external_match_id) DO UPDATE SET
  ${DATA_COLUMNS.map((c) => `${c} = EXCLUDED.${c}`).join(",\n  ")},
  match_status = ${NEW_STATUS},
  status_set_by = CASE WHEN ${KEEP_MANUAL_STATUS} THEN m.status_set_by ELSE 'scraper' END,
  observed_at = EXCLUDED.observed_at,
  last_task_id = EXCLUDED.last_task_id,
  raw = EXCLUDED.raw,
  updated_at = now()
WHERE NOT m.score_locked
  AND (m.observed_at IS NULL OR EXCLUDED.observed_at >= m.observed_at)
  AND (ROW(${DATA_COLUMNS.map((c) => `m.${c}`).join(", ")}, m.match_status)
       IS DISTINCT FROM ROW(${DATA_COLUMNS.map((c) => `EXCLUDED.${c}`).join(", ")}, ${NEW_STATUS}))
RETURNING m.id, m.external_match_id, (m.xmax = 0) AS inserted`;

/**
 * Why rows the upsert did not write were left alone. Runs after the upsert, in the same
 * transaction, on rows the upsert locked; $1: JSON array of {external_match_id, observed_at, match_status}.
 */
export const UNCHANGED_REASONS_SQL = `
SELECT m.id, m.external_match_id, m.score_locked AS locked,
       coalesce(m.observed_at > x.observed_at, false) AS stale,
       (m.status_set_by = 'manual' AND m.match_status IN ('postponed', 'cancelled') AND m.match_status <> x.match_status) AS manual
  FROM jsonb_to_recordset($1::jsonb) AS x(external_match_id text, observed_at timestamptz, match_status text)
  JOIN matches m ON m.external_match_id = x.external_match_id`;
