/**
 * Writes a batch of matches in the caller's transaction, keyed on `external_match_id`, and
 * reports per match `created`, `updated` or `unchanged` (with the reason), or the permanent
 * error that keeps that one match out. One set-based statement per batch; when the database
 * rejects a value in it, each match is retried alone behind a SAVEPOINT so that only the
 * offending one fails and its neighbours still land.
 */
import type { MatchData } from "../contract/index.js";
import { PermanentError, TransientError, type MatchflowError } from "../errors.js";
import type { Queryable } from "./database.js";
import { classifyDbError, isDataError } from "./errors.js";
import { isResolved, type ResolvedIds, type ResolveResult } from "./resolve.js";
import { UNCHANGED_REASONS_SQL, UPSERT_MATCHES_SQL, unchangedReasonsParams, upsertMatchesParams, type UpsertRow } from "./upsert-sql.js";

export interface UpsertItem {
  match: MatchData;
  /** The match exactly as received (unknown fields included): stored in `matches.raw`. */
  raw: unknown;
  taskId: string;
  /** ISO instant: the match's `scraped_at`, or the delivery time when it has none. */
  observedAt: string;
}

/**
 * Why a match was left as it was. `stale`: the row holds a newer observation (a later instant, or
 * the same instant from a task of a greater id); `same`: the observation says what the row does.
 */
export type UnchangedReason = "stale" | "locked" | "manual_status" | "kept_result" | "same";

export interface UpsertOutcome {
  outcome: "created" | "updated" | "unchanged";
  matchId: number;
  reason?: UnchangedReason;
}

export type UpsertResult = UpsertOutcome | MatchflowError;

export function isUpsertOutcome(r: UpsertResult): r is UpsertOutcome {
  return !(r instanceof Error);
}

interface Written {
  id: number | string;
  external_match_id: string;
  inserted: boolean;
  /** False: the data was the row's already, only the newer observation time was written. */
  changed: boolean;
}

interface Reason {
  id: number | string;
  external_match_id: string;
  locked: boolean;
  stale: boolean;
  manual: boolean;
  kept_result: boolean;
}

export function toUpsertRow(item: UpsertItem, ids: ResolvedIds): UpsertRow {
  const m = item.match;
  return {
    external_match_id: m.external_match_id,
    league_id: ids.leagueId,
    home_team_id: ids.homeTeamId,
    away_team_id: ids.awayTeamId,
    match_date: m.match_date,
    scheduled_kickoff: m.scheduled_kickoff ?? null,
    match_time: m.match_time ?? null,
    home_score: m.home_score ?? null,
    away_score: m.away_score ?? null,
    home_penalty_score: m.home_penalty_score ?? null,
    away_penalty_score: m.away_penalty_score ?? null,
    match_status: m.match_status,
    season_id: ids.seasonId,
    age_group_id: ids.ageGroupId,
    division_id: ids.divisionId,
    match_type_id: ids.matchTypeId,
    location: m.location ?? null,
    source: m.source ?? null,
    notes: m.notes ?? null,
    observed_at: item.observedAt,
    last_task_id: item.taskId,
    raw: item.raw === undefined ? null : item.raw,
  };
}

/**
 * An observation time as PostgreSQL's timestamptz holds it: whole seconds (ms since the epoch) and
 * microseconds, rounded as PostgreSQL rounds. `Date.parse` alone keeps milliseconds, so two
 * observations in one millisecond (Python's `isoformat()` writes microseconds) tied, and the later
 * one in the batch won even when it was the older: an older observation hid a newer one.
 */
interface Instant {
  seconds: number;
  micros: number;
}

const FRACTION = /(T\d{2}:\d{2}:\d{2})\.(\d+)/;

function parseInstant(iso: string): Instant {
  const fraction = FRACTION.exec(iso);
  const seconds = Date.parse(fraction ? iso.replace(FRACTION, "$1") : iso);
  const micros = fraction ? Math.round(Number(`0.${fraction[2] ?? "0"}`) * 1e6) : 0;
  return micros === 1e6 ? { seconds: seconds + 1000, micros: 0 } : { seconds, micros };
}

function compareInstants(a: Instant, b: Instant): number {
  return a.seconds !== b.seconds ? a.seconds - b.seconds : a.micros - b.micros;
}

/**
 * Orders two observations as the upsert's WHERE does (upsert-sql.ts): by instant, then by task
 * id byte by byte (PostgreSQL's `COLLATE "C"`), so that a batch keeps the twin the row would keep
 * had they come one by one. 0: the same observation.
 */
