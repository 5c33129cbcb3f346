-- Name keys fold what the contract folds, and the spellings stored apart before are merged.
--
-- Why: feeds write one team with invisible differences (a no-break space, a zero-width space,
-- a decomposed accent, fullwidth letters). Since the contract brings every text field to
-- Unicode NFKC without zero-width characters, new messages arrive with one spelling; but rows
-- written before kept theirs, each variant a team (league, division, ...) of its own that split
-- its history, and an operator's INSERT could still add one. Now:
-- 1. `mf_canonical_text()` is the contract's `canonicalText()` in SQL (NFKC, zero-width
--    characters removed, trimmed; plain ASCII costs one regex test), and `mf_name_key()` keys
--    the canonical text, so the database itself refuses a second spelling.
-- 2. Rows whose new keys are equal are merged into the oldest (lowest id): matches, aliases,
--    divisions and teams are repointed to it, the others deleted. Leagues first, as teams and
--    divisions are unique per league.
-- 3. Every remaining name is stored in its canonical, tidied form and its key recomputed.
-- A match whose two teams turn out to be spellings of one team cannot be kept (a match needs two
-- teams): the migration then stops, rolled back, naming the matches, for an operator to decide.

CREATE FUNCTION mf_canonical_text(name text) RETURNS text
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  AS $$ SELECT CASE WHEN name ~ '[^\x20-\x7e]'
                    THEN btrim(regexp_replace(normalize(name, NFKC), '[\u200b-\u200d\u2060\ufeff]', '', 'g'))
                    ELSE btrim(name) END $$;

CREATE OR REPLACE FUNCTION mf_name_key(name text) RETURNS text
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  AS $$ SELECT lower(btrim(regexp_replace(mf_canonical_text(name), '\s+', ' ', 'g'))) $$;

-- The name as the worker would now store it: canonical, inner whitespace collapsed.
CREATE FUNCTION mf_tidy_name(name text) RETURNS text
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  AS $$ SELECT btrim(regexp_replace(mf_canonical_text(name), '\s+', ' ', 'g')) $$;

-- Old id -> surviving id, for every row (a survivor maps to itself).
CREATE TEMP TABLE mf_league_map ON COMMIT DROP AS
  SELECT id AS old_id, min(id) OVER (PARTITION BY mf_name_key(name)) AS new_id FROM leagues;
CREATE TEMP TABLE mf_age_group_map ON COMMIT DROP AS
  SELECT id AS old_id, min(id) OVER (PARTITION BY mf_name_key(name)) AS new_id FROM age_groups;
CREATE TEMP TABLE mf_match_type_map ON COMMIT DROP AS
  SELECT id AS old_id, min(id) OVER (PARTITION BY mf_name_key(name)) AS new_id FROM match_types;
CREATE TEMP TABLE mf_division_map ON COMMIT DROP AS
  SELECT d.id AS old_id, min(d.id) OVER (PARTITION BY l.new_id, mf_name_key(d.name)) AS new_id, l.new_id AS league_id
    FROM divisions d JOIN mf_league_map l ON l.old_id = d.league_id;
CREATE TEMP TABLE mf_team_map ON COMMIT DROP AS
  SELECT t.id AS old_id, min(t.id) OVER (PARTITION BY l.new_id, mf_name_key(t.name)) AS new_id, l.new_id AS league_id
    FROM teams t JOIN mf_league_map l ON l.old_id = t.league_id;
CREATE TEMP TABLE mf_alias_map ON COMMIT DROP AS
  SELECT a.id AS old_id, min(a.id) OVER (PARTITION BY l.new_id, mf_name_key(a.alias)) AS new_id, l.new_id AS league_id
    FROM team_aliases a JOIN mf_league_map l ON l.old_id = a.league_id;

DO $$
DECLARE
  clashes text;
