/**
 * One assist event -> a MatchData input for the producer contract (pure: `now` is a parameter).
 *
 * Status, as the original derived it:
 *  - on a placeholder date and without a result -> `postponed` (not "scheduled for that date");
 *  - both scores and (kickoff passed or the feed says completed) -> `completed`;
 *  - kickoff still ahead -> `scheduled` (any score on a future fixture is not a result: dropped);
 *  - kickoff passed without a result -> `tbd` (played, result pending).
 * Penalties: the feed writes zeros for "no shootout"; a shootout is only real after a level
 * score, so penalties on a decided or unplayed match are dropped.
 */
import type { League, MatchDataInput, MatchStatus } from "../../contract/index.js";
import type { BracketJoin } from "./brackets.js";
import type { LocalDateTime } from "./local-time.js";
import type { AssistEvent } from "./parse.js";

export const ASSIST_SOURCE = "mlsnext-assist";

export interface NormaliseContext {
  league: League;
  /** `2026-27` */
  season: string;
  /** Epoch ms. */
  now: number;
  /** When the data was observed: the feed's `synced_at`, else the fetch time (UTC ISO). */
  scrapedAt: string;
  placeholderDates: ReadonlySet<string>;
}

export function hasResult(e: Pick<AssistEvent, "homeScore" | "awayScore">): boolean {
  return e.homeScore !== undefined && e.awayScore !== undefined;
}

export function statusOf(e: AssistEvent, localDate: string, ctx: Pick<NormaliseContext, "now" | "placeholderDates">): MatchStatus {
  const result = hasResult(e);
  if (!result && ctx.placeholderDates.has(localDate)) return "postponed";
  if (result && (e.completed || e.startMs <= ctx.now)) return "completed";
  if (e.startMs > ctx.now) return "scheduled";
  return "tbd";
}

/** Penalty scores only after a level score, and never 0-0 (the feed's "no shootout"). */
export function penaltiesOf(e: AssistEvent): { home: number; away: number } | undefined {
  if (!hasResult(e) || e.homeScore !== e.awayScore) return undefined;
  if (e.homePenalties === undefined || e.awayPenalties === undefined) return undefined;
  if (e.homePenalties === 0 && e.awayPenalties === 0) return undefined;
  return { home: e.homePenalties, away: e.awayPenalties };
}

export function normaliseEvent(e: AssistEvent, join: BracketJoin, local: Pick<LocalDateTime, "date" | "time">, ctx: NormaliseContext): MatchDataInput {
  const status = statusOf(e, local.date, ctx);
  const match: MatchDataInput = {
    external_match_id: e.gameKey,
    home_team: e.homeClub,
    away_team: e.awayClub,
    match_date: local.date,
    match_time: local.time,
    scheduled_kickoff: new Date(e.startMs).toISOString(),
    season: ctx.season,
    league: ctx.league,
    age_group: join.bracket?.ageGroup ?? e.squadAgeGroup ?? "",
    match_type: e.competition ?? "League",
    match_status: status,
    source: ASSIST_SOURCE,
    scraped_at: ctx.scrapedAt,
  };
  if (join.bracket) match.division = join.bracket.name;
  if (e.location) match.location = e.location;
  if (status === "completed") {
    match.home_score = e.homeScore;
    match.away_score = e.awayScore;
    const pens = penaltiesOf(e);
    if (pens) {
      match.home_penalty_score = pens.home;
      match.away_penalty_score = pens.away;
    }
  }
  return match;
}
