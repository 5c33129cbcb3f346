/**
 * Tolerant readers of the assist schedule and standings documents (pure: JSON text in, typed
 * values out; the schedule read incrementally). Unknown fields are ignored; one malformed event or bracket is reported with its id and
 * the reason and skipped, never sinking the rest. Only a document without its list at all is
 * unreadable as a whole.
 */
import { z } from "zod";
import { valueAt } from "../../contract/validate.js";
import { PermanentError } from "../../errors.js";
import { parseWholeJson, splitTopLevel } from "../json-stream.js";
import { MAX_STANDINGS_CHARS, readWholeText } from "../limits.js";
import { EventTable } from "./event-table.js";
import { parseFeedInstant, readFeedInstant, ZONELESS } from "./instant.js";
import type { FeedProblem } from "../types.js";

const id = z.union([z.number(), z.string()]);
const nonEmpty = z.string().trim().min(1, "must not be empty");
const named = z.object({ name: nonEmpty });
const optionalNamed = z.object({ name: z.string().nullish() }).nullish();
const score = z.number().int().min(0).nullish();
const squadId = z.union([z.number().int(), z.string().regex(/^\d+$/).transform(Number)]).nullish();

/** An ISO 8601 instant (instant.ts); the issue says why when it is not one. */
const instant = z.string().superRefine((text, ctx) => {
  const read = readFeedInstant(text);
  if (typeof read === "string") ctx.addIssue({ code: "custom", message: read });
});

const eventSchema = z.object({
  id: id.nullish(),
  game_key: z.union([nonEmpty, z.number().int().transform(String)]),
  start_time: instant,
  local_timezone: z.string().nullish(),
  home_squad_id: squadId,
  away_squad_id: squadId,
  home_squad_name: z.string().nullish(),
  away_squad_name: z.string().nullish(),
  competition: optionalNamed,
  completed: z.boolean().nullish(),
  home_organisation: named,
  away_organisation: named,
  home_score: score,
  away_score: score,
  home_penalty_shootout_score: score,
  away_penalty_shootout_score: score,
  event_location: optionalNamed,
});

/**
 * One schedule event, as much as the pipeline needs of it: a run keeps one per event of the
 * season (50,000), so nothing more (the event's own id and ISO start are not kept: problems
 * name the raw event, and `startMs` is the start).
 */
export interface AssistEvent {
  gameKey: string;
  /** The UTC start instant, epoch ms. */
  startMs: number;
  timezone: string | undefined;
  homeSquadId: number | undefined;
  awaySquadId: number | undefined;
  /** The squad name is the age group ("U14"): a fallback when no bracket knows the squad. */
  squadAgeGroup: string | undefined;
  competition: string | undefined;
  completed: boolean;
  homeClub: string;
  awayClub: string;
  homeScore: number | undefined;
  awayScore: number | undefined;
  homePenalties: number | undefined;
  awayPenalties: number | undefined;
  location: string | undefined;
}

export interface ScheduleDocument {
  /** When the feed last observed the data (UTC ISO), if it says. */
  syncedAt: string | undefined;
  /** The readable events, in feed order. */
  events: EventTable;
  /** Events skipped as unreadable. */
  malformed: number;
  /** Why, for the first MAX_LISTED_PROBLEMS of them (then one entry saying how many more). */
  problems: FeedProblem[];
}

/** Problems listed per schedule: a feed of nothing but broken events must not fill the heap with reports of them. */
export const MAX_LISTED_PROBLEMS = 1000;

/** A standings bracket = one division (conference) of one age group. */
export interface Bracket {
  id: string;
  name: string;
  ageGroup: string;
  squadIds: number[];
}