BEGIN
  SELECT string_agg(external_match_id, ', ' ORDER BY external_match_id) INTO clashes FROM (
    SELECT m.external_match_id FROM matches m
      JOIN mf_team_map h ON h.old_id = m.home_team_id
      JOIN mf_team_map a ON a.old_id = m.away_team_id
     WHERE h.new_id = a.new_id
     ORDER BY m.external_match_id LIMIT 20
  ) x;
  IF clashes IS NOT NULL THEN
    RAISE EXCEPTION 'cannot merge the spellings of a team: in match(es) % the home and away teams are two spellings of one team; correct or delete those matches, then migrate again', clashes
      USING ERRCODE = 'check_violation';
  END IF;
END $$;

-- Matches point at the survivors (one statement per reference; each is checked by the
-- statement-level reference trigger of 0002).
UPDATE matches m SET league_id = x.new_id, updated_at = now() FROM mf_league_map x WHERE x.old_id = m.league_id AND x.old_id <> x.new_id;
UPDATE matches m SET home_team_id = x.new_id, updated_at = now() FROM mf_team_map x WHERE x.old_id = m.home_team_id AND x.old_id <> x.new_id;
UPDATE matches m SET away_team_id = x.new_id, updated_at = now() FROM mf_team_map x WHERE x.old_id = m.away_team_id AND x.old_id <> x.new_id;
UPDATE matches m SET division_id = x.new_id, updated_at = now() FROM mf_division_map x WHERE x.old_id = m.division_id AND x.old_id <> x.new_id;
UPDATE matches m SET age_group_id = x.new_id, updated_at = now() FROM mf_age_group_map x WHERE x.old_id = m.age_group_id AND x.old_id <> x.new_id;
UPDATE matches m SET match_type_id = x.new_id, updated_at = now() FROM mf_match_type_map x WHERE x.old_id = m.match_type_id AND x.old_id <> x.new_id;

-- Aliases: one per (league, key); the survivors point at the surviving team and league.
DELETE FROM team_aliases a USING mf_alias_map x WHERE x.old_id = a.id AND x.old_id <> x.new_id;
UPDATE team_aliases a SET league_id = x.league_id, team_id = t.new_id
  FROM mf_alias_map x, mf_team_map t
 WHERE x.old_id = a.id AND t.old_id = a.team_id AND (a.league_id <> x.league_id OR a.team_id <> t.new_id);

DELETE FROM teams t USING mf_team_map x WHERE x.old_id = t.id AND x.old_id <> x.new_id;
DELETE FROM divisions d USING mf_division_map x WHERE x.old_id = d.id AND x.old_id <> x.new_id;
UPDATE teams t SET league_id = x.league_id FROM mf_team_map x WHERE x.old_id = t.id AND t.league_id <> x.league_id;
UPDATE divisions d SET league_id = x.league_id FROM mf_division_map x WHERE x.old_id = d.id AND d.league_id <> x.league_id;
DELETE FROM leagues r USING mf_league_map x WHERE x.old_id = r.id AND x.old_id <> x.new_id;
DELETE FROM age_groups r USING mf_age_group_map x WHERE x.old_id = r.id AND x.old_id <> x.new_id;
DELETE FROM match_types r USING mf_match_type_map x WHERE x.old_id = r.id AND x.old_id <> x.new_id;

-- Canonical names and fresh keys (a stored generated column is computed when its row is
-- written). A name whose canonical form would break its length limit keeps its spelling: its
-- key is canonical either way.
DO $$
DECLARE
  t record;
BEGIN
  FOR t IN SELECT * FROM (VALUES ('leagues', 'name', 'name_key', 200), ('age_groups', 'name', 'name_key', 50),
                                 ('match_types', 'name', 'name_key', 100), ('divisions', 'name', 'name_key', 200),
                                 ('teams', 'name', 'name_key', 200), ('team_aliases', 'alias', 'alias_key', 200))
                    AS x(tab, col, key_col, max_len) LOOP
    EXECUTE format('UPDATE %1$I SET %2$I = CASE WHEN char_length(mf_tidy_name(%2$I)) <= %4$s THEN mf_tidy_name(%2$I) ELSE %2$I END
                     WHERE %2$I <> mf_tidy_name(%2$I) OR %3$I <> mf_name_key(%2$I)', t.tab, t.col, t.key_col, t.max_len);
  END LOOP;
END $$;
