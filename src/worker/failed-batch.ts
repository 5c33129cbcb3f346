/**
 * A batch whose transaction failed as a whole (a lock timeout, a deadlock, a statement timeout):
 * the failure may belong to one match (a row an operator holds locked) or to none (the database
 * is slow for everyone).
 *
 * The batch is written again in halves before anyone is charged a retry: every match of a batch
 * of 500 that met one locked row was charged one (spent retries dead-letter a match whose data
 * was fine), and came back to meet the same lock. A half that fails is halved again, down to one
 * match, which then follows its retry schedule alone. When both halves of a part fail, the failure
 * is not in one match: each of that part's messages follows its retry schedule, and the search
 * ends (a table locked for everyone costs three tries, not one per match).
 *
 * Then the messages refused before the database: dead-lettered once their ingest_failures rows,
 * rolled back with the batch, are written on their own; when that fails too, they are retried like
 * the others (refused again, and recorded, later). One that could not be decoded cannot be retried
 * (nothing to re-encode): it is given back to the queue instead (Settler.fail), recorded when it
 * comes round; it was dead-lettered without its row.
 */
import { isDatabaseWide } from "../db/errors.js";
import type { MatchflowError } from "../errors.js";
import { asMatchflowError } from "./policy.js";
import type { Prepared } from "./prepare.js";
import type { Settler } from "./settle.js";
import type { FailureRecord, MatchStore, StoreOutcome } from "./store.js";

type Good = Extract<Prepared, { ok: true }>;
type Bad = Extract<Prepared, { ok: false }>;


export interface SplitBatch {
  /** Written on a later try, each with its outcome (a match the database refused for its data included). */
  stored: { p: Good; outcome: StoreOutcome }[];
  /** Still failing where the search ended: each follows its retry schedule with its part's error. */
  failed: { p: Good; error: MatchflowError }[];
  /** Met a database gone or refusing writes on the way: to be written again as a batch (held, not charged). */
  again: Good[];
}

/**
 * Writes `good` (whose batch failed with `error`) in halves, as above. Stops trying when
 * `giveUp()` says so (a worker past its grace period): what is not written yet is then in
 * neither list, and its messages stay unacked (redelivered).
 */
export async function splitFailedBatch(store: Pick<MatchStore, "writeBatch">, good: Good[], error: MatchflowError, giveUp: () => boolean): Promise<SplitBatch> {
  const result: SplitBatch = { stored: [], failed: [], again: [] };
  const write = async (part: Good[]): Promise<MatchflowError | undefined> => {
    try {
      const outcomes = await store.writeBatch(part.map((p) => p.item), []);
      part.forEach((p, i) => result.stored.push({ p, outcome: outcomes[i] ?? { ok: false, error: asMatchflowError(new Error("store returned no outcome")) } }));
      return undefined;
    } catch (err) {
      return asMatchflowError(err);
    }
  };
  const fail = (part: Good[], err: MatchflowError) => part.forEach((p) => result.failed.push({ p, error: err }));

  let part = good;
  let partError = error;
  while (part.length > 1 && !giveUp()) {
    const half = Math.ceil(part.length / 2);
    const [first, second] = [part.slice(0, half), part.slice(half)];
    const firstError = await write(first);
    if (giveUp()) return result;
    if (firstError && isDatabaseWide(firstError)) return (result.again = part), result;
    const secondError = await write(second);
    if (secondError && isDatabaseWide(secondError)) return (result.again = firstError ? part : second), result;
    if (firstError && secondError) {
      fail(first, firstError);
      fail(second, secondError);
      return result;
    }
    if (!firstError && !secondError) return result;
    [part, partError] = firstError ? [first, firstError] : [second, secondError as MatchflowError];
  }
  if (!giveUp()) fail(part, partError);
  return result;
}

/** The settlements to wait for, one per message: the failed ones of the split, then the refused ones. */
export async function settleFailedBatch(
  store: Pick<MatchStore, "writeBatch">,
  settler: Settler,
  batch: { error: MatchflowError; failed: SplitBatch["failed"]; bad: Bad[]; failures: FailureRecord[]; hadMatches: boolean },
): Promise<Promise<void>[]> {
  const { error, failed, bad, failures, hadMatches } = batch;
  // With no match in the batch, the write that failed was that one already.
  const recorded = bad.length === 0 || (hadMatches && (await store.writeBatch([], failures).then(() => true, () => false)));
  return [
    ...failed.map(({ p, error: e }) => settler.fail(p.message, p.envelope, e, p.item.match.external_match_id)),
    ...bad.map((p) => settler.fail(p.message, p.envelope, recorded ? p.error : error, p.failure.externalMatchId)),
  ];
}
