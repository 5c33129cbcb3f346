/**
 * One league's schedule + standings (their compact parsed forms) -> normalised fixtures (pure).
 * Two passes over the compact events, never over the documents: the first finds the
 * placeholder date over the whole feed, drops repeated game keys (the first is kept) and puts
 * the rest in kickoff order; the second joins each event to its brackets and normalises it only
 * when it is asked for, so a full season's matches never exist all at once.
 */
import { seasonName, type League } from "../../contract/index.js";
import type { PlacedCandidate } from "../filters.js";
import { compareKickoff } from "../order.js";
import type { FeedProblem } from "../types.js";
import { buildSquadIndex, joinBrackets } from "./brackets.js";
import { createLocalClock } from "./local-time.js";
import { normaliseEvent } from "./normalise.js";
import type { ScheduleDocument, StandingsDocument } from "./parse.js";
import { DEFAULT_PLACEHOLDER, detectPlaceholderDates, type PlaceholderOptions } from "./placeholder.js";

export interface AssistReadOptions {
  /** The feed key, for messages. */
  key: string;
  league: League;
  seasonFirstYear: number;
  /** Epoch ms. */
  now: number;
  /** When the documents were fetched (UTC ISO): `scraped_at` when the feed has no `synced_at`. */
  fetchedAt: string;
  placeholder?: PlaceholderOptions;
}

export interface AssistCounts {
  events: number;
  malformed: number;
  brackets: number;
  bracketsSkipped: number;
  /** Events whose squads are in no bracket: no division; age group from the squad name. */
  unbracketed: number;
}

export interface AssistRead {
  /** In kickoff order (local date, time, game key), the first event of each game key only; normalised as asked for. */
  candidates: Iterable<PlacedCandidate>;
  problems: FeedProblem[];
  counts: AssistCounts;
  /** Events whose game key came earlier in the feed (skipped). */
  duplicates: number;
  placeholderDates: string[];
  syncedAt: string | undefined;
}

export function readAssistFeeds(schedule: ScheduleDocument, standings: StandingsDocument, options: AssistReadOptions): AssistRead {
  const { events } = schedule;
  const index = buildSquadIndex(standings.brackets);
  const clock = createLocalClock();
  // Local dates and times by event: strings shared between events with the same kickoff.
  const dates: string[] = [];
  const times: string[] = [];
  let unbracketed = 0;
  for (let i = 0; i < events.length; i++) {
    const local = clock(events.startMs(i), events.timezone(i));
    dates.push(local.date);
    times.push(local.time);
    // The join has no bracket exactly when neither squad is in any.
    const [home, away] = events.squadIds(i);
    if (!(home !== undefined && index.has(home)) && !(away !== undefined && index.has(away))) unbracketed += 1;
  }
  function* dated() {
    for (let i = 0; i < events.length; i++) yield { date: dates[i]!, unplayed: !events.hasResult(i) };
  }
  const placeholderDates = detectPlaceholderDates(dated(), options.seasonFirstYear, options.placeholder ?? DEFAULT_PLACEHOLDER);
  const seen = new Set<string>();
  const order: number[] = [];
  for (let i = 0; i < events.length; i++) {
    const key = events.gameKey(i);
    if (seen.has(key)) continue;
    seen.add(key);
    order.push(i);
  }
  order.sort((a, b) => compareKickoff(dates[a]!, times[a]!, events.gameKey(a), dates[b]!, times[b]!, events.gameKey(b)));

  const ctx = {
    league: options.league,
    season: seasonName(options.seasonFirstYear),
    now: options.now,
    scrapedAt: new Date(schedule.syncedAt ?? options.fetchedAt).toISOString(),
    placeholderDates,
  };
  function* candidates(): Generator<PlacedCandidate> {
    for (const i of order) {
      const e = events.get(i);
      const join = joinBrackets(index, e.homeSquadId, e.awaySquadId);
      yield { match: normaliseEvent(e, join, { date: dates[i]!, time: times[i]! }, ctx), divisions: join.divisions, position: i };
    }
  }

  const problems: FeedProblem[] = [...schedule.problems, ...standings.problems];
  if (unbracketed > 0) problems.push({ where: `schedule ${options.key}`, reason: `${unbracketed} event(s) with squads in no standings bracket: kept without a division` });
  return {
    candidates: { [Symbol.iterator]: candidates },
    problems,
    counts: {
      events: events.length + schedule.malformed,
      malformed: schedule.malformed,
      brackets: standings.brackets.length,
      bracketsSkipped: standings.problems.length,
      unbracketed,
    },
    duplicates: events.length - order.length,
    placeholderDates: [...placeholderDates].sort(),
    syncedAt: schedule.syncedAt,
  };
}
