/**
 * The set-based match upsert: one statement for a whole batch, keyed on `external_match_id`.
 * Its input is one parameter per column, a typed array (`unnest($1::text[])`, ...), zipped back
 * into rows by `ROWS FROM`, plus the matches as received in one JSON array. The statement costs
 * PostgreSQL about a fifth less that way than reading every value out of one JSON document
 * (`jsonb_to_recordset`, the previous form; docs/performance-rounds.md).
 *
 * The monotonic rules live in the WHERE of `DO UPDATE`, so a row the rules protect is never
 * written (its `updated_at` stays put):
 * - `score_locked` rows never change;
 * - an observation older than the row's `observed_at` changes nothing;
 * - a `manual` postponed/cancelled status survives unless the new data has a score or a new date;
 * - a result (completed, with its scores) survives a newer observation that has no score and says
 *   only scheduled or tbd on the same date: a feed that drops a result (a partial sync, an event
 *   copied back without its score) wiped it, though it is the feed's regression, not the match's
 *   (lessons: "a re-scrape could overwrite newer results"). A new date, a cancellation, a
 *   postponement or another score still apply;
 * - identical data changes only `observed_at` and `observed_task_id`, when the observation is
 *   newer (nothing else, not `updated_at`; an older one writes nothing). Without that, an older
 *   observation delivered late (a retry, a `dlq requeue` days later) was applied over a newer
 *   identical one that had been skipped: the row went back to what the feed said before.
 *
 * "Newer" compares an observation's key, (observed_at, task id), with the row's (`observed_at`,
 * `observed_task_id`; none sorts first), task ids byte by byte (`COLLATE "C"`, as `Buffer.compare`
 * in upsert.ts): two observations of the same instant that disagree leave the row with the one
 * of the greater task id, whatever order they arrive in (migration 0006). The same key again (a
 * redelivery) applies only when the data it resolves to changed (a team alias added since).
 * The keep rules make the status and the scores depend on more than the newest observation, so
 * the row also keeps the key after which every observation was one a result survives
 * (`status_observed_at`, `status_task_id`) and the status the newest one said (`feed_status`):
 * an older observation that arrives late still counts for the status and scores when it is after
 * that key (late-observation-sql.ts), so every order of the same observations leaves the same
 * row (migration 0007).
 */

import { intArrayLiteral, textArrayLiteral } from "./array-literal.js";
import { jsonbText } from "./jsonb-text.js";

/** Columns of `matches` that the scraper's data determines (what "changed" compares). */
const DATA_COLUMNS = [
  "league_id",
  "home_team_id",
  "away_team_id",
  "match_date",
  "scheduled_kickoff",
  "match_time",
  "home_score",
  "away_score",
  "home_penalty_score",
  "away_penalty_score",
  "season_id",
  "age_group_id",
  "division_id",
  "match_type_id",
  "location",
  "source",
  "notes",
] as const;

/** One row of the statement's input. */
export interface UpsertRow {
  external_match_id: string;
  league_id: number;
  home_team_id: number;
  away_team_id: number;
  match_date: string;
  scheduled_kickoff: string | null;
  match_time: string | null;
  home_score: number | null;
  away_score: number | null;
  home_penalty_score: number | null;
  away_penalty_score: number | null;
  match_status: string;
  season_id: number;
  age_group_id: number;
  division_id: number | null;
  match_type_id: number;
  location: string | null;
  source: string | null;
  notes: string | null;
  observed_at: string;
  last_task_id: string;
  raw: unknown;
}

/**
 * The statement's scalar input, in parameter order ($1, $2, ...): each column is sent as one
 * array literal of its type. `raw` follows as the last parameter, a JSON array.
 */
type InputColumn =
  | { name: keyof UpsertRow; type: "int"; int: (r: UpsertRow) => number | null }
  | { name: keyof UpsertRow; type: "text" | "date" | "timestamptz"; text: (r: UpsertRow) => string | null };

// Explicit getters rather than `row[name]`: one shape per call site keeps the encoding loops fast.
export const INPUT_COLUMNS: readonly InputColumn[] = [
  { name: "external_match_id", type: "text", text: (r) => r.external_match_id },
  { name: "league_id", type: "int", int: (r) => r.league_id },
  { name: "home_team_id", type: "int", int: (r) => r.home_team_id },
  { name: "away_team_id", type: "int", int: (r) => r.away_team_id },
  { name: "match_date", type: "date", text: (r) => r.match_date },
  { name: "scheduled_kickoff", type: "timestamptz", text: (r) => r.scheduled_kickoff },
  { name: "match_time", type: "text", text: (r) => r.match_time },
  { name: "home_score", type: "int", int: (r) => r.home_score },
  { name: "away_score", type: "int", int: (r) => r.away_score },
  { name: "home_penalty_score", type: "int", int: (r) => r.home_penalty_score },
  { name: "away_penalty_score", type: "int", int: (r) => r.away_penalty_score },
  { name: "match_status", type: "text", text: (r) => r.match_status },
  { name: "season_id", type: "int", int: (r) => r.season_id },
  { name: "age_group_id", type: "int", int: (r) => r.age_group_id },
  { name: "division_id", type: "int", int: (r) => r.division_id },
  { name: "match_type_id", type: "int", int: (r) => r.match_type_id },
  { name: "location", type: "text", text: (r) => r.location },
  { name: "source", type: "text", text: (r) => r.source },
  { name: "notes", type: "text", text: (r) => r.notes },
  { name: "observed_at", type: "timestamptz", text: (r) => r.observed_at },
  { name: "last_task_id", type: "text", text: (r) => r.last_task_id },
];

