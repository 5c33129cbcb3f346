/** Reads for the CLI and operations. Dates come back as text (`YYYY-MM-DD`, ISO instants) so no time zone shifts them. */
import type { Queryable } from "./database.js";

export interface MatchSummary {
  id: number;
  externalMatchId: string;
  matchDate: string;
  scheduledKickoff: string | null;
  homeTeam: string;
  awayTeam: string;
  homeScore: number | null;
  awayScore: number | null;
  homePenaltyScore: number | null;
  awayPenaltyScore: number | null;
  matchStatus: string;
  league: string;
  season: string;
  ageGroup: string;
  division: string | null;
  matchType: string;
}

export interface MatchRecord extends MatchSummary {
  matchTime: string | null;
  location: string | null;
  source: string | null;
  notes: string | null;
  scoreLocked: boolean;
  statusSetBy: "scraper" | "manual";
  observedAt: string | null;
  lastTaskId: string | null;
  raw: unknown;
  createdAt: string;
  updatedAt: string;
}

const ISO = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

const SELECT_MATCH = `
SELECT m.id, m.external_match_id, m.match_date::text AS match_date, ${ISO("m.scheduled_kickoff")} AS scheduled_kickoff,
       ht.name AS home_team, awt.name AS away_team, m.home_score, m.away_score, m.home_penalty_score, m.away_penalty_score,
       m.match_status, l.name AS league, s.name AS season, ag.name AS age_group, d.name AS division, mt.name AS match_type,
       m.match_time, m.location, m.source, m.notes, m.score_locked, m.status_set_by, ${ISO("m.observed_at")} AS observed_at,
       m.last_task_id, m.raw, ${ISO("m.created_at")} AS created_at, ${ISO("m.updated_at")} AS updated_at
  FROM matches m
  JOIN teams ht ON ht.id = m.home_team_id
  JOIN teams awt ON awt.id = m.away_team_id
  JOIN leagues l ON l.id = m.league_id
  JOIN seasons s ON s.id = m.season_id
  JOIN age_groups ag ON ag.id = m.age_group_id
  JOIN match_types mt ON mt.id = m.match_type_id
  LEFT JOIN divisions d ON d.id = m.division_id`;

type Row = Record<string, unknown>;
/** Columns read here are text, numbers or booleans (dates are cast to text in SQL). */
const str = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));
const strOrNull = (v: unknown) => (v === null || v === undefined ? null : str(v));
const numOrNull = (v: unknown) => (v === null || v === undefined ? null : Number(v));

function toRecord(r: Row): MatchRecord {
  return {
    id: Number(r.id),
    externalMatchId: str(r.external_match_id),
    matchDate: str(r.match_date),
    scheduledKickoff: strOrNull(r.scheduled_kickoff),
    homeTeam: str(r.home_team),
    awayTeam: str(r.away_team),
    homeScore: numOrNull(r.home_score),
    awayScore: numOrNull(r.away_score),
    homePenaltyScore: numOrNull(r.home_penalty_score),
    awayPenaltyScore: numOrNull(r.away_penalty_score),
    matchStatus: str(r.match_status),
    league: str(r.league),
    season: str(r.season),
    ageGroup: str(r.age_group),
    division: strOrNull(r.division),
    matchType: str(r.match_type),
    matchTime: strOrNull(r.match_time),
    location: strOrNull(r.location),
    source: strOrNull(r.source),
    notes: strOrNull(r.notes),
    scoreLocked: r.score_locked === true,
    statusSetBy: r.status_set_by === "manual" ? "manual" : "scraper",
    observedAt: strOrNull(r.observed_at),
    lastTaskId: strOrNull(r.last_task_id),
    raw: r.raw,
    createdAt: str(r.created_at),
    updatedAt: str(r.updated_at),
  };
}

export async function countMatches(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number | string }>("SELECT count(*) AS n FROM matches");
  return Number(rows[0]?.n ?? 0);
}

/**
 * The most recent matches by date (then kickoff), newest first. `playedOnly` keeps those with a
 * score: the latest results, rather than fixtures scheduled months ahead.
 */
export async function latestResults(db: Queryable, limit = 20, options: { playedOnly?: boolean; externalMatchIds?: readonly string[] } = {}): Promise<MatchSummary[]> {
  const n = Math.max(1, Math.min(Math.trunc(limit), 10_000));
  const conditions: string[] = [];
  const params: unknown[] = [n];
  if (options.playedOnly) conditions.push("m.home_score IS NOT NULL");
  if (options.externalMatchIds) {
    params.push(options.externalMatchIds);
    conditions.push(`m.external_match_id = ANY($${params.length}::text[])`);
  }
  const where = conditions.length > 0 ? ` WHERE ${conditions.join(" AND ")}` : "";
  const { rows } = await db.query<Row>(`${SELECT_MATCH}${where} ORDER BY m.match_date DESC, m.scheduled_kickoff DESC NULLS LAST, m.id DESC LIMIT $1`, params);
  return rows.map((r) => {
    const { matchTime: _t, location: _l, source: _s, notes: _n, scoreLocked: _k, statusSetBy: _b, observedAt: _o, lastTaskId: _i, raw: _r, createdAt: _c, updatedAt: _u, ...summary } = toRecord(r);
    return summary;
  });
}

export async function getMatchByExternalId(db: Queryable, externalMatchId: string): Promise<MatchRecord | undefined> {
  const { rows } = await db.query<Row>(`${SELECT_MATCH} WHERE m.external_match_id = $1`, [externalMatchId]);
  const row = rows[0];
  return row ? toRecord(row) : undefined;
}
