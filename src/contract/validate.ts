/**
 * Validation and normalisation of MatchData on both sides of the queue.
 * Pure: no I/O. Errors name the field and the rule in plain words.
 */
import { createHash } from "node:crypto";
import type { z } from "zod";
import { PermanentError } from "../errors.js";
import {
  DEFAULT_LEAGUE,
  consumerMatchSchema,
  MATCH_FIELDS,
  producerMatchSchema,
  SCHEMA_VERSION,
  type MatchData,
  type MatchStatus,
} from "./match-data.js";
import { seasonForDate } from "./season.js";

export interface ContractIssue {
  /** The field the rule is about (`(message)` for the message as a whole). */
  field: string;
  /**
   * A short stable rule name: required, type, format, range, length, enum, unknown_field, version,
   * or a cross-field rule: different_teams, both_or_neither, level_score, requires_scores.
   */
  rule: string;
  /** Plain words, starting with the field: "away_team is required". */
  message: string;
}

export type ContractErrorCode = "contract_violation" | "schema_version_unsupported";

export class ContractViolation extends PermanentError {
  readonly issues: ContractIssue[];
  constructor(code: ContractErrorCode, issues: ContractIssue[]) {
    super(code, issues.map((i) => i.message).join("; "), { details: issues });
    this.name = "ContractViolation";
    this.issues = issues;
  }
}

export type ValidationResult =
  | { ok: true; match: MatchData; unknownFields: string[] }
  | { ok: false; code: ContractErrorCode; issues: ContractIssue[] };

/** The value a zod issue is about, looked up in the input by the issue's path (zod 4 issues do not carry it). */
export function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function ruleOf(issue: z.core.$ZodIssue, input: unknown): string {
  switch (issue.code) {
    case "invalid_type": {
      const value = valueAt(input, issue.path);
      return value === undefined || value === null ? "required" : "type";
    }
    case "too_big":
    case "too_small":
      return issue.origin === "string" ? "length" : "range";
    case "invalid_format":
      return "format";
    case "invalid_value":
      return "enum";
    case "unrecognized_keys":
      return "unknown_field";
    case "invalid_union":
      return "type";
    case "custom": {
      // Cross-field rules name themselves (match-data.ts passes `params.rule`).
      const rule: unknown = issue.params?.rule;
      return typeof rule === "string" ? rule : "rule";
    }
    default:
      return "rule";
  }
}

function toIssues(error: z.ZodError, input: unknown): ContractIssue[] {
  const out: ContractIssue[] = [];
  for (const issue of error.issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) out.push({ field: key, rule: "unknown_field", message: `${key} ${issue.message}` });
      continue;
    }
    const field = issue.path.length > 0 ? issue.path.map(String).join(".") : "(message)";
    out.push({ field, rule: ruleOf(issue, input), message: `${field} ${issue.message}` });
  }
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * A stable id for a match that arrived without one, so retries and re-scrapes still upsert. A
 * match without a league is stored in DEFAULT_LEAGUE, so naming it must not make another match:
 * both hash as no league (the form ids were first derived from; kept so that stored ids stay).
 */
export function derivedExternalId(m: { league?: string | null; age_group: string; match_date: string; home_team: string; away_team: string }): string {
  const league = m.league?.trim() === DEFAULT_LEAGUE ? "" : (m.league ?? "");
  const key = [league, m.age_group, m.match_date, m.home_team, m.away_team].map((s) => s.toLowerCase().replace(/\s+/g, " ").trim()).join("|");
  return `mf-${createHash("sha256").update(key).digest("hex").slice(0, 24)}`;
}

function defaultStatus(m: { home_score?: number | null; away_score?: number | null }): MatchStatus {
  return m.home_score != null && m.away_score != null ? "completed" : "scheduled";
}

type Parsed = z.output<typeof producerMatchSchema>;

const OPTIONAL_FIELDS = ["league", "division", "home_score", "away_score", "home_penalty_score", "away_penalty_score", "match_time", "location", "notes", "source"] as const;

/** What `Date#toISOString` writes: such an instant is already canonical UTC. */
const CANONICAL_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** An instant's seconds, its fraction beyond milliseconds, and its offset. */
const FINE_INSTANT = /^(.*T\d{2}:\d{2}:\d{2})\.(\d{4,})(.*)$/;

