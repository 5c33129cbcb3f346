/**
 * The match contract, schema version 1: the single source of truth for the task argument
 * that producer and consumer exchange. Field names follow the original system.
 *
 * Two readings of one shape:
 * - producer (`producerMatchSchema`): strict, nothing outside the schema is ever sent;
 * - consumer (`consumerMatchSchema`): tolerant of additions; unknown fields are reported by
 *   `validate.ts` and kept in the stored raw message, never silently dropped.
 * Cross-field rules live in `checkMatchRules` so both readings enforce the same ones.
 */
import { z } from "zod";
import { seasonFirstYear, seasonForDate } from "./season.js";
import { canonicalText, isStorableText } from "./text.js";

export const SCHEMA_VERSION = 1;
/** The longest `external_match_id` the contract takes (the worker also cuts refused ones to it in logs). */
export const MAX_EXTERNAL_ID_CHARS = 100;

export const MATCH_STATUSES = ["scheduled", "tbd", "completed", "postponed", "cancelled"] as const;
export const LEAGUES = ["Homegrown", "Academy", "Flex"] as const;
export type MatchStatus = (typeof MATCH_STATUSES)[number];
export type League = (typeof LEAGUES)[number];
/** The league of a match that names none (the seed's producer sends none): MLS NEXT's main one. */
export const DEFAULT_LEAGUE: League = "Homegrown";

const required = (what: string) => (iss: { input: unknown }) =>
  iss.input === undefined || iss.input === null ? "is required" : `must be ${what}`;

// Text is canonical (text.ts: Unicode NFKC, no zero-width characters, trimmed), so the same
// name always has one spelling, and storable (no NUL, no unpaired surrogate: checkMatchRules,
// once per match rather than a refinement per field, which cost ~3 µs a match on each side).
const text = (max: number) =>
  z.string({ error: required("text") }).overwrite(canonicalText).min(1, "must not be empty").max(max, `must be at most ${max} characters`);

const optionalText = (max: number) =>
  z.string({ error: "must be text" }).overwrite(canonicalText).max(max, `must be at most ${max} characters`).nullish();

const TEXT_FIELDS = ["home_team", "away_team", "age_group", "match_type", "division", "external_match_id", "location", "notes", "source"] as const;
const NOT_STORABLE = "must not contain a NUL character or an unpaired surrogate (\\ud800-\\udfff alone is not Unicode text)";

const isoDate = z.iso.date({ error: (iss) => (iss.input === undefined ? "is required" : "must be a calendar date written YYYY-MM-DD") });

/**
 * Dates a youth match can have (checkMatchRules). Outside, a date is a feed's placeholder
 * (`0001-01-01`, .NET's minimum) or a typo: its season could not even be written (`0-01`), and
 * PostgreSQL has no year 0. Checked once per match: a refinement on the field cost ~5 µs a match.
 */
const FIRST_MATCH_DATE = "1900-01-01";
const LAST_MATCH_DATE = "2999-12-31";

const instant = z.iso.datetime({
  offset: true,
  error: "must be an instant with a time zone offset, e.g. 2026-09-05T13:00:00Z or 2026-09-05T09:00:00-04:00",
});

const score = z
  .number({ error: "must be a number" })
  .int("must be a whole number")
  .min(0, "must not be negative")
  .max(999, "must be at most 999")
  .nullish();

/** `1`, `"1"`, `"1.0"`, `"1.3"`: major 1. The major is checked before the rest (validate.ts). */
const schemaVersionMessage = "must be 1 (this reader understands schema version 1)";
export const schemaVersionField = z.union([z.literal(1), z.string().regex(/^1(\.\d+)*$/, schemaVersionMessage)], {
  error: schemaVersionMessage,
});

