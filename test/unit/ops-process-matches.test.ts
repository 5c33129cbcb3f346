/**
 * The orchestration of `matchflow process` with an in-memory MatchStore: outcomes in input
 * order, invalid items recorded as failures, a failing transaction marks its batch failed.
 * (The real store runs against PostgreSQL in test/integration/ops-process.test.ts.)
 */
import { describe, expect, it } from "vitest";
import { TransientError } from "../../src/errors.js";
import { formatOutcome, formatSummary, processMatches, summariseOutcomes, type ProcessInput } from "../../src/ops/process-matches.js";
import type { FailureRecord, MatchStore, StoreItem, StoreOutcome } from "../../src/worker/store.js";

function match(id: string): Record<string, unknown> {
  return { home_team: `Home ${id}`, away_team: `Away ${id}`, match_date: "2025-09-06", age_group: "U14", match_type: "League", external_match_id: id };
}

class MemoryStore implements MatchStore {
  readonly seen = new Map<string, string>();
  readonly batches: { items: StoreItem[]; failures: FailureRecord[] }[] = [];
  failNext = false;
  writeBatch(items: StoreItem[], failures: FailureRecord[]): Promise<StoreOutcome[]> {
    this.batches.push({ items, failures });
    if (this.failNext) {
      this.failNext = false;
      return Promise.reject(new TransientError("database_unavailable", "connection lost"));
    }
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
    store.failNext = true;
    const outcomes = await processMatches(store, [ok(match("a")), ok(match("b")), ok(match("c"))], { batchSize: 2 });
    expect(outcomes.map(formatOutcome)).toEqual(["a: failed: connection lost", "b: failed: connection lost", "c: created"]);
    expect(formatSummary(summariseOutcomes(outcomes))).toBe("1 created, 0 updated, 0 unchanged, 0 invalid, 2 failed");
  });
});