function compareObservations(a: { instant: Instant; taskId: string }, b: { instant: Instant; taskId: string }): number {
  return compareInstants(a.instant, b.instant) || Buffer.compare(Buffer.from(a.taskId), Buffer.from(b.taskId));
}

/** Named prepared statements (see QueryOptions.prepare): one name per SQL text. */
const UPSERT = { prepare: "mf_upsert_matches" };
const UNCHANGED = { prepare: "mf_unchanged_reasons" };

/** Parses and plans the upsert on one connection by running it on an empty batch (writes nothing). */
export async function prepareUpsert(q: Queryable): Promise<void> {
  await q.query(UPSERT_MATCHES_SQL, upsertMatchesParams([]), UPSERT);
}

/** Runs the set statement for `rows`; returns outcomes by external id. */
async function writeRows(tx: Queryable, rows: UpsertRow[]): Promise<Map<string, UpsertOutcome>> {
  const out = new Map<string, UpsertOutcome>();
  if (rows.length === 0) return out;
  const { rows: written } = await tx.query<Written>(UPSERT_MATCHES_SQL, upsertMatchesParams(rows), UPSERT);
  // A row whose data was already the same (only its newer observation time written) is unchanged: why is asked below.
  for (const w of written) if (w.inserted || w.changed) out.set(w.external_match_id, { outcome: w.inserted ? "created" : "updated", matchId: Number(w.id) });

  const untouched = rows.filter((r) => !out.has(r.external_match_id));
  if (untouched.length > 0) {
    const { rows: reasons } = await tx.query<Reason>(UNCHANGED_REASONS_SQL, unchangedReasonsParams(untouched), UNCHANGED);
    for (const r of reasons) {
      const reason: UnchangedReason = r.locked ? "locked" : r.stale ? "stale" : r.manual ? "manual_status" : r.kept_result ? "kept_result" : "same";
      out.set(r.external_match_id, { outcome: "unchanged", matchId: Number(r.id), reason });
    }
  }
  return out;
}

/** The one-by-one path: each row behind its own SAVEPOINT, data errors become that row's result. */
async function writeRowsOneByOne(tx: Queryable, rows: UpsertRow[]): Promise<Map<string, UpsertResult>> {
  const out = new Map<string, UpsertResult>();
  for (const row of rows) {
    await tx.query("SAVEPOINT mf_upsert_item");
    try {
      const one = await writeRows(tx, [row]);
      await tx.query("RELEASE SAVEPOINT mf_upsert_item");
      for (const [k, v] of one) out.set(k, v);
    } catch (err) {
      if (!isDataError(err)) throw err;
      await tx.query("ROLLBACK TO SAVEPOINT mf_upsert_item");
      const c = classifyDbError(err);
      out.set(row.external_match_id, new PermanentError(c.code, `match ${row.external_match_id} rejected by the database: ${c.message}`, { cause: err, details: c.details }));
    }
  }
  return out;
}

/**
 * Upserts `items` (resolved ids in `ids`, same order). Duplicate external ids in one batch (a
 * redelivery) are written once, with the newest observation; the others report `unchanged`.
 */
export interface UpsertOptions {
  /**
   * true (default): the batch statement runs behind a SAVEPOINT, and a data error falls back to
   * one item at a time so that only the offending match fails. false: no savepoint (two round
   * trips fewer): a data error fails the statement and the caller's transaction, and the caller
   * runs the batch again with `isolateFailures: true` (the worker's store does exactly that).
   */
  isolateFailures?: boolean;
}

