/**
 * The worker's MatchStore on the `Database` interface.
 *
 * 1. Names (league, season, age group, division, match type, teams) are resolved first, outside
 *    the batch transaction: almost always from the resolver's cache (no round trip); a new name
 *    is created by its own autocommitted `INSERT ... ON CONFLICT DO NOTHING`, so concurrent
 *    batches never wait on each other's uncommitted new names (a name whose match later fails
 *    simply stays: names are reference data). Batches that need the database for names take
 *    turns (`resolveNewNames`).
 * 2. A batch with nothing to record in `ingest_failures` (the usual case) is one upsert
 *    statement outside any transaction block: a single statement is atomic on its own, and it
 *    saves the BEGIN and COMMIT round trips (each a syscall and a wake-up of both processes).
 *    Its bounds are the connection's session timeouts (`openDatabase({ timeouts })`).
 * 3. Otherwise one transaction upserts the matches and records every failure. Items are written
 *    in external-id order so that concurrent batches take row locks in the same order (no
 *    deadlocks between the worker's own transactions).
 */
import { errorMessage, isMatchflowError, PermanentError } from "../errors.js";
import type { FailureRecord, MatchStore, StoreItem, StoreOutcome } from "../worker/store.js";
import type { Database, Queryable } from "./database.js";
import { recordIngestFailure, resolveIngestFailures } from "./failures.js";
import type { MatchData } from "../contract/index.js";
import { createNameResolver, isResolved, type NameResolutionMode, type ResolveResult } from "./resolve.js";
import { prepareUpsert, upsertMatches, isUpsertOutcome, type UpsertResult } from "./upsert.js";

export interface MatchStoreOptions {
  nameResolution: NameResolutionMode;
  /** How long resolved name ids are reused (`NAME_CACHE_TTL`). @default for ever */
  nameCacheTtlMs?: number;
  /** Close the database with the store (false when it is shared). @default true */
  closeDatabase?: boolean;
}

/** Position in the batch, by external id: the order in which rows are written (and locked). */
interface Keyed {
  id: string;
  index: number;
}

function byIdThenIndex(a: Keyed, b: Keyed): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : a.index - b.index;
}

/** Items by external id (stable). Loops, not closures created per call: V8 kept recompiling those in long drains (docs/performance-rounds.md). */
function sortedOrder(items: readonly StoreItem[]): number[] {
  const keyed: Keyed[] = new Array<Keyed>(items.length);
  for (let i = 0; i < items.length; i++) keyed[i] = { id: items[i]?.match.external_match_id ?? "", index: i };
  keyed.sort(byIdThenIndex);
  const order = new Array<number>(keyed.length);
  for (let i = 0; i < keyed.length; i++) order[i] = (keyed[i] as Keyed).index;
  return order;
}

function allResolved(ids: readonly ResolveResult[]): boolean {
  for (const id of ids) if (!isResolved(id)) return false;
  return true;
}

function isStaleReference(err: unknown): boolean {
  return isMatchflowError(err) && err.code === "db_stale_reference";
}

function allWritten(results: readonly UpsertResult[]): boolean {
  for (const r of results) if (!isUpsertOutcome(r)) return false;
  return true;
}

