-- References from `matches` checked once per statement instead of once per row.
--
-- Why: `matches` had seven foreign keys (league, home team, away team, season, age group,
-- division, match type). PostgreSQL checks a foreign key with one query per inserted row and
-- reference (`SELECT 1 ... FOR KEY SHARE`), so a batch of 100 matches ran 700 lookups that lock
-- shared rows: measured here, 76 of the 103 µs of PostgreSQL time per inserted match (20,000
-- rows: 2,064 ms with the keys, 439 ms with the statement check below). The worker writes
-- matches in batches, so a check per statement (the batch's distinct ids against each table)
-- keeps the guarantee at a twentieth of the cost.
--
-- The guarantee stays the same in both directions:
-- 1. A row of `matches` written (INSERT or UPDATE) with an id that no reference row has is
--    refused with SQLSTATE 23503 (foreign_key_violation), as a foreign key would.
-- 2. A referenced row cannot be deleted, renumbered or truncated away. The guard first takes a
--    SHARE ROW EXCLUSIVE lock on `matches`, which waits for every transaction writing matches and
--    keeps new writers out until it ends, then looks for references with a fresh snapshot, so
--    a match committed concurrently is always seen (a foreign key gets this from row locks).
--    Deleting reference rows is an operator's rare act; the lock costs nothing in normal work.
--    Under REPEATABLE READ or SERIALIZABLE the snapshot would predate the lock, so the guard
--    refuses to run there.

ALTER TABLE matches
  DROP CONSTRAINT matches_league_id_fkey,
  DROP CONSTRAINT matches_home_team_id_fkey,
  DROP CONSTRAINT matches_away_team_id_fkey,
  DROP CONSTRAINT matches_season_id_fkey,
  DROP CONSTRAINT matches_age_group_id_fkey,
  DROP CONSTRAINT matches_division_id_fkey,
  DROP CONSTRAINT matches_match_type_id_fkey;

-- 1. Every id a statement wrote must exist. `mf_written` is the statement's transition table.
CREATE FUNCTION mf_check_match_references() RETURNS trigger
  LANGUAGE plpgsql AS $$
DECLARE
  missing record;
BEGIN
  SELECT x.kind, x.id, x.external_match_id INTO missing FROM (
    SELECT 'league' AS kind, w.league_id AS id, w.external_match_id FROM mf_written w
     WHERE NOT EXISTS (SELECT 1 FROM leagues r WHERE r.id = w.league_id)
    UNION ALL
    SELECT 'team', w.home_team_id, w.external_match_id FROM mf_written w
     WHERE NOT EXISTS (SELECT 1 FROM teams r WHERE r.id = w.home_team_id)
    UNION ALL
    SELECT 'team', w.away_team_id, w.external_match_id FROM mf_written w
     WHERE NOT EXISTS (SELECT 1 FROM teams r WHERE r.id = w.away_team_id)
    UNION ALL
    SELECT 'season', w.season_id, w.external_match_id FROM mf_written w
     WHERE NOT EXISTS (SELECT 1 FROM seasons r WHERE r.id = w.season_id)
    UNION ALL
    SELECT 'age group', w.age_group_id, w.external_match_id FROM mf_written w
     WHERE NOT EXISTS (SELECT 1 FROM age_groups r WHERE r.id = w.age_group_id)
    UNION ALL
    SELECT 'division', w.division_id, w.external_match_id FROM mf_written w
     WHERE w.division_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM divisions r WHERE r.id = w.division_id)
    UNION ALL
    SELECT 'match type', w.match_type_id, w.external_match_id FROM mf_written w
     WHERE NOT EXISTS (SELECT 1 FROM match_types r WHERE r.id = w.match_type_id)
  ) x
  LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'match % refers to % id %, which does not exist', missing.external_match_id, missing.kind, missing.id
      USING ERRCODE = 'foreign_key_violation', TABLE = 'matches';
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER matches_references_on_insert AFTER INSERT ON matches
  REFERENCING NEW TABLE AS mf_written FOR EACH STATEMENT EXECUTE FUNCTION mf_check_match_references();
CREATE TRIGGER matches_references_on_update AFTER UPDATE ON matches
  REFERENCING NEW TABLE AS mf_written FOR EACH STATEMENT EXECUTE FUNCTION mf_check_match_references();

