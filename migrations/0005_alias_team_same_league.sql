-- A team alias names a team of its own league.
--
-- Why: teams are resolved per league (one name in two leagues is two teams), and an alias is
-- looked up by (league, alias) and wins over the team names. But nothing tied the alias's team
-- to the alias's league: an operator's `INSERT INTO team_aliases` with the Homegrown league and
-- the id of the Academy "IFA" was taken without a word, and every Homegrown match naming "IFA"
-- was then stored against the Academy team, mixing the two leagues' results. The database now
-- refuses such an alias (SQLSTATE 23503), as it refuses a match whose teams do not exist.
-- Aliases that already cross leagues stop the migration, named, for an operator to repoint or
-- delete (which team was meant is theirs to say).

DO $$
DECLARE
  crossing text;
BEGIN
  SELECT string_agg(format('%L (alias of league %s, team %s of league %s)', x.alias, x.alias_league, x.team_id, x.team_league), ', ') INTO crossing FROM (
    SELECT a.alias, a.league_id AS alias_league, a.team_id, t.league_id AS team_league
      FROM team_aliases a JOIN teams t ON t.id = a.team_id
     WHERE t.league_id <> a.league_id
     ORDER BY a.id LIMIT 20
  ) x;
  IF crossing IS NOT NULL THEN
    RAISE EXCEPTION 'team aliases name a team of another league: %; point each at the team of its own league (or delete it), then migrate again', crossing
      USING ERRCODE = 'check_violation';
  END IF;
END $$;

-- The key the aliases refer to; `id` alone is unique already, so this holds for every row.
ALTER TABLE teams ADD CONSTRAINT teams_id_league_unique UNIQUE (id, league_id);

-- ON UPDATE CASCADE: a team moved to another league (a merge of two spellings of a league,
-- migration 0003's kind) takes its aliases along; ON DELETE CASCADE as for team_id alone.
ALTER TABLE team_aliases
  ADD CONSTRAINT team_aliases_team_in_league FOREIGN KEY (team_id, league_id) REFERENCES teams (id, league_id)
    ON UPDATE CASCADE ON DELETE CASCADE;
