/** A batch whose transaction failed as a whole, written again in halves: who is charged a retry, and how many tries it costs. */
import { describe, expect, it } from "vitest";
import { TransientError } from "../../src/errors.js";
import { splitFailedBatch } from "../../src/worker/failed-batch.js";
import type { Prepared } from "../../src/worker/prepare.js";
import type { StoreItem, StoreOutcome } from "../../src/worker/store.js";

type Good = Extract<Prepared, { ok: true }>;

/** Prepared matches whose store item carries only what the store below looks at: the external id. */
function batch(n: number): Good[] {
  return Array.from({ length: n }, (_, i) => ({ ok: true, item: { match: { external_match_id: `m${i}` } } }) as unknown as Good);
}

const lockTimeout = new TransientError("db_lock_timeout", "canceling statement due to lock timeout");

/** A store whose writes fail when `fails(ids)` says so, counting them. */
function store(fails: (ids: string[]) => TransientError | undefined) {
  const writes: string[][] = [];
  return {
    writes,
    writeBatch(items: StoreItem[]): Promise<StoreOutcome[]> {
      const ids = items.map((i) => String(i.match.external_match_id));
      writes.push(ids);
      const err = fails(ids);
      return err ? Promise.reject(err) : Promise.resolve(ids.map((_, k) => ({ ok: true, outcome: "created", matchId: k })));
    },
  };
}

const ids = (list: { p: Good }[]) => list.map(({ p }) => p.item.match.external_match_id);

describe("splitFailedBatch", () => {
  it("one locked row among 100: every other match is stored, only that one is charged, in about two tries per halving", async () => {
    const s = store((batchIds) => (batchIds.includes("m37") ? lockTimeout : undefined));
    const split = await splitFailedBatch(s, batch(100), lockTimeout, () => false);
    expect(ids(split.failed)).toEqual(["m37"]);
    expect(split.failed[0]?.error).toBe(lockTimeout);
    expect(ids(split.stored).sort()).toEqual(batch(100).map((p) => p.item.match.external_match_id).filter((id) => id !== "m37").sort());
    expect(split.again).toEqual([]);
    expect(s.writes.length).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(100)));
  });

  it("a failure that is everybody's (both halves fail): each message is charged after two more tries, not one try per match", async () => {
    const s = store(() => lockTimeout);
    const split = await splitFailedBatch(s, batch(500), lockTimeout, () => false);
    expect(split.failed).toHaveLength(500);
    expect(split.stored).toEqual([]);
    expect(s.writes).toHaveLength(2);
  });

  it("a single match is charged with the batch's error without another try", async () => {
    const s = store(() => undefined);
    const split = await splitFailedBatch(s, batch(1), lockTimeout, () => false);
    expect(ids(split.failed)).toEqual(["m0"]);
    expect(s.writes).toEqual([]);
  });

  it("the database gone or refusing writes on the way: the part not written is handed back whole to be held, nobody charged", async () => {
    const gone = new TransientError("database_unreachable", "database unreachable: connect ECONNREFUSED");
    const s = store((batchIds) => (batchIds.includes("m0") ? gone : undefined));
    const split = await splitFailedBatch(s, batch(8), lockTimeout, () => false);
    expect(split.failed).toEqual([]);
    expect(split.again.map((p) => p.item.match.external_match_id)).toEqual(["m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7"]);
    const readOnly = new TransientError("db_read_only", "cannot execute INSERT in a read-only transaction");
    const later = store((batchIds) => (batchIds.includes("m7") ? readOnly : batchIds.includes("m1") ? lockTimeout : undefined));
    const second = await splitFailedBatch(later, batch(8), lockTimeout, () => false);
    expect(second.failed).toEqual([]);
    expect(second.again.map((p) => p.item.match.external_match_id)).toEqual(["m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7"]);
  });

  it("a worker past its grace period stops trying: what is not written is neither stored nor charged (its messages are redelivered)", async () => {
    let tries = 0;
    const s = store(() => (tries++, lockTimeout));
    const split = await splitFailedBatch(s, batch(16), lockTimeout, () => tries >= 1);
    expect(split).toEqual({ stored: [], failed: [], again: [] });
    expect(tries).toBe(1);
  });
});
