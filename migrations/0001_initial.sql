-- matchflow schema v1. Table names follow the original system (leagues, seasons, teams, matches ...).
-- Names are looked up through `name_key` = lower(trim(collapse whitespace)), computed by the database
-- itself (a generated column), so every writer - the worker, an operator's INSERT - agrees on it.
-- Lookups compare name_key with `=`: never LIKE/ILIKE, where `%` and `_` would be wildcards.

CREATE FUNCTION mf_name_key(name text) RETURNS text
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  AS $$ SELECT lower(btrim(regexp_replace(name, '\s+', ' ', 'g'))) $$;

CREATE TABLE leagues (
  id         serial PRIMARY KEY,
  name       text NOT NULL CHECK (btrim(name) <> '' AND char_length(name) <= 200),
  name_key   text GENERATED ALWAYS AS (mf_name_key(name)) STORED,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT leagues_name_key_unique UNIQUE (name_key)
);

CREATE TABLE seasons (
  id         serial PRIMARY KEY,
  name       text NOT NULL UNIQUE CHECK (name ~ '^\d{4}-\d{2}$'),
  start_date date NOT NULL,
  end_date   date NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK (start_date <= end_date)
);

CREATE TABLE age_groups (
  id         serial PRIMARY KEY,
  name       text NOT NULL CHECK (btrim(name) <> '' AND char_length(name) <= 50),
  name_key   text GENERATED ALWAYS AS (mf_name_key(name)) STORED,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT age_groups_name_key_unique UNIQUE (name_key)
);

CREATE TABLE divisions (
  id         serial PRIMARY KEY,
  league_id  integer NOT NULL REFERENCES leagues (id),
  name       text NOT NULL CHECK (btrim(name) <> '' AND char_length(name) <= 200),
  name_key   text GENERATED ALWAYS AS (mf_name_key(name)) STORED,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT divisions_league_name_key_unique UNIQUE (league_id, name_key)
);

CREATE TABLE match_types (
  id         serial PRIMARY KEY,
  name       text NOT NULL CHECK (btrim(name) <> '' AND char_length(name) <= 100),
  name_key   text GENERATED ALWAYS AS (mf_name_key(name)) STORED,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT match_types_name_key_unique UNIQUE (name_key)
);

CREATE TABLE teams (
  id         serial PRIMARY KEY,
  league_id  integer NOT NULL REFERENCES leagues (id),
  name       text NOT NULL CHECK (btrim(name) <> '' AND char_length(name) <= 200),
  name_key   text GENERATED ALWAYS AS (mf_name_key(name)) STORED,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT teams_league_name_key_unique UNIQUE (league_id, name_key)
);

-- Another spelling of a team ("IFA" for "Intercontinental Football Academy of New England"),
-- consulted before teams.name_key. Unique per league: one alias names one team.
CREATE TABLE team_aliases (
  id         serial PRIMARY KEY,
  league_id  integer NOT NULL REFERENCES leagues (id),
  alias      text NOT NULL CHECK (btrim(alias) <> '' AND char_length(alias) <= 200),
  alias_key  text GENERATED ALWAYS AS (mf_name_key(alias)) STORED,
  team_id    integer NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT team_aliases_league_alias_key_unique UNIQUE (league_id, alias_key)
);
CREATE INDEX team_aliases_team_id_idx ON team_aliases (team_id);

CREATE TABLE matches (
  id                  bigserial PRIMARY KEY,
  external_match_id   text NOT NULL CHECK (btrim(external_match_id) <> '' AND char_length(external_match_id) <= 100),
  league_id           integer NOT NULL REFERENCES leagues (id),
  home_team_id        integer NOT NULL REFERENCES teams (id),
  away_team_id        integer NOT NULL REFERENCES teams (id),
  match_date          date NOT NULL,
  scheduled_kickoff   timestamptz,
  match_time          text CHECK (match_time ~ '^([01]\d|2[0-3]):[0-5]\d$'),
  home_score          integer CHECK (home_score >= 0),
  away_score          integer CHECK (away_score >= 0),
  home_penalty_score  integer CHECK (home_penalty_score >= 0),
  away_penalty_score  integer CHECK (away_penalty_score >= 0),
  match_status        text NOT NULL DEFAULT 'scheduled'
                      CHECK (match_status IN ('scheduled', 'tbd', 'completed', 'postponed', 'cancelled')),
  season_id           integer NOT NULL REFERENCES seasons (id),
  age_group_id        integer NOT NULL REFERENCES age_groups (id),
  division_id         integer REFERENCES divisions (id),
  match_type_id       integer NOT NULL REFERENCES match_types (id),
  location            text CHECK (char_length(location) <= 500),
  source              text CHECK (char_length(source) <= 100),
  notes               text CHECK (char_length(notes) <= 2000),
  score_locked        boolean NOT NULL DEFAULT false,
  status_set_by       text NOT NULL DEFAULT 'scraper' CHECK (status_set_by IN ('scraper', 'manual')),
  -- The newest observation (scraped_at, or delivery time) applied: older ones change nothing.
  observed_at         timestamptz,
  last_task_id        text,
  -- The match exactly as received, unknown fields included.
  raw                 jsonb,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT matches_external_match_id_unique UNIQUE (external_match_id),
  CONSTRAINT matches_teams_differ CHECK (home_team_id <> away_team_id),
  CONSTRAINT matches_scores_together CHECK ((home_score IS NULL) = (away_score IS NULL)),
  CONSTRAINT matches_penalties_together CHECK ((home_penalty_score IS NULL) = (away_penalty_score IS NULL)),
  CONSTRAINT matches_penalties_after_level_score CHECK (
    home_penalty_score IS NULL OR (home_score IS NOT NULL AND home_score = away_score)
  ),
  CONSTRAINT matches_completed_has_score CHECK (match_status <> 'completed' OR home_score IS NOT NULL)
);
CREATE INDEX matches_match_date_idx ON matches (match_date DESC);
CREATE INDEX matches_home_team_id_idx ON matches (home_team_id);
CREATE INDEX matches_away_team_id_idx ON matches (away_team_id);
CREATE INDEX matches_season_id_idx ON matches (season_id);

-- A message that could not become a row: one row per message (task id), repeats counted.
CREATE TABLE ingest_failures (
  id                 bigserial PRIMARY KEY,
  reason_code        text NOT NULL,
  detail             text NOT NULL DEFAULT '',
  task_id            text,
  message_id         text,
  external_match_id  text,
  raw_payload        jsonb,
  -- The payload as text when it was not JSON at all.
  raw_text           text,
  first_seen         timestamptz NOT NULL DEFAULT now(),
  last_seen          timestamptz NOT NULL DEFAULT now(),
  count              integer NOT NULL DEFAULT 1 CHECK (count >= 1),
  resolved_at        timestamptz
);
CREATE UNIQUE INDEX ingest_failures_task_id_unique ON ingest_failures (task_id);
CREATE UNIQUE INDEX ingest_failures_message_id_unique ON ingest_failures (message_id)
  WHERE task_id IS NULL AND message_id IS NOT NULL;
CREATE INDEX ingest_failures_unresolved_idx ON ingest_failures (last_seen DESC) WHERE resolved_at IS NULL;
