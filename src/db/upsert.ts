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
import { LATE_OBSERVATIONS_SQL, lateObservationParams } from "./late-observation-sql.js";
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
const LATE = { prepare: "mf_late_observations" };

/** Parses and plans the upsert on one connection by running it on an empty batch (writes nothing). */
export async function prepareUpsert(q: Queryable): Promise<void> {
  await q.query(UPSERT_MATCHES_SQL, upsertMatchesParams([]), UPSERT);
}

function unchanged(r: Reason): UpsertOutcome {
  const reason: UnchangedReason = r.locked ? "locked" : r.stale ? "stale" : r.manual ? "manual_status" : r.kept_result ? "kept_result" : "same";
  return { outcome: "unchanged", matchId: Number(r.id), reason };
}

/** Runs the set statement for `rows` (one per match); returns outcomes by external id. */
async function writeRows(tx: Queryable, rows: UpsertRow[]): Promise<Map<string, UpsertOutcome>> {
  const out = new Map<string, UpsertOutcome>();
  if (rows.length === 0) return out;
  const { rows: written } = await tx.query<Written>(UPSERT_MATCHES_SQL, upsertMatchesParams(rows), UPSERT);
  const returned = new Set<string>();
  for (const w of written) {
    returned.add(w.external_match_id);
    if (w.inserted || w.changed) out.set(w.external_match_id, { outcome: w.inserted ? "created" : "updated", matchId: Number(w.id) });
  }
  // Written with the same data (only its newer observation time): why the data stayed is asked.
  const same = rows.filter((r) => returned.has(r.external_match_id) && !out.has(r.external_match_id));
  if (same.length > 0) {
    const { rows: reasons } = await tx.query<Reason>(UNCHANGED_REASONS_SQL, unchangedReasonsParams(same), UNCHANGED);
    for (const r of reasons) out.set(r.external_match_id, unchanged(r));
  }
  // Not written (older, locked, or this very observation again): an older one may still count
  // for the status and the scores (late-observation-sql.ts). Rare: retries, requeues, twins.
  const left = rows.filter((r) => !returned.has(r.external_match_id));
  if (left.length > 0) {
    const { rows: reasons } = await tx.query<Reason & { changed: boolean }>(LATE_OBSERVATIONS_SQL, lateObservationParams(left), LATE);
    for (const r of reasons) out.set(r.external_match_id, r.changed ? { outcome: "updated", matchId: Number(r.id) } : unchanged(r));
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
 * Upserts `items` (resolved ids in `ids`, same order). An external id the batch holds more than
 * once (a redelivery, a retry beside a fresh scrape) is written once per observation, newest
 * first, in statements of their own: each gets what it would have got alone, and the row ends as
 * separate batches in any order would leave it.
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
  /** external id -> the indexes of its observations in the batch. */
  const byMatch = new Map<string, number[]>();
  const rows: (UpsertRow | undefined)[] = [];

  items.forEach((item, i) => {
    const resolved = ids[i];
    const externalId = item.match.external_match_id;
    if (resolved === undefined || !isResolved(resolved)) {
      results[i] = resolved ?? new PermanentError("unresolved_name", "no resolved ids for this match");
    } else if (typeof externalId !== "string" || externalId.trim() === "") {
      results[i] = new PermanentError("db_data", "external_match_id is required to store a match");
    } else if (Number.isNaN(Date.parse(item.observedAt))) {
      results[i] = new PermanentError("db_data", `observed time "${item.observedAt}" is not an ISO instant`);
    } else {
      rows[i] = toUpsertRow(item, resolved);
      const list = byMatch.get(externalId);
      if (list) list.push(i);
      else byMatch.set(externalId, [i]);
    }
  });

  const layers = twinLayers(items, byMatch);
  for (const [n, layer] of layers.entries()) {
    const layerRows = layer.map((i) => rows[i] as UpsertRow);
    const written = n === 0 ? await writeFirstLayer(tx, layerRows, options) : await writeRowsOneByOne(tx, layerRows);
    for (const i of layer) {
      const externalId = (rows[i] as UpsertRow).external_match_id;
      results[i] = written.get(externalId) ?? new TransientError("db_unknown", `match ${externalId} was neither written nor found after the upsert`);
    }
  }
  return results.map((r) => r ?? new TransientError("db_unknown", "match was neither written nor found after the upsert"));
}

/**
 * The batch's writes: the first holds one observation per match (the newest), each next one the
 * next older observations of the matches the batch holds more than once. Newest first, so that a
 * later statement never finds a row its own transaction wrote newer (what `changed` reads).
 */
function twinLayers(items: readonly UpsertItem[], byMatch: ReadonlyMap<string, number[]>): number[][] {
  const layers: number[][] = [[]];
  const first = layers[0] as number[];
  for (const list of byMatch.values()) {
    if (list.length === 1) {
      first.push(list[0] as number);
      continue;
    }
    // Microsecond instants only here: parsing every item's text costs the hot path a regular expression.
    const observations = list.map((i) => ({ i, instant: parseInstant((items[i] as UpsertItem).observedAt), taskId: (items[i] as UpsertItem).taskId }));
    // Newest first; the same observation twice (a redelivery): the later delivery first.
    observations.sort((a, b) => compareObservations(b, a) || b.i - a.i);
    observations.forEach((o, n) => (layers[n] ??= []).push(o.i));
  }
  return layers;
}

/** The first write: the whole batch in one statement (behind a savepoint unless told otherwise). */
async function writeFirstLayer(tx: Queryable, rows: UpsertRow[], options: UpsertOptions): Promise<Map<string, UpsertResult>> {
  if (options.isolateFailures === false) return writeRows(tx, rows);
  await tx.query("SAVEPOINT mf_upsert_batch");
  try {
    const written = await writeRows(tx, rows);
    await tx.query("RELEASE SAVEPOINT mf_upsert_batch");
    return written;
  } catch (err) {
    if (!isDataError(err)) throw err;
    await tx.query("ROLLBACK TO SAVEPOINT mf_upsert_batch");
    return writeRowsOneByOne(tx, rows);
  }
}
