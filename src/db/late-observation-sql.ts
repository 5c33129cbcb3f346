/**
 * What an observation older than the row's still changes: its status and scores, when the keep
 * rules would have let them stand had it come in time. The upsert (upsert-sql.ts) applies only
 * observations newer than the row's; this statement runs on the ones it left alone, in the same
 * transaction, so that every order of the same observations leaves the same row.
 *
 * The row's status key (`status_observed_at`, `status_task_id`, migration 0007) is the newest
 * observation after which every one the row took was one a result survives (no score, scheduled
 * or tbd, on the row's date). A late observation after that key:
 * - a result on the row's date: had it come in time, every newer observation would have kept it,
 *   so it is the row's status and score now;
 * - one a result survives on the row's date: it would have changed nothing; it is not written;
 * - anything else (a score that is not a result, a cancellation, another date): it would have
 *   ended a result kept until then, so the row takes the newest observation's own status
 *   (`feed_status`, without a score: every observation after the key has none) unless a person's
 *   postponed/cancelled status holds against it as against a newer one (no score, same date).
 * Either way the key moves to this observation. Only the status, the scores, `status_set_by`
 * and the key change; what changed data sets, as the upsert does: `last_task_id`, `raw`,
 * `updated_at`. A late observation before the key, or any on a row written before migration
 * 0007 (no key), changes nothing.
 */

import { intArrayLiteral, textArrayLiteral } from "./array-literal.js";
import { jsonbText } from "./jsonb-text.js";
import { REASON_COLUMNS, keepable, keyAfter, type UpsertRow } from "./upsert-sql.js";

const SCORES = ["home_score", "away_score", "home_penalty_score", "away_penalty_score"] as const;

const IS_RESULT = "(x.match_status = 'completed' AND x.home_score IS NOT NULL AND x.match_date = m.match_date)";
const KEEPS_MANUAL = `(m.status_set_by = 'manual' AND m.match_status IN ('postponed', 'cancelled')
  AND x.home_score IS NULL AND x.match_date = m.match_date)`;

const NEW_STATUS = `CASE WHEN ${IS_RESULT} THEN x.match_status WHEN ${KEEPS_MANUAL} THEN m.match_status
  ELSE coalesce(m.feed_status, m.match_status) END`;
const newScore = (c: (typeof SCORES)[number]): string => `CASE WHEN ${IS_RESULT} THEN x.${c} WHEN ${KEEPS_MANUAL} THEN m.${c} ELSE NULL END`;

const CHANGED = `(ROW(m.match_status, ${SCORES.map((c) => `m.${c}`).join(", ")})
  IS DISTINCT FROM ROW(${NEW_STATUS}, ${SCORES.map(newScore).join(", ")}))`;

/**
 * Parameters: `lateObservationParams(rows)`, at most one row per match. Returns, per input row
 * whose match exists, the reasons the unchanged-reasons statement gives (from the row as it was
 * before) and `changed`: the late observation changed its status or scores.
 */
export const LATE_OBSERVATIONS_SQL = `
WITH x AS (
  SELECT * FROM ROWS FROM (unnest($1::text[]), unnest($2::timestamptz[]), unnest($3::text[]), unnest($4::text[]), unnest($5::date[]),
                           ${SCORES.map((_, i) => `unnest($${i + 6}::int[])`).join(", ")}, jsonb_array_elements($10::jsonb))
    AS x(external_match_id, observed_at, match_status, task_id, match_date, ${SCORES.join(", ")}, raw)
), late AS (
  UPDATE matches m SET
    match_status = ${NEW_STATUS},
    ${SCORES.map((c) => `${c} = ${newScore(c)}`).join(",\n    ")},
    status_set_by = CASE WHEN ${KEEPS_MANUAL} THEN m.status_set_by ELSE 'scraper' END,
    status_observed_at = x.observed_at,
    status_task_id = x.task_id,
    last_task_id = CASE WHEN ${CHANGED} THEN x.task_id ELSE m.last_task_id END,
    raw = CASE WHEN ${CHANGED} THEN x.raw ELSE m.raw END,
    updated_at = CASE WHEN ${CHANGED} THEN now() ELSE m.updated_at END
  FROM x
  WHERE m.external_match_id = x.external_match_id
    AND NOT m.score_locked
    AND m.status_observed_at IS NOT NULL
    AND ${keyAfter("m.observed_at", "m.observed_task_id", "x.observed_at", "x.task_id")}
    AND ${keyAfter("x.observed_at", "x.task_id", "m.status_observed_at", "m.status_task_id")}
    AND NOT (${keepable("x")} AND x.match_date = m.match_date)
  RETURNING m.external_match_id, m.match_status, ${SCORES.map((c) => `m.${c}`).join(", ")}
)
SELECT ${REASON_COLUMNS},
       (l.external_match_id IS NOT NULL
        AND ROW(l.match_status, ${SCORES.map((c) => `l.${c}`).join(", ")}) IS DISTINCT FROM ROW(m.match_status, ${SCORES.map((c) => `m.${c}`).join(", ")})) AS changed
  FROM x
  JOIN matches m ON m.external_match_id = x.external_match_id
  LEFT JOIN late l ON l.external_match_id = x.external_match_id`;

export function lateObservationParams(rows: readonly UpsertRow[]): string[] {
  return [
    textArrayLiteral(rows, (r) => r.external_match_id),
    textArrayLiteral(rows, (r) => r.observed_at),
    textArrayLiteral(rows, (r) => r.match_status),
    textArrayLiteral(rows, (r) => r.last_task_id),
    textArrayLiteral(rows, (r) => r.match_date),
    ...SCORES.map((c) => intArrayLiteral(rows, (r) => r[c])),
    jsonbText(JSON.stringify(rows.map((r) => r.raw))),
  ];
}