/** The statement's parameters for `rows`: one array literal per input column, then `raw` as JSON. */
export function upsertMatchesParams(rows: readonly UpsertRow[]): string[] {
  const params = INPUT_COLUMNS.map((c) => (c.type === "int" ? intArrayLiteral(rows, c.int) : textArrayLiteral(rows, c.text)));
  params.push(jsonbText(JSON.stringify(rows.map((r) => r.raw))));
  return params;
}

/**
 * `ROWS FROM` zips the arrays side by side (the first elements form the first row, ...);
 * `jsonb_array_elements` gives each row its `raw` in the same order.
 */
const INPUT_ROWS = `ROWS FROM (${INPUT_COLUMNS.map((c, i) => `unnest($${i + 1}::${c.type}[])`).join(", ")},
                 jsonb_array_elements($${INPUT_COLUMNS.length + 1}::jsonb))
       AS x(${INPUT_COLUMNS.map((c) => c.name).join(", ")}, raw)`;

/** An observation a stored result survives: no score, and only scheduled or tbd (on the row's date, checked apart). */
export const keepable = (x: string): string => `(${x}.home_score IS NULL AND ${x}.match_status IN ('scheduled', 'tbd'))`;

/** The inserted columns that are not the input's namesakes. */
const INSERT_EXPRESSIONS: Readonly<Record<string, string>> = {
  observed_task_id: "x.last_task_id",
  // A first observation a result would survive leaves room for any older result: -infinity.
  status_observed_at: `CASE WHEN ${keepable("x")} THEN '-infinity'::timestamptz ELSE x.observed_at END`,
  status_task_id: `CASE WHEN ${keepable("x")} THEN NULL ELSE x.last_task_id END`,
  feed_status: "x.match_status",
};

const INSERT_COLUMNS = ["external_match_id", ...DATA_COLUMNS, "match_status", "observed_at", "last_task_id", "raw", ...Object.keys(INSERT_EXPRESSIONS)];

/** The input an inserted column takes: its namesake, or its expression above. */
const insertValue = (column: string): string => INSERT_EXPRESSIONS[column] ?? `x.${column}`;

/** True when a person's postponed/cancelled status must survive this observation. */
const KEEP_MANUAL_STATUS = `(m.status_set_by = 'manual' AND m.match_status IN ('postponed', 'cancelled')
  AND EXCLUDED.home_score IS NULL AND EXCLUDED.match_date = m.match_date)`;

/** True when the stored result must survive this observation (no score, not played yet, same date). */
const KEEP_RESULT = `(m.match_status = 'completed' AND m.home_score IS NOT NULL
  AND ${keepable("EXCLUDED")} AND EXCLUDED.match_date = m.match_date)`;

const NEW_STATUS = `CASE WHEN ${KEEP_MANUAL_STATUS} OR ${KEEP_RESULT} THEN m.match_status ELSE EXCLUDED.match_status END`;

/** The columns a kept result keeps from the row. */
const RESULT_COLUMNS: ReadonlySet<string> = new Set(["home_score", "away_score", "home_penalty_score", "away_penalty_score"]);

/** The value a column gets from this observation. */
function newValue(column: (typeof DATA_COLUMNS)[number]): string {
  return RESULT_COLUMNS.has(column) ? `CASE WHEN ${KEEP_RESULT} THEN m.${column} ELSE EXCLUDED.${column} END` : `EXCLUDED.${column}`;
}

/** Key `a` (instant, task id) is after key `b`: a later instant, or the same one and a greater task id byte by byte (no id first). */
export const keyAfter = (aAt: string, aId: string, bAt: string, bId: string): string =>
  `(${aAt} > ${bAt} OR (${aAt} = ${bAt} AND (${bId} IS NULL OR ${aId} COLLATE "C" > ${bId} COLLATE "C")))`;

/** The observation's key, (observed_at, task id), is after the row's (a row without one: any is). */
const KEY_NEWER = `(m.observed_at IS NULL OR ${keyAfter("EXCLUDED.observed_at", "EXCLUDED.last_task_id", "m.observed_at", "m.observed_task_id")})`;