-- 2. A reference row in use cannot go away. TG_ARGV[0]: the `matches` columns that refer to
-- this table (comma-separated, trusted: written below, never user input). Rows: BEFORE DELETE or
-- renumbering. TRUNCATE: AFTER, because one TRUNCATE of several tables (matches among them)
-- fires every BEFORE trigger before it empties any table; after it, a `matches` still holding
-- rows refers to rows that are gone.
CREATE FUNCTION mf_guard_match_reference() RETURNS trigger
  LANGUAGE plpgsql AS $$
DECLARE
  col text;
  used boolean;
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.id = OLD.id THEN
    RETURN NEW;
  END IF;
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION 'removing a row of % that matches may refer to needs READ COMMITTED isolation', TG_TABLE_NAME
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  LOCK TABLE matches IN SHARE ROW EXCLUSIVE MODE;
  FOREACH col IN ARRAY string_to_array(TG_ARGV[0], ',') LOOP
    IF TG_OP = 'TRUNCATE' THEN
      EXECUTE format('SELECT EXISTS (SELECT 1 FROM matches WHERE %I IS NOT NULL)', col) INTO used;
    ELSE
      EXECUTE format('SELECT EXISTS (SELECT 1 FROM matches WHERE %I = $1)', col) INTO used USING OLD.id;
    END IF;
    IF used THEN
      RAISE EXCEPTION '% id % is still referenced by matches.%', TG_TABLE_NAME,
        CASE WHEN TG_OP = 'TRUNCATE' THEN '(any)' ELSE OLD.id::text END, col
        USING ERRCODE = 'foreign_key_violation', TABLE = TG_TABLE_NAME;
    END IF;
  END LOOP;
  IF TG_OP = 'DELETE' THEN
    RETURN OLD;
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER leagues_in_use BEFORE DELETE OR UPDATE OF id ON leagues
  FOR EACH ROW EXECUTE FUNCTION mf_guard_match_reference('league_id');
CREATE TRIGGER leagues_in_use_truncate AFTER TRUNCATE ON leagues
  FOR EACH STATEMENT EXECUTE FUNCTION mf_guard_match_reference('league_id');
CREATE TRIGGER teams_in_use BEFORE DELETE OR UPDATE OF id ON teams
  FOR EACH ROW EXECUTE FUNCTION mf_guard_match_reference('home_team_id,away_team_id');
CREATE TRIGGER teams_in_use_truncate AFTER TRUNCATE ON teams
  FOR EACH STATEMENT EXECUTE FUNCTION mf_guard_match_reference('home_team_id,away_team_id');
CREATE TRIGGER seasons_in_use BEFORE DELETE OR UPDATE OF id ON seasons
  FOR EACH ROW EXECUTE FUNCTION mf_guard_match_reference('season_id');
CREATE TRIGGER seasons_in_use_truncate AFTER TRUNCATE ON seasons
  FOR EACH STATEMENT EXECUTE FUNCTION mf_guard_match_reference('season_id');
CREATE TRIGGER age_groups_in_use BEFORE DELETE OR UPDATE OF id ON age_groups
  FOR EACH ROW EXECUTE FUNCTION mf_guard_match_reference('age_group_id');
CREATE TRIGGER age_groups_in_use_truncate AFTER TRUNCATE ON age_groups
  FOR EACH STATEMENT EXECUTE FUNCTION mf_guard_match_reference('age_group_id');
CREATE TRIGGER divisions_in_use BEFORE DELETE OR UPDATE OF id ON divisions
  FOR EACH ROW EXECUTE FUNCTION mf_guard_match_reference('division_id');
CREATE TRIGGER divisions_in_use_truncate AFTER TRUNCATE ON divisions
  FOR EACH STATEMENT EXECUTE FUNCTION mf_guard_match_reference('division_id');
CREATE TRIGGER match_types_in_use BEFORE DELETE OR UPDATE OF id ON match_types
  FOR EACH ROW EXECUTE FUNCTION mf_guard_match_reference('match_type_id');
CREATE TRIGGER match_types_in_use_truncate AFTER TRUNCATE ON match_types
  FOR EACH STATEMENT EXECUTE FUNCTION mf_guard_match_reference('match_type_id');