export const matchShape = {
  home_team: text(200).describe("Home team name as the source writes it (Unicode NFKC, zero-width characters removed, trimmed; 1-200 characters); must differ from away_team ignoring case and spacing."),
  away_team: text(200).describe("Away team name as the source writes it (Unicode NFKC, zero-width characters removed, trimmed; 1-200 characters); must differ from home_team ignoring case and spacing."),
  match_date: isoDate.describe("Calendar date of the match, YYYY-MM-DD (local date at the venue), from 1900-01-01 to 2999-12-31."),
  season: z
    .string({ error: "must be text like 2026-27" })
    .trim()
    .regex(/^\d{4}-\d{2}$/, "must be a season like 2026-27")
    // Malformed names pass here: the pattern above has already reported them (one issue each).
    .refine((s) => !/^\d{4}-\d{2}$/.test(s) || seasonFirstYear(s) !== undefined, { message: "must be a season like 2026-27 (the second year follows the first)", params: { rule: "format" } })
    .nullish()
    .describe("Season name like 2026-27 (the second year follows the first; 2099-00 after 2099). When absent, derived from match_date: seasons run August to July. When given, match_date's season or one next to it."),
  age_group: text(50).describe("Age group, e.g. U14 (trimmed, 1-50 characters)."),
  match_type: text(100).describe("Match type, e.g. League, Flex, Cup (trimmed, 1-100 characters)."),
  league: z.enum(LEAGUES, { error: `must be one of ${LEAGUES.join(", ")}` }).nullish().describe("MLS NEXT league: Homegrown, Academy or Flex."),
  division: optionalText(200).describe("Division or conference, e.g. Northeast."),
  home_score: score.describe("Goals scored by the home team (whole number >= 0); given together with away_score or not at all."),
  away_score: score.describe("Goals scored by the away team (whole number >= 0); given together with home_score or not at all."),
  home_penalty_score: score.describe("Home penalty shootout goals; both penalty scores or neither, and only after a level score."),
  away_penalty_score: score.describe("Away penalty shootout goals; both penalty scores or neither, and only after a level score."),
  match_status: z
    .enum(MATCH_STATUSES, { error: `must be one of ${MATCH_STATUSES.join(", ")} (lower case)` })
    .nullish()
    .describe("Lower-case status; completed requires both scores. When absent: completed if both scores are given, otherwise scheduled."),
  external_match_id: optionalText(MAX_EXTERNAL_ID_CHARS).describe(`The source's match id (at most ${MAX_EXTERNAL_ID_CHARS} characters). When absent, a stable id is derived from league, age group, date and teams.`),
  scheduled_kickoff: instant.nullish().describe("Kick-off instant with a time zone offset (ISO 8601); stored as UTC."),
  match_time: z
    .string({ error: "must be text" })
    .regex(/^([01]\d|2[0-3]):[0-5]\d$/, "must be a 24-hour time written HH:MM")
    .nullish()
    .describe("Legacy local kick-off time HH:MM (24-hour); prefer scheduled_kickoff."),
  location: optionalText(500).describe("Venue or city, at most 500 characters."),
  notes: optionalText(2000).describe("Free text, at most 2000 characters."),
  source: optionalText(100).describe("Which scraper or feed produced the match, e.g. mlsnext-assist."),
  scraped_at: instant.nullish().describe("Instant the data was observed at the source, with offset; newer observations win."),
  schema_version: schemaVersionField
    .nullish()
    .describe("Contract version: 1 (or a string with major version 1, e.g. \"1.0\"). Absent means 1; another major version is refused."),
};

type ShapeOutput = z.output<z.ZodObject<typeof matchShape>>;

/** A module-level helper, not a closure per call: the rules run for every message the worker takes. */
function addRuleIssue(ctx: z.RefinementCtx, path: string, message: string, rule: string): void {
  ctx.addIssue({ code: "custom", path: [path], message, params: { rule } });
}