/** The row holds this very observation (a redelivery). */
const KEY_SAME = `(EXCLUDED.observed_at = m.observed_at AND EXCLUDED.last_task_id = m.observed_task_id)`;

/** The observation differs from the row in its data or its status. */
const CHANGED = `(ROW(${DATA_COLUMNS.map((c) => `m.${c}`).join(", ")}, m.match_status)
       IS DISTINCT FROM ROW(${DATA_COLUMNS.map(newValue).join(", ")}, ${NEW_STATUS}))`;

/**
 * The row's status key after this observation (`at`: the instant, `id`: the task id): the same
 * when it is the row's own observation again; this one's when a result would not survive it (a
 * score, a status other than scheduled or tbd); the row's previous key when it moves the match to
 * another date (every older observation is of another date); else unchanged, read as the row's
 * key when it was written before migration 0007.
 */
function newStatusKey(part: "at" | "id"): string {
  const [status, excluded, observed] = part === "at" ? ["status_observed_at", "observed_at", "observed_at"] : ["status_task_id", "last_task_id", "observed_task_id"];
  return `CASE WHEN ${KEY_SAME} THEN m.${status}
       WHEN NOT ${keepable("EXCLUDED")} THEN EXCLUDED.${excluded}
       WHEN EXCLUDED.match_date <> m.match_date OR m.status_observed_at IS NULL THEN m.${observed}
       ELSE m.${status} END`;
}

/**
 * Parameters: `upsertMatchesParams(rows)`. Returns rows written: id, external_match_id, inserted,
 * and `changed` (false: identical data, only its newer `observed_at` written; `updated_at`, set to
 * the transaction's `now()` by a change, is left as it was).
 */
export const UPSERT_MATCHES_SQL = `
INSERT INTO matches AS m (${INSERT_COLUMNS.join(", ")})
SELECT ${INSERT_COLUMNS.map(insertValue).join(", ")}
  FROM ${INPUT_ROWS}
 ORDER BY x.external_match_id
ON CONFLICT (external_match_id) DO UPDATE SET
  ${DATA_COLUMNS.map((c) => `${c} = ${newValue(c)}`).join(",\n  ")},
  match_status = ${NEW_STATUS},
  status_set_by = CASE WHEN ${KEEP_MANUAL_STATUS} THEN m.status_set_by ELSE 'scraper' END,
  observed_at = EXCLUDED.observed_at,
  observed_task_id = EXCLUDED.last_task_id,
  status_observed_at = ${newStatusKey("at")},
  status_task_id = ${newStatusKey("id")},
  feed_status = EXCLUDED.match_status,
  last_task_id = CASE WHEN ${CHANGED} THEN EXCLUDED.last_task_id ELSE m.last_task_id END,
  raw = CASE WHEN ${CHANGED} THEN EXCLUDED.raw ELSE m.raw END,
  updated_at = CASE WHEN ${CHANGED} THEN now() ELSE m.updated_at END
WHERE NOT m.score_locked
  AND (${KEY_NEWER} OR (${KEY_SAME} AND ${CHANGED}))
RETURNING m.id, m.external_match_id, (m.xmax = 0) AS inserted, (m.updated_at = now()) AS changed`;

/** Why a row `m` was left as it was by an observation `x` (external_match_id, observed_at, match_status, task_id). */
export const REASON_COLUMNS = `m.id, m.external_match_id, m.score_locked AS locked,
       coalesce(${keyAfter("m.observed_at", "m.observed_task_id", "x.observed_at", "x.task_id")}, false) AS stale,
       (m.status_set_by = 'manual' AND m.match_status IN ('postponed', 'cancelled') AND m.match_status <> x.match_status) AS manual,
       (m.match_status = 'completed' AND x.match_status IN ('scheduled', 'tbd')) AS kept_result`;

/**
 * Why rows the upsert did not write were left alone. Runs after the upsert, in the same
 * transaction, on rows the upsert locked. Parameters: `unchangedReasonsParams(rows)`.
 */
export const UNCHANGED_REASONS_SQL = `
SELECT ${REASON_COLUMNS}
  FROM ROWS FROM (unnest($1::text[]), unnest($2::timestamptz[]), unnest($3::text[]), unnest($4::text[])) AS x(external_match_id, observed_at, match_status, task_id)
  JOIN matches m ON m.external_match_id = x.external_match_id`;

export function unchangedReasonsParams(rows: readonly UpsertRow[]): string[] {
  return [
    textArrayLiteral(rows, (r) => r.external_match_id),
    textArrayLiteral(rows, (r) => r.observed_at),
    textArrayLiteral(rows, (r) => r.match_status),
    textArrayLiteral(rows, (r) => r.last_task_id),
  ];
}