export async function upsertMatches(tx: Queryable, items: readonly UpsertItem[], ids: readonly ResolveResult[], options: UpsertOptions = {}): Promise<UpsertResult[]> {
  if (ids.length !== items.length) throw new Error(`upsertMatches: ${items.length} items but ${ids.length} resolved ids`);
  const results: (UpsertResult | undefined)[] = items.map(() => undefined);
  /** external id -> index of the newest observation in the batch. */
  const winners = new Map<string, number>();
  /** external id -> every index of it, for the ids the batch holds more than once. */
  const twins = new Map<string, number[]>();
  // Microsecond instants only where two items of the batch share an external id (a redelivery):
  // parsing every item's text costs a regular expression and a string copy on the hot path.
  const instants: (Instant | undefined)[] = [];
  const instantOf = (i: number): Instant => (instants[i] ??= parseInstant((items[i] as UpsertItem).observedAt));
  const observationOf = (i: number) => ({ instant: instantOf(i), taskId: (items[i] as UpsertItem).taskId });

  items.forEach((item, i) => {
    const resolved = ids[i];
    const externalId = item.match.external_match_id;
    if (resolved === undefined || !isResolved(resolved)) {
      results[i] = resolved ?? new PermanentError("unresolved_name", "no resolved ids for this match");
      return;
    }
    if (typeof externalId !== "string" || externalId.trim() === "") {
      results[i] = new PermanentError("db_data", "external_match_id is required to store a match");
      return;
    }
    if (Number.isNaN(Date.parse(item.observedAt))) {
      results[i] = new PermanentError("db_data", `observed time "${item.observedAt}" is not an ISO instant`);
      return;
    }
    const current = winners.get(externalId);
    if (current !== undefined) twins.set(externalId, [...(twins.get(externalId) ?? [current]), i]);
    // Ties go to the later item: the later delivery of the same observation.
    if (current === undefined || compareObservations(observationOf(i), observationOf(current)) >= 0) winners.set(externalId, i);
  });

  const rows: UpsertRow[] = [];
  for (const i of winners.values()) {
    const item = items[i];
    const resolved = ids[i];
    if (item && resolved && isResolved(resolved)) rows.push(toUpsertRow(item, resolved));
  }

  let written: Map<string, UpsertResult>;
  if (options.isolateFailures === false) {
    written = await writeRows(tx, rows);
  } else {
    await tx.query("SAVEPOINT mf_upsert_batch");
    try {
      written = await writeRows(tx, rows);
      await tx.query("RELEASE SAVEPOINT mf_upsert_batch");
    } catch (err) {
      if (!isDataError(err)) throw err;
      await tx.query("ROLLBACK TO SAVEPOINT mf_upsert_batch");
      written = await writeRowsOneByOne(tx, rows);
    }
  }
  const refused = await writeOlderTwins(tx, { items, ids, winners, twins, written, observationOf });

  return items.map((item, i) => {
    const earlier = results[i] ?? refused.get(i);
    if (earlier) return earlier;
    const externalId = item.match.external_match_id;
    const result = written.get(externalId);
    if (!result) return new TransientError("db_unknown", `match ${externalId} was neither written nor found after the upsert`);
    if (winners.get(externalId) === i || !isUpsertOutcome(result)) return result;
    // A duplicate inside the batch: the newest observation went in its place. A locked row is
    // locked for all; an older one is stale; the same one (a redelivery) shares what happened to
    // it, "same" if it was written.
    const winner = winners.get(externalId) ?? i;
    const left = result.outcome === "unchanged" ? result.reason : undefined;
    const reason = left === "locked" ? left : compareObservations(observationOf(i), observationOf(winner)) < 0 ? "stale" : (left ?? "same");
    return { outcome: "unchanged", matchId: result.matchId, reason };
  });
}

interface Twins {
  items: readonly UpsertItem[];
  ids: readonly ResolveResult[];
  /** Updated here: the index written (or last tried) for each external id. */
  winners: Map<string, number>;
  twins: ReadonlyMap<string, readonly number[]>;
  /** Updated here with what the older twins' writes gave. */
  written: Map<string, UpsertResult>;
  observationOf: (i: number) => { instant: Instant; taskId: string };
}

/**
 * A newest twin the database refused (a data error: an operator's CHECK, say) leaves its match to
 * the next older observation in the batch, which is written instead, as it would have been had
 * it come in a batch of its own before. Without this the older one was reported unchanged
 * (`stale`) and acked, and the row never got it. Returns the refused items' errors, by index
 * (a redelivery of a refused observation shares its error).
 */
async function writeOlderTwins(tx: Queryable, t: Twins): Promise<Map<number, UpsertResult>> {
  const refused = new Map<number, UpsertResult>();
  for (;;) {
    const next: UpsertRow[] = [];
    for (const [externalId, list] of t.twins) {
      const result = t.written.get(externalId);
      const tried = t.winners.get(externalId);
      if (!(result instanceof Error) || tried === undefined) continue;
      for (const i of list) if (compareObservations(t.observationOf(i), t.observationOf(tried)) === 0) refused.set(i, result);
      const older = list.filter((i) => !refused.has(i)).reduce<number | undefined>((best, i) => (best === undefined || compareObservations(t.observationOf(i), t.observationOf(best)) > 0 ? i : best), undefined);
      const item = older === undefined ? undefined : t.items[older];
      const resolved = older === undefined ? undefined : t.ids[older];
      if (older === undefined || !item || !resolved || !isResolved(resolved)) continue;
      t.winners.set(externalId, older);
      next.push(toUpsertRow(item, resolved));
    }
    if (next.length === 0) return refused;
    for (const [externalId, result] of await writeRowsOneByOne(tx, next)) t.written.set(externalId, result);
  }
}