/**
 * An instant (already checked by the schema, calendar included) in UTC, as `toISOString` writes
 * it. Producers, ours included, mostly send that form already: returned as is, which spares the
 * worker a date parse and format per field (~0.5 us each). A finer fraction (Python's
 * `isoformat()` writes microseconds) is kept: PostgreSQL stores it, and two observations within
 * one millisecond are ordered by it (db/upsert.ts).
 */
function utcInstant(instant: string): string {
  if (CANONICAL_INSTANT.test(instant)) return instant;
  const fine = FINE_INSTANT.exec(instant);
  if (!fine) return new Date(instant).toISOString();
  const seconds = new Date(`${fine[1] ?? ""}${fine[3] ?? ""}`).toISOString(); // ...:SS.000Z
  return `${seconds.slice(0, -5)}.${fine[2] ?? ""}Z`;
}

/** Fills what v1 derives (season, status, external id), converts instants to UTC, drops nulls. */
function normalise(p: Parsed): MatchData {
  const match: MatchData = {
    // The id first: it leads the message body and the `argsrepr` header, which the publisher
    // cuts short (PUBLISH_ARGSREPR_MAX), so Flower and worker logs still name the match.
    // An empty id (after trimming) is no id: derive one, or every id-less match would collide on "".
    external_match_id: p.external_match_id || derivedExternalId(p),
    home_team: p.home_team,
    away_team: p.away_team,
    match_date: p.match_date,
    season: p.season ?? seasonForDate(p.match_date),
    age_group: p.age_group,
    match_type: p.match_type,
    match_status: p.match_status ?? defaultStatus(p),
    schema_version: SCHEMA_VERSION,
  };
  for (const key of OPTIONAL_FIELDS) {
    const value = p[key];
    if (value !== undefined && value !== null && value !== "") (match as unknown as Record<string, unknown>)[key] = value;
  }
  if (p.scheduled_kickoff) match.scheduled_kickoff = utcInstant(p.scheduled_kickoff);
  if (p.scraped_at) match.scraped_at = utcInstant(p.scraped_at);
  return match;
}

/** Producer side: strict. An unknown field is an error: nothing outside the schema is sent. */
export function validateForProducer(input: unknown): ValidationResult {
  if (!isPlainObject(input)) return { ok: false, code: "contract_violation", issues: [{ field: "(message)", rule: "type", message: "a match must be a JSON object" }] };
  const parsed = producerMatchSchema.safeParse(input);
  if (!parsed.success) return { ok: false, code: "contract_violation", issues: toIssues(parsed.error, input) };
  return { ok: true, match: normalise(parsed.data), unknownFields: [] };
}

// Built once: the worker validates every delivery (a Set per call was a tenth of its garbage).
const KNOWN_FIELDS: ReadonlySet<string> = new Set<string>(MATCH_FIELDS);
/** Shared by every result without unknown fields; frozen, so a caller that pushes fails loudly. */
const NO_FIELDS = Object.freeze([]) as unknown as string[];

/**
 * Consumer side: tolerant of additions. Unknown fields are returned so the caller can log and
 * count them (the raw message, stored as received, keeps them). A different major
 * `schema_version` is refused before anything else.
 */
export function validateForConsumer(input: unknown): ValidationResult {
  if (!isPlainObject(input)) return { ok: false, code: "contract_violation", issues: [{ field: "(message)", rule: "type", message: "a match must be a JSON object" }] };
  const version = input.schema_version;
  if (version !== undefined && version !== null) {
    const major = typeof version === "number" ? version : typeof version === "string" ? Number(version.split(".")[0]) : NaN;
    if (major !== SCHEMA_VERSION) {
      return {
        ok: false,
        code: "schema_version_unsupported",
        issues: [{ field: "schema_version", rule: "version", message: `schema_version ${JSON.stringify(version)} is not supported (this worker reads major version ${SCHEMA_VERSION})` }],
      };
    }
  }
  const parsed = consumerMatchSchema.safeParse(input);
  if (!parsed.success) return { ok: false, code: "contract_violation", issues: toIssues(parsed.error, input) };
  let unknownFields = NO_FIELDS;
  for (const key in input) {
    if (!Object.hasOwn(input, key) || KNOWN_FIELDS.has(key)) continue;
    if (unknownFields === NO_FIELDS) unknownFields = [];
    unknownFields.push(key);
  }
  return { ok: true, match: normalise(parsed.data), unknownFields };
}

/** Throwing form for callers that want an exception. */
export function assertValid(result: ValidationResult): { match: MatchData; unknownFields: string[] } {
  if (!result.ok) throw new ContractViolation(result.code, result.issues);
  return { match: result.match, unknownFields: result.unknownFields };
}
