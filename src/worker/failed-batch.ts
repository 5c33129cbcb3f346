/**
 * Settling a batch whose transaction failed as a whole (deadlock, lock timeout, ...): every
 * message follows its own retry schedule. The ones refused before the database are dead-lettered
 * once their ingest_failures rows, rolled back with the batch, are written on their own; when that
 * fails too, they are retried like the others (refused again, and recorded, later). One that could
 * not be decoded cannot be retried (nothing to re-encode): it is dead-lettered all the same.
 */
import type { MatchflowError } from "../errors.js";
import type { Prepared } from "./prepare.js";
import type { Settler } from "./settle.js";
import type { FailureRecord, MatchStore, StoreItem } from "./store.js";

export interface FailedBatch {
  error: MatchflowError;
  good: Extract<Prepared, { ok: true }>[];
  bad: Extract<Prepared, { ok: false }>[];
  items: StoreItem[];
  failures: FailureRecord[];
}

/** The settlements to wait for, one per message. */
export async function settleFailedBatch(store: MatchStore, settler: Settler, batch: FailedBatch): Promise<Promise<void>[]> {
  const { error, good, bad, items, failures } = batch;
  // With no match in the batch, the write that failed was that one already.
  const recorded = bad.length === 0 || (items.length > 0 && (await store.writeBatch([], failures).then(() => true, () => false)));
  return [
    ...good.map((p) => settler.fail(p.message, p.envelope, error, p.item.match.external_match_id)),
    ...bad.map((p) => settler.fail(p.message, p.envelope, recorded || !p.envelope ? p.error : error, p.failure.externalMatchId)),
  ];
}
