/**
 * One league's schedule + standings documents -> normalised fixtures (pure). Joins events to
 * brackets, finds the placeholder date over the whole feed, then maps every event.
 */
import { seasonName, type League } from "../../contract/index.js";
import type { Candidate } from "../filters.js";
import type { FeedProblem } from "../types.js";
import { buildSquadIndex, joinBrackets } from "./brackets.js";
import { createLocalClock } from "./local-time.js";
import { hasResult, normaliseEvent } from "./normalise.js";
import { parseSchedule, parseStandings } from "./parse.js";
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
  postponed: number;
}

export interface AssistRead {
  candidates: Candidate[];
  problems: FeedProblem[];
  counts: AssistCounts;
  placeholderDates: string[];
  syncedAt: string | undefined;
}

export function readAssistFeeds(scheduleDoc: unknown, standingsDoc: unknown, options: AssistReadOptions): AssistRead {
  const schedule = parseSchedule(scheduleDoc, options.key);
  const standings = parseStandings(standingsDoc, options.key);
  const index = buildSquadIndex(standings.brackets);
  const clock = createLocalClock();
  const locals = schedule.events.map((e) => clock(e.startMs, e.timezone));
  const placeholderDates = detectPlaceholderDates(
    schedule.events.map((e, i) => ({ date: locals[i]!.date, unplayed: !hasResult(e) })),
    options.seasonFirstYear,
    options.placeholder ?? DEFAULT_PLACEHOLDER,
  );
  const ctx = {
    league: options.league,
    season: seasonName(options.seasonFirstYear),
    now: options.now,
    scrapedAt: new Date(schedule.syncedAt ?? options.fetchedAt).toISOString(),
    placeholderDates,
  };
  const problems: FeedProblem[] = [...schedule.problems, ...standings.problems];
  let unbracketed = 0;
  let postponed = 0;
  const candidates: Candidate[] = schedule.events.map((e, i) => {
    const join = joinBrackets(index, e.homeSquadId, e.awaySquadId);
    if (!join.bracket) unbracketed += 1;
    const match = normaliseEvent(e, join, locals[i]!, ctx);
    if (match.match_status === "postponed") postponed += 1;
    return { match, divisions: join.divisions };
  });
  if (unbracketed > 0) problems.push({ where: `schedule ${options.key}`, reason: `${unbracketed} event(s) with squads in no standings bracket: kept without a division` });
  return {
    candidates,
    problems,
    counts: {
      events: schedule.events.length + schedule.problems.length,
      malformed: schedule.problems.length,
      brackets: standings.brackets.length,
      bracketsSkipped: standings.problems.length,
      unbracketed,
      postponed,
    },
    placeholderDates: [...placeholderDates].sort(),
    syncedAt: schedule.syncedAt,
  };
}