export interface StandingsDocument {
  brackets: Bracket[];
  problems: FeedProblem[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A short quote of an offending value for a problem's reason ("abc" -> `"abc"`, -3 -> `-3`). */
function quote(value: unknown): string {
  const shown = JSON.stringify(value) ?? String(value);
  return shown.length > 40 ? `${shown.slice(0, 39)}~` : shown;
}

/**
 * The first issue as "<path> <what is wrong> (got <value>)". The value is read from `raw`
 * itself: zod 4 does not report issues' inputs by default, so an issue cannot tell a missing
 * field from one of the wrong type ("abc" for a score is not "missing").
 */
function firstIssue(error: z.ZodError, raw: unknown): string {
  const issue = error.issues[0];
  if (!issue) return "invalid";
  const path = issue.path.length > 0 ? issue.path.map(String).join(".") : "event";
  const value = valueAt(raw, issue.path);
  if (value === undefined || value === null) return `${path} is missing`;
  return `${path} ${issueText(issue)} (got ${quote(value)})`;
}

const EXPECTED: Record<string, string> = { number: "a number", int: "a whole number", string: "text", boolean: "true or false", object: "an object", array: "a list" };

function issueText(issue: z.core.$ZodIssue): string {
  if (issue.code === "invalid_type") return `is not ${EXPECTED[issue.expected] ?? issue.expected}`;
  if (issue.code === "too_small" || issue.code === "too_big") return issue.message.replace(/^Too (small|big): expected \w+ to (be|have) /, "must be ");
  if (issue.code === "invalid_union") return "is not valid";
  return issue.message;
}

const text = (s: string | null | undefined): string | undefined => {
  const t = s?.trim();
  return t ? t : undefined;
};
const num = (n: number | null | undefined): number | undefined => (n === null ? undefined : n);

function describeEvent(raw: unknown, index: number): string {
  if (!isRecord(raw)) return `event #${index}`;
  const eventId = typeof raw.id === "number" || typeof raw.id === "string" ? String(raw.id) : `#${index}`;
  const key = typeof raw.game_key === "string" || typeof raw.game_key === "number" ? ` (game ${String(raw.game_key)})` : "";
  return `event ${eventId}${key}`;
}

const isInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v);
const isScore = (v: unknown): v is number | null | undefined => v === undefined || v === null || (isInt(v) && v >= 0);
const isOptText = (v: unknown): v is string | null | undefined => v === undefined || v === null || typeof v === "string";
const optName = (v: unknown): string | undefined | false => {
  if (v === undefined || v === null) return undefined;
  if (!isRecord(v) || !isOptText(v.name)) return false;
  return text(v.name);
};

/**
 * The common, well-formed shape without zod (a season is ~10,000 events and zod's per-object
 * cost dominated the scrape). Accepts a strict subset of `eventSchema` and returns the same
 * value; anything else (`undefined`) goes through zod, which decides and explains.
 */
export function fastEvent(raw: unknown): AssistEvent | undefined {
  if (!isRecord(raw)) return undefined;
  const { id: rawId, game_key: key, start_time: start, home_organisation: ho, away_organisation: ao } = raw;
  if (!(rawId === undefined || rawId === null || typeof rawId === "number" || typeof rawId === "string")) return undefined;
  if (typeof key !== "string" || key.length === 0 || key.trim() !== key) return undefined;
  if (typeof start !== "string") return undefined;
  const startMs = parseFeedInstant(start);
  if (Number.isNaN(startMs)) return undefined;
  if (!isRecord(ho) || typeof ho.name !== "string" || !isRecord(ao) || typeof ao.name !== "string") return undefined;
  const homeClub = ho.name.trim();
  const awayClub = ao.name.trim();
  if (!homeClub || !awayClub) return undefined;
  const { home_squad_id: hs, away_squad_id: as, local_timezone: tz, home_squad_name: hn, away_squad_name: an, completed } = raw;
  if (!(hs === undefined || hs === null || isInt(hs)) || !(as === undefined || as === null || isInt(as))) return undefined;
  if (!isOptText(tz) || !isOptText(hn) || !isOptText(an)) return undefined;
  if (!(completed === undefined || completed === null || typeof completed === "boolean")) return undefined;
  const { home_score: h, away_score: a, home_penalty_shootout_score: hp, away_penalty_shootout_score: ap } = raw;
  if (!isScore(h) || !isScore(a) || !isScore(hp) || !isScore(ap)) return undefined;
  const competition = optName(raw.competition);
  const location = optName(raw.event_location);
  if (competition === false || location === false) return undefined;
  return {
    gameKey: key,
    startMs,
    timezone: text(tz),
    homeSquadId: num(hs),
    awaySquadId: num(as),
    squadAgeGroup: text(hn) ?? text(an),
    competition,
    completed: completed === true,
    homeClub,
    awayClub,
    homeScore: num(h),
    awayScore: num(a),
    homePenalties: num(hp),
    awayPenalties: num(ap),
    location,
  };
}

export function zodEvent(raw: unknown): AssistEvent | string {
  const parsed = eventSchema.safeParse(raw);
  if (!parsed.success) return firstIssue(parsed.error, raw);
  const e = parsed.data;
  return {
    gameKey: e.game_key,
    startMs: parseFeedInstant(e.start_time),
    timezone: text(e.local_timezone),
    homeSquadId: num(e.home_squad_id),
    awaySquadId: num(e.away_squad_id),
    squadAgeGroup: text(e.home_squad_name) ?? text(e.away_squad_name),
    competition: text(e.competition?.name),
    completed: e.completed === true,
    homeClub: e.home_organisation.name,
    awayClub: e.away_organisation.name,
    homeScore: num(e.home_score),
    awayScore: num(e.away_score),
    homePenalties: num(e.home_penalty_shootout_score),
    awayPenalties: num(e.away_penalty_shootout_score),
    location: text(e.event_location?.name),
  };
}

/** One raw event: the fast path for the usual shape, zod for everything else. */
export function readEvent(raw: unknown): AssistEvent | string {
  return fastEvent(raw) ?? zodEvent(raw);
}

/** `what` names the document ("schedule mls-next-league-26-27"), so it is not prefixed here. */
const noEventsList = (what: string) => new PermanentError("source_unreadable", `${what} has no "events" list: not an assist schedule document`);

/**
 * Reads a schedule document from its text, chunk by chunk, one event at a time (a full season is
 * ~37.5 MB of text for 50,000 events: only an EventTable of them is kept). Same verdicts
 * as JSON.parse + a whole-document read: not JSON -> NotJsonError; no `events` list (a later
 * duplicate key wins, as in JSON.parse) -> source_unreadable; a malformed event is reported and
 * skipped. `what` names the document in errors, as the fetcher does ("schedule mls-next-league-26-27"). A `FeedReader`.
 */
export async function readSchedule(chunks: AsyncIterable<string> | Iterable<string>, what: string): Promise<ScheduleDocument> {
  let syncedAt: string | undefined;
  let events: EventTable | undefined;
  let problems: FeedProblem[] = [];
  let malformed = 0;
  const top = await splitTopLevel(chunks, {
    member(key, value) {
      if (key === "synced_at") {
        const ms = typeof value === "string" ? parseFeedInstant(value) : NaN;
        syncedAt = Number.isNaN(ms) ? undefined : ZONELESS.test(value as string) ? new Date(ms).toISOString() : (value as string);
      }
      else if (key === "events") [events, problems, malformed] = [undefined, [], 0];
    },
    arrayStart(key) {
      if (key === "synced_at") syncedAt = undefined;
      else if (key === "events") [events, problems, malformed] = [new EventTable(), [], 0];
    },
    element(key, index, raw) {
      if (key !== "events" || !events) return;
      const event = readEvent(raw);
      if (typeof event !== "string") return void events.push(event);
      if (++malformed <= MAX_LISTED_PROBLEMS) problems.push({ where: describeEvent(raw, index), reason: `skipped: ${event}` });
    },
  });
  if (top !== "object" || !events) throw noEventsList(what);
  const unlisted = malformed - MAX_LISTED_PROBLEMS;
  if (unlisted > 0) problems.push({ where: what, reason: `${unlisted} more malformed event(s) skipped, not listed (the first ${MAX_LISTED_PROBLEMS} are)` });
  return { syncedAt, events: events.trim(), malformed, problems };
}

const bracketSchema = z.object({
  id: id,
  name: nonEmpty,
  age_group: named,
  standings: z.array(z.unknown()),
});

function squadIdOf(row: unknown): number | undefined {
  if (!isRecord(row) || !isRecord(row.team)) return undefined;
  const value = row.team.squad_id;
  if (typeof value === "number" && Number.isInteger(value)) return value;
  if (typeof value === "string" && /^\d+$/.test(value)) return Number(value);
  return undefined;
}

/**
 * A standings document from its text (small: ~1 MB for a full season, read whole), as brackets:
 * only they are kept for the run. A `FeedReader`: not JSON -> NotJsonError; cut off mid-document
 * -> TruncatedJsonError (downloaded again, as a cut-off schedule is).
 */
export async function readStandings(chunks: AsyncIterable<string> | Iterable<string>, what: string): Promise<StandingsDocument> {
  return parseStandings(parseWholeJson(await readWholeText(chunks, MAX_STANDINGS_CHARS)), what);
}

/** Reads a standings document: brackets missing a name, an age group or squad ids are skipped. */
export function parseStandings(doc: unknown, what: string): StandingsDocument {
  const season = isRecord(doc) ? doc.competition_season : undefined;
  if (!isRecord(season) || !Array.isArray(season.competition_brackets)) {
    throw new PermanentError("source_unreadable", `${what} has no "competition_season.competition_brackets" list: not an assist standings document`);
  }
  const brackets: Bracket[] = [];
  const problems: FeedProblem[] = [];
  season.competition_brackets.forEach((raw: unknown, index: number) => {
    const where = isRecord(raw) && (typeof raw.id === "number" || typeof raw.id === "string") ? `bracket ${String(raw.id)}` : `bracket #${index}`;
    const parsed = bracketSchema.safeParse(raw);
    if (!parsed.success) {
      problems.push({ where, reason: `skipped: ${firstIssue(parsed.error, raw).replace(/^event /, "")}` });
      return;
    }
    const squadIds = parsed.data.standings.map(squadIdOf).filter((s): s is number => s !== undefined);
    if (squadIds.length === 0) {
      problems.push({ where, reason: "skipped: no squad ids in its standings" });
      return;
    }
    brackets.push({ id: String(parsed.data.id), name: parsed.data.name.trim(), ageGroup: parsed.data.age_group.name.trim(), squadIds });
  });
  return { brackets, problems };
}