export function createMatchStore(db: Database, options: MatchStoreOptions): MatchStore {
  const resolver = createNameResolver({ mode: options.nameResolution, ...(options.nameCacheTtlMs !== undefined ? { cacheTtlMs: options.nameCacheTtlMs } : {}) });
  let closed: Promise<void> | undefined;
  const query: Queryable["query"] = (sql, params, queryOptions) => db.query(sql, params, queryOptions);
  /**
   * Batches that meet names the cache does not know take turns: the next one then finds in the
   * cache what the ones before it created, instead of looking up and inserting the same new names
   * at the same time (a fresh database at 1,000 matches/s: early batches all bring new teams, and
   * racing for them kept the median latency at 30-60 ms for seconds; docs/performance-rounds.md). The
   * batch whose turn it is also resolves the names of the batches waiting behind it, so a queue of
   * such batches costs one round of statements, not one each. Nothing is held while waiting:
   * names are autocommitted, outside any transaction.
   */
  let namesTurn: Promise<void> = Promise.resolve();
  const waitingForNames = new Set<readonly MatchData[]>();
  async function resolveNewNames(autocommit: Queryable, matches: readonly MatchData[]): Promise<ResolveResult[]> {
    const previous = namesTurn;
    let release: () => void = () => undefined;
    namesTurn = new Promise<void>((resolve) => (release = resolve));
    waitingForNames.add(matches);
    await previous; // never rejects: every turn releases in its `finally`
    waitingForNames.delete(matches);
    try {
      // Created by an earlier turn on our behalf?
      const cached = resolver.resolveFromCache(matches);
      if (cached) return cached;
      const all: MatchData[] = [...matches];
      for (const waiting of waitingForNames) for (const m of waiting) all.push(m);
      const ids = await resolver.resolveBatch(autocommit, all);
      resolver.commitCache(autocommit);
      return ids.slice(0, matches.length);
    } finally {
      release();
    }
  }

  async function writeOnce(items: StoreItem[], failures: FailureRecord[]): Promise<StoreOutcome[]> {
    const order = sortedOrder(items);
    const sorted = new Array<StoreItem>(order.length);
    const matches = new Array<MatchData>(order.length);
    for (let i = 0; i < order.length; i++) {
      const item = items[order[i] as number] as StoreItem;
      sorted[i] = item;
      matches[i] = item.match;
    }
    // 1. Names, autocommitted (see the top of this file); per-match errors come back in `ids`.
    // One object per batch: the resolver keys the ids a batch saw on it (commitCache).
    const autocommit: Queryable = { query, concurrent: db.kind === "postgres" };
    const ids = sorted.length === 0 ? [] : (resolver.resolveFromCache(matches) ?? (await resolveNewNames(autocommit, matches)));
    // 2. Nothing to record: one statement, no transaction block. When the data itself is
    // refused, the statement changed nothing and the transaction below isolates the culprit.
    let sortedResults: UpsertResult[] | undefined;
    // A requeued task may have a failure on record to resolve, in the transaction below.
    if (failures.length === 0 && allResolved(ids) && !sorted.some((item) => item.requeued === true)) {
      try {
        sortedResults = await upsertMatches(autocommit, sorted, ids, { isolateFailures: false });
      } catch (err) {
        if (!(isMatchflowError(err) && (err.code === "db_constraint" || err.code === "db_data"))) throw err;
      }
      // A match refused before the database (e.g. no external id) still needs its record.
      if (sortedResults && !allWritten(sortedResults)) sortedResults = undefined;
    }
    // 3. The transaction: the batch upsert without a savepoint, the failures, COMMIT. Only when
    // the data itself is refused is the batch written again, item by item behind savepoints,
    // so that the offending match fails alone.
    const attempt = (isolateFailures: boolean) =>
      db.transaction(
        async (tx) => {
          const results = sorted.length > 0 ? await upsertMatches(tx, sorted, ids, { isolateFailures }) : [];
          const toRecord: FailureRecord[] = [...failures];
          results.forEach((r, i) => {
            if (isUpsertOutcome(r)) return;
            const item = sorted[i] as StoreItem;
            if (r.kind === "permanent") toRecord.push({ reasonCode: r.code, detail: r.message, taskId: item.taskId, externalMatchId: item.match.external_match_id, raw: item.raw });
          });
          for (const f of toRecord) await recordIngestFailure(tx, f);
          await resolveIngestFailures(tx, sorted.filter((item, i) => item.requeued === true && isUpsertOutcome(results[i] as UpsertResult)).map((item) => item.taskId));
          return results;
        });
    if (!sortedResults) {
      try {
        sortedResults = await attempt(false);
      } catch (err) {
        if (!(isMatchflowError(err) && (err.code === "db_constraint" || err.code === "db_data"))) throw err;
        sortedResults = await attempt(true);
      }
    }
    const out: StoreOutcome[] = new Array<StoreOutcome>(items.length);
    for (let i = 0; i < order.length; i++) {
      const original = order[i] as number;
      const r = sortedResults[i];
      if (r === undefined) out[original] = { ok: false, error: new PermanentError("internal_error", "no result for item") };
      else if (isUpsertOutcome(r)) out[original] = { ok: true, outcome: r.outcome, matchId: r.matchId, reason: r.reason };
      else out[original] = { ok: false, error: isMatchflowError(r) ? r : new PermanentError("internal_error", errorMessage(r)) };
    }
    return out;
  }

  /**
   * A name id the cache held is gone (`db_stale_reference`: an operator merged or deleted the
   * name): the cache is dropped and the batch written again once, with every name looked up
   * again. A match of a batch written item by item keeps its transient error and is retried.
   */
  async function writeBatch(items: StoreItem[], failures: FailureRecord[]): Promise<StoreOutcome[]> {
    let outcomes: StoreOutcome[];
    try {
      outcomes = await writeOnce(items, failures);
    } catch (err) {
      if (!isStaleReference(err)) throw err;
      resolver.clearCache();
      return writeOnce(items, failures);
    }
    for (const o of outcomes) {
      if (!o.ok && isStaleReference(o.error)) {
        resolver.clearCache();
        break;
      }
    }
    return outcomes;
  }

  return {
    writeBatch,
    async ping(): Promise<void> {
      await db.query("SELECT 1");
    },
    async warmUp(connections: number): Promise<number> {
      // Concurrent, so the pool hands each its own connection. An empty batch writes nothing,
      // but parsing it takes a lock on matches: an operator's lock (or a database that is down)
      // must not keep the worker from starting, so each try is short and failures only mean
      // that the first batch prepares the statement itself.
      const bounded = db.kind === "postgres" ? { setup: "SET LOCAL lock_timeout = 250" } : undefined;
      const tries = Array.from({ length: Math.max(1, connections) }, () =>
        db.transaction((tx) => prepareUpsert(tx), bounded).then(
          () => 1,
          () => 0,
        ),
      );
      return (await Promise.all(tries)).reduce<number>((a, b) => a + b, 0);
    },
    close(): Promise<void> {
      closed ??= options.closeDatabase === false ? Promise.resolve() : db.close();
      return closed;
    },
  };
}