/** Cross-field rules shared by both readings; each names the field it is about. */
export function checkMatchRules(m: ShapeOutput, ctx: z.RefinementCtx): void {
  // A malformed date has its own issue already (isoDate); a well-formed one sorts as text.
  const date = m.match_date;
  if (typeof date === "string" && /^\d{4}-\d{2}-\d{2}$/.test(date) && (date < FIRST_MATCH_DATE || date > LAST_MATCH_DATE)) {
    addRuleIssue(ctx, "match_date", `must be from ${FIRST_MATCH_DATE} to ${LAST_MATCH_DATE}`, "range");
  }
  for (const field of TEXT_FIELDS) {
    const value = m[field];
    if (typeof value === "string" && !isStorableText(value)) addRuleIssue(ctx, field, NOT_STORABLE, "format");
  }
  // Field-level failures may leave a value of the wrong type here; their own issue says so.
  if (typeof m.home_team !== "string" || typeof m.away_team !== "string") return;
  if (m.home_team.toLowerCase().replace(/\s+/g, " ") === m.away_team.toLowerCase().replace(/\s+/g, " ")) {
    addRuleIssue(ctx, "away_team", "must be a different team from home_team", "different_teams");
  }
  const hasHome = m.home_score != null;
  const hasAway = m.away_score != null;
  if (hasHome !== hasAway) addRuleIssue(ctx, hasHome ? "away_score" : "home_score", "must be given together with the other score (both or neither)", "both_or_neither");
  const hasHomePen = m.home_penalty_score != null;
  const hasAwayPen = m.away_penalty_score != null;
  if (hasHomePen !== hasAwayPen) {
    addRuleIssue(ctx, hasHomePen ? "away_penalty_score" : "home_penalty_score", "must be given together with the other penalty score (both or neither)", "both_or_neither");
  } else if (hasHomePen && (!hasHome || !hasAway || m.home_score !== m.away_score)) {
    addRuleIssue(ctx, "home_penalty_score", "is only allowed after a level score (a penalty shootout follows a draw)", "level_score");
  }
  // A season far from the match's date is a producer's mistake (the original's rollover bug
  // stored matches under the wrong season); the season before or after is allowed: a fixture
  // postponed past July stays in its season.
  const named = typeof m.season === "string" ? seasonFirstYear(m.season) : undefined;
  if (named !== undefined && typeof date === "string" && /^\d{4}-\d{2}-\d{2}$/.test(date)) {
    const ofDate = seasonFirstYear(seasonForDate(date));
    if (ofDate !== undefined && Math.abs(named - ofDate) > 1) {
      addRuleIssue(ctx, "season", `must be the season of match_date (${seasonForDate(date)}) or one next to it`, "season_of_date");
    }
  }
  if (m.match_status === "completed" && (!hasHome || !hasAway)) {
    addRuleIssue(ctx, "match_status", "completed requires both home_score and away_score", "requires_scores");
  }
}

export const producerMatchSchema = z.strictObject(matchShape, { error: (iss) => (iss.code === "unrecognized_keys" ? `is not a field of MatchData v${SCHEMA_VERSION}` : "must be an object") }).superRefine(checkMatchRules);

export const consumerMatchSchema = z.looseObject(matchShape, { error: "must be an object" }).superRefine(checkMatchRules);

/** What a caller may hand to the producer (before normalisation). */
export type MatchDataInput = z.input<typeof producerMatchSchema>;

/** A validated, normalised match: what goes on the wire and what the worker stores. */
export interface MatchData {
  home_team: string;
  away_team: string;
  match_date: string;
  season: string;
  age_group: string;
  match_type: string;
  league?: League | null;
  division?: string | null;
  home_score?: number | null;
  away_score?: number | null;
  home_penalty_score?: number | null;
  away_penalty_score?: number | null;
  match_status: MatchStatus;
  external_match_id: string;
  scheduled_kickoff?: string | null;
  match_time?: string | null;
  location?: string | null;
  notes?: string | null;
  source?: string | null;
  scraped_at?: string | null;
  schema_version: typeof SCHEMA_VERSION;
}

/** Every field name of MatchData v1, in wire order. */
export const MATCH_FIELDS = Object.keys(matchShape) as (keyof typeof matchShape)[];
