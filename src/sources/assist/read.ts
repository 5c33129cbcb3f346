/**
 * One league's schedule + standings (their compact parsed forms) -> normalised fixtures (pure).
 * Two passes over the compact events, never over the documents: the first finds the
 * placeholder date over the whole feed, keeps one copy of each repeated game key (the best one:
 * sources/duplicates.ts) and puts the rest in kickoff order; the second joins each event to its
 * brackets and normalises it only when it is asked for, so a full season's matches never exist
 * all at once.
 */
import { seasonName, type League } from "../../contract/index.js";
import { keepBestCopies, type CopyRules } from "../duplicates.js";
import type { PlacedCandidate } from "../filters.js";
import { compareKickoff } from "../order.js";
import type { FeedProblem } from "../types.js";
import { buildSquadIndex, joinBrackets } from "./brackets.js";
import type { EventTable } from "./event-table.js";
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
  /** In kickoff order (local date, time, game key), one event of each game key; normalised as asked for. */
  candidates: Iterable<PlacedCandidate>;
  problems: FeedProblem[];
  counts: AssistCounts;
  /** Events that repeat a game key (one copy of each is kept). */
  duplicates: number;
  placeholderDates: string[];
  syncedAt: string | undefined;
}

/** Copies of one game key, told apart by the event table's columns (events are made only to compare two copies). */
function copyRules(events: EventTable, feedKey: string): CopyRules<number> {
  return {
    key: (i) => events.gameKey(i),
    rank: (i) => ({ result: events.hasResult(i), completed: events.completed(i), start: events.startMs(i) }),
    same: (a, b) => JSON.stringify(events.get(a)) === JSON.stringify(events.get(b)),
    where: (key) => `game ${key}`,
    feed: `schedule ${feedKey}`,
  };
}

/**
 * A kickoff without its venue's zone is dated and timed in UTC: an evening match in the Americas
 * lands on the next day, and can fall out of a date window. Kept (the instant is right), but said.
 */
function unzonedReason(count: number, gameKey: string, zone: string | undefined): string {
  // The feed's text, quoted short (it could be anything up to a value's limit).
  const shown = zone === undefined ? "none" : JSON.stringify(zone.length > 40 ? `${zone.slice(0, 39)}~` : zone);
  const example = `game ${gameKey}: ${shown}`;
  return `${count} event(s) with a missing or unknown local_timezone (e.g. ${example}): dated and timed in UTC, not the venue's time`;
}

function* indexes(n: number): Generator<number> {
  for (let i = 0; i < n; i++) yield i;
}

export function readAssistFeeds(schedule: ScheduleDocument, standings: StandingsDocument, options: AssistReadOptions): AssistRead {
  const { events } = schedule;
  const index = buildSquadIndex(standings.brackets);
  const clock = createLocalClock();
  // Local dates and times by event: strings shared between events with the same kickoff.
  const dates: string[] = [];
  const times: string[] = [];
  let unbracketed = 0;
  /** Events whose zone is missing or unknown (their local date and time are UTC's), and the first of them. */
  let unzoned = 0;
  let firstUnzoned = -1;
  for (let i = 0; i < events.length; i++) {
    const zone = events.timezone(i);
    const local = clock(events.startMs(i), zone);
    if (local.zone !== zone && unzoned++ === 0) firstUnzoned = i;
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
  const copies = keepBestCopies(indexes(events.length), copyRules(events, options.key));
  const order = copies.kept;
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

  const problems: FeedProblem[] = [...schedule.problems, ...standings.problems, ...copies.problems];
  if (unbracketed > 0) problems.push({ where: `schedule ${options.key}`, reason: `${unbracketed} event(s) with squads in no standings bracket: kept without a division` });
  if (unzoned > 0) problems.push({ where: `schedule ${options.key}`, reason: unzonedReason(unzoned, events.gameKey(firstUnzoned), events.timezone(firstUnzoned)) });
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
    duplicates: copies.duplicates,
    placeholderDates: [...placeholderDates].sort(),
    syncedAt: schedule.syncedAt,
  };
}
