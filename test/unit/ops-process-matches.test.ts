/**
 * The orchestration of `matchflow process` with an in-memory MatchStore: outcomes in input
 * order, invalid items recorded as failures, a failing transaction marks its batch failed, and
 * a database that is gone or refuses writes stops the run (exit 5) without failing the matches.
 * (The real store runs against PostgreSQL in test/integration/ops-process.test.ts.)
 */
import { describe, expect, it } from "vitest";
import { exitCodeFor } from "../../src/cli/exit-codes.js";
import { DATABASE_REFUSALS, DATABASE_UNREACHABLE } from "../../src/db/errors.js";
import { TransientError } from "../../src/errors.js";
import { formatOutcome, formatSummary, processMatches, ProcessStopped, summariseOutcomes, type ProcessInput } from "../../src/ops/process-matches.js";
import type { FailureRecord, MatchStore, StoreItem, StoreOutcome } from "../../src/worker/store.js";

function match(id: string): Record<string, unknown> {
  return { home_team: `Home ${id}`, away_team: `Away ${id}`, match_date: "2025-09-06", age_group: "U14", match_type: "League", external_match_id: id };
}

class MemoryStore implements MatchStore {
  readonly seen = new Map<string, string>();
  readonly batches: { items: StoreItem[]; failures: FailureRecord[] }[] = [];
  /** The transaction of this batch (1: the first written from now) fails with `error`. */
  failAt: { batch: number; error: Error } | undefined;
  private written = 0;
  writeBatch(items: StoreItem[], failures: FailureRecord[]): Promise<StoreOutcome[]> {
    this.batches.push({ items, failures });
    if (++this.written === this.failAt?.batch) return Promise.reject(this.failAt.error);
    return Promise.resolve(
      items.map((it, i): StoreOutcome => {
        const key = it.match.external_match_id;
        const body = JSON.stringify(it.raw);
        const before = this.seen.get(key);
        this.seen.set(key, body);
        return { ok: true, outcome: before === undefined ? "created" : before === body ? "unchanged" : "updated", matchId: i + 1 };
      }),
    );
  }
  ping(): Promise<void> {
    return Promise.resolve();
  }
  warmUp(): Promise<number> {
    return Promise.resolve(0);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const ok = (value: unknown): ProcessInput => ({ ok: true, value });

describe("processMatches", () => {
  it("reports created, unchanged, updated and invalid in input order, recording invalid ones", async () => {
    const store = new MemoryStore();
    const first = await processMatches(store, [ok(match("a")), ok({ ...match("b"), home_team: "" }), { ok: false, error: "line 3 is not valid JSON" }], { batchSize: 10 });
    expect(first.map(formatOutcome)).toEqual(["a: created", expect.stringMatching(/^b: invalid: .*home_team/), "match 3: invalid: line 3 is not valid JSON"]);
    expect(store.batches[0]?.failures).toEqual([expect.objectContaining({ reasonCode: "contract_violation", externalMatchId: "b" })]);

    const second = await processMatches(store, [ok(match("a")), ok({ ...match("a"), home_score: 1, away_score: 0, match_status: "completed" })], { batchSize: 1 });
    expect(second.map((o) => o.status)).toEqual(["unchanged", "updated"]);
    expect(store.batches).toHaveLength(3);
  });

  it("writes ids and errors from the input with control characters escaped", async () => {
    const store = new MemoryStore();
    const outcomes = await processMatches(store, [ok({ ...match("a\u001b[2J"), home_team: "" })], { batchSize: 1 });
    const line = formatOutcome(outcomes[0]!);
    expect(line).toMatch(/^a\\x1b\[2J: invalid: /);
    expect(line).not.toContain("\u001b");
  });

  it("marks every item of a failed transaction failed and goes on with the next batch", async () => {
    const store = new MemoryStore();
    // A lock timeout may belong to the batch (db/errors.ts DATABASE_REFUSALS): the run goes on.
    store.failAt = { batch: 1, error: new TransientError("db_lock_timeout", "canceling statement due to lock timeout") };
    const outcomes = await processMatches(store, [ok(match("a")), ok(match("b")), ok(match("c"))], { batchSize: 2 });
    expect(outcomes.map(formatOutcome)).toEqual(["a: failed: canceling statement due to lock timeout", "b: failed: canceling statement due to lock timeout", "c: created"]);
    expect(formatSummary(summariseOutcomes(outcomes))).toBe("1 created, 0 updated, 0 unchanged, 0 invalid, 2 failed");
  });

  // Before: each was written as the batch's matches "failed", the run went on to fail every later batch alike, exit 1.
  it.each([...DATABASE_UNREACHABLE, ...DATABASE_REFUSALS])("stops at a batch the database fails with %s: exit 5, what was stored before said, nothing marked failed", async (code) => {
    const store = new MemoryStore();
    const inputs = [ok(match("a")), ok({ ...match("b"), home_team: "" }), ok(match("c")), ok(match("d")), ok(match("e"))];
    // The first batch (a, b invalid) commits; the second (c, d) meets the database's refusal.
    store.failAt = { batch: 2, error: new TransientError(code, "database: it said no") };
    const err: unknown = await processMatches(store, inputs, { batchSize: 2 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProcessStopped);
    const stopped = err as ProcessStopped;
    expect(stopped.code).toBe(code);
    expect(exitCodeFor(stopped)).toBe(5);
    expect(stopped.outcomes.map(formatOutcome)).toEqual(["a: created", expect.stringMatching(/^b: invalid: /) as string]);
    expect(stopped.message).toBe(`database: it said no (${code}): stopped at match 3 of 5; before it: 1 created, 0 updated, 0 unchanged, 1 invalid, 0 failed; the 3 matches from there on were not written nor recorded as failed (run the same input again once the database takes writes)`);
    // No third batch: it would have met the same database.
    expect(store.batches).toHaveLength(2);
  });

  it("classifies what the store throws: a driver's read-only error (SQLSTATE 25006) stops the run too", async () => {
    const store = new MemoryStore();
    store.failAt = { batch: 1, error: Object.assign(new Error("cannot execute INSERT in a read-only transaction"), { code: "25006" }) };
    const err: unknown = await processMatches(store, [ok(match("a"))], { batchSize: 1 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: "ProcessStopped", code: "db_read_only", outcomes: [] });
    expect((err as Error).message).toMatch(/^database: cannot execute INSERT in a read-only transaction \(db_read_only\): stopped at match 1 of 1; before it: 0 created, .*; the 1 match from there on was not written/);
  });
});
