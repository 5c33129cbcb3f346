import { describe, expect, it } from "vitest";
import { PermanentError, TransientError } from "../../src/errors.js";
import { asMatchflowError, decideOnFailure } from "../../src/worker/policy.js";

const retry = { max: 3, baseDelayMs: 60_000, maxDelayMs: 600_000 };

describe("decideOnFailure", () => {
  it("dead-letters a permanent failure at once, whatever the retry count", () => {
    expect(decideOnFailure(new PermanentError("contract_violation", "x"), 0, retry)).toEqual({ action: "dead_letter", reason: "permanent" });
  });

  it("retries a transient failure on the documented schedule: 60 s, 120 s, 240 s, then dead letter", () => {
    const err = new TransientError("db_deadlock", "x");
    const lowest = () => 0;
    const highest = () => 0.999999;
    const schedule = [0, 1, 2].map((retries) => decideOnFailure(err, retries, retry, highest));
    expect(schedule.map((d) => (d.action === "retry" ? [d.attempt, d.nominalDelayMs] : d))).toEqual([
      [1, 60_000],
      [2, 120_000],
      [3, 240_000],
    ]);
    expect(decideOnFailure(err, 3, retry)).toEqual({ action: "dead_letter", reason: "retries_exhausted" });
    // Jitter stays within [0.75, 1] x nominal: never above the delay queue's TTL.
    const low = decideOnFailure(err, 0, retry, lowest);
    const high = decideOnFailure(err, 0, retry, highest);
    expect(low.action === "retry" && low.delayMs).toBe(45_000);
    expect(high.action === "retry" && high.delayMs).toBe(60_000);
  });

  it("caps the delay at RETRY_MAX_DELAY (10 minutes by default)", () => {
    const many = { max: 10, baseDelayMs: 60_000, maxDelayMs: 600_000 };
    const d = decideOnFailure(new TransientError("db_timeout", "x"), 7, many, () => 0.999999);
    expect(d).toMatchObject({ action: "retry", attempt: 8, nominalDelayMs: 600_000, delayMs: 600_000 });
  });

  it("with RETRY_MAX=0 a transient failure is dead-lettered at once", () => {
    expect(decideOnFailure(new TransientError("db_timeout", "x"), 0, { ...retry, max: 0 })).toEqual({ action: "dead_letter", reason: "retries_exhausted" });
  });

  it("treats an unclassified error as transient (bounded retries beat loss)", () => {
    const e = asMatchflowError(new Error("boom"));
    expect(e).toMatchObject({ kind: "transient", code: "internal_error", message: "boom" });
    const known = new PermanentError("x", "y");
    expect(asMatchflowError(known)).toBe(known);
  });
});
