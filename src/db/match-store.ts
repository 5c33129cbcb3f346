/**
 * The worker's MatchStore on the `Database` interface.
 *
 * 1. Names (league, season, age group, division, match type, teams) are resolved first, outside
 *    the batch transaction: almost always from the resolver's cache (no round trip); a new name
 *    is created by its own autocommitted `INSERT ... ON CONFLICT DO NOTHING`, so concurrent
 *    batches never wait on each other's uncommitted new names (a name whose match later fails
 *    simply stays: names are reference data).
 * 2. One transaction per batch upserts the matches and records every failure in
 *    `ingest_failures`. Items are written in external-id order so that concurrent batches take
 *    row locks in the same order (no deadlocks between the worker's own transactions).
 */
import { errorMessage, isMatchflowError, PermanentError } from "../errors.js";
import type { FailureRecord, MatchStore, StoreItem, StoreOutcome } from "../worker/store.js";
import type { Database, Queryable } from "./database.js";
import { recordIngestFailure } from "./failures.js";
import { createNameResolver, type NameResolutionMode } from "./resolve.js";
import { upsertMatches, isUpsertOutcome } from "./upsert.js";

export interface MatchStoreOptions {
  nameResolution: NameResolutionMode;
  lockTimeoutMs: number;
  statementTimeoutMs: number;
  /** Close the database with the store (false when it is shared). @default true */
  closeDatabase?: boolean;
}

export function createMatchStore(db: Database, options: MatchStoreOptions): MatchStore {
  const resolver = createNameResolver({ mode: options.nameResolution });
  // Integers from validated config, not user data: safe to inline (SET takes no parameters).
  const bounds = `SET LOCAL lock_timeout = ${Math.trunc(options.lockTimeoutMs)}; SET LOCAL statement_timeout = ${Math.trunc(options.statementTimeoutMs)}`;
  let closed: Promise<void> | undefined;

  return {
    async writeBatch(items: StoreItem[], failures: FailureRecord[]): Promise<StoreOutcome[]> {
      const order = items.map((_, i) => i).sort((a, b) => {
        const x = items[a]?.match.external_match_id ?? "";
        const y = items[b]?.match.external_match_id ?? "";
        return x < y ? -1 : x > y ? 1 : a - b;
      });
      const sorted = order.map((i) => items[i] as StoreItem);
      // 1. Names, autocommitted (see the top of this file); per-match errors come back in `ids`.
      const autocommit: Queryable = { query: (sql, params, queryOptions) => db.query(sql, params, queryOptions) };
      const ids = sorted.length > 0 ? await resolver.resolveBatch(autocommit, sorted.map((it) => it.match)) : [];
      resolver.commitCache(autocommit);
      // 2. Fast path: BEGIN and the bounds in one round trip, the batch upsert without a savepoint,
      // COMMIT. Only when the data itself is refused is the batch written again, item by item
      // behind savepoints, so that the offending match fails alone.
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
            return results;
          },
          db.kind === "postgres" ? { setup: bounds } : undefined,
        );
      let sortedResults: Awaited<ReturnType<typeof attempt>>;
      try {
        sortedResults = await attempt(false);
      } catch (err) {
        if (!(isMatchflowError(err) && (err.code === "db_constraint" || err.code === "db_data"))) throw err;
        sortedResults = await attempt(true);
      }
      const out: StoreOutcome[] = new Array<StoreOutcome>(items.length);
      order.forEach((original, i) => {
        const r = sortedResults[i];
        if (r === undefined) out[original] = { ok: false, error: new PermanentError("internal_error", "no result for item") };
        else if (isUpsertOutcome(r)) out[original] = { ok: true, outcome: r.outcome, matchId: r.matchId, reason: r.reason };
        else out[original] = { ok: false, error: isMatchflowError(r) ? r : new PermanentError("internal_error", errorMessage(r)) };
      });
      return out;
    },
    async ping(): Promise<void> {
      await db.query("SELECT 1");
    },
    close(): Promise<void> {
      closed ??= options.closeDatabase === false ? Promise.resolve() : db.close();
      return closed;
    },
  };
}
