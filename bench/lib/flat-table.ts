/**
 * Bench-only SQL, created in the benchmark's own database (never a migration):
 * - `bench_flat_matches`: the MatchData fields as columns, keyed on external_match_id: the
 *   "same table shape" the Celery baseline and the raw ceiling write, one row per match with
 *   no name resolution (less work than matchflow's normalised `matches`);
 * - `bench_commit_times` and a deferred constraint trigger: a deferred trigger fires while the
 *   transaction commits, so `clock_timestamp()` there is the commit time of each row, to within
 *   the commit's own flush. Installed only for the latency runs (it costs a row per write).
 */

export const FLAT_TABLE_SQL = `
CREATE TABLE IF NOT EXISTS bench_flat_matches (
  external_match_id  text PRIMARY KEY,
  home_team          text NOT NULL,
  away_team          text NOT NULL,
  match_date         date NOT NULL,
  season             text,
  age_group          text NOT NULL,
  match_type         text NOT NULL,
  league             text,
  division           text,
  home_score         integer,
  away_score         integer,
  home_penalty_score integer,
  away_penalty_score integer,
  match_status       text,
  scheduled_kickoff  timestamptz,
  location           text,
  source             text,
  scraped_at         timestamptz,
  raw                jsonb,
  task_ms            real,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS bench_commit_times (
  external_match_id  text NOT NULL,
  committed_at       timestamptz NOT NULL
);
CREATE OR REPLACE FUNCTION bench_note_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO bench_commit_times VALUES (NEW.external_match_id, clock_timestamp());
  RETURN NULL;
END $$;
`;

/** Adds the commit-time trigger to a table with an external_match_id column. */
export function commitTriggerSql(table: "matches" | "bench_flat_matches"): string {
  return `DROP TRIGGER IF EXISTS bench_commit_time ON ${table};
CREATE CONSTRAINT TRIGGER bench_commit_time AFTER INSERT OR UPDATE ON ${table}
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bench_note_commit();`;
}

/** The flat columns in insert order (the raw ceiling's jsonb_to_recordset and the Celery task). */
export const FLAT_COLUMNS = [
  "external_match_id", "home_team", "away_team", "match_date", "season", "age_group", "match_type",
  "league", "division", "home_score", "away_score", "home_penalty_score", "away_penalty_score",
  "match_status", "scheduled_kickoff", "location", "source", "scraped_at",
] as const;

/** One statement for a whole batch: $1 is a JSON array of matches. */
export const FLAT_BATCH_UPSERT_SQL = `
INSERT INTO bench_flat_matches AS f (${FLAT_COLUMNS.join(", ")}, raw)
SELECT ${FLAT_COLUMNS.map((c) => `x.${c}`).join(", ")}, x.raw
  FROM jsonb_to_recordset($1::jsonb) AS x(
    external_match_id text, home_team text, away_team text, match_date date, season text,
    age_group text, match_type text, league text, division text, home_score int, away_score int,
    home_penalty_score int, away_penalty_score int, match_status text, scheduled_kickoff timestamptz,
    location text, source text, scraped_at timestamptz, raw jsonb)
ON CONFLICT (external_match_id) DO UPDATE SET
  ${FLAT_COLUMNS.slice(1).map((c) => `${c} = EXCLUDED.${c}`).join(", ")}, raw = EXCLUDED.raw, updated_at = now()`;
