import { describe, expect, it } from "vitest";
import { untilItWorks } from "../../src/patience.js";

describe("untilItWorks", () => {
  it("tries again after each failure, reporting it with its pause, until it works", async () => {
    let calls = 0;
    const reported: [string, number, number][] = [];
    const value = await untilItWorks(
      () => {
        calls++;
        return calls < 3 ? Promise.reject(new Error(`down ${calls}`)) : Promise.resolve("up");
      },
      { delayMs: (n) => n, onFailure: (err, n, ms) => reported.push([(err as Error).message, n, ms]) },
    );
    expect(value).toBe("up");
    expect(reported).toEqual([["down 1", 1, 1], ["down 2", 2, 2]]);
  });

  it("stops waiting when the signal aborts, and does not try again", async () => {
    const stop = new AbortController();
    let calls = 0;
    const waiting = untilItWorks(
      () => {
        calls++;
        return Promise.reject(new Error("down"));
      },
      { signal: stop.signal, delayMs: () => 60_000, onFailure: () => stop.abort() },
    );
    await expect(waiting).rejects.toThrow(/abort/i);
    expect(calls).toBe(1);
  });

  it("does not start when the signal has already aborted", async () => {
    let calls = 0;
    const attempt = () => {
      calls++;
      return Promise.resolve(1);
    };
    await expect(untilItWorks(attempt, { signal: AbortSignal.abort(), delayMs: () => 1, onFailure: () => undefined })).rejects.toThrow();
    expect(calls).toBe(0);
  });
});
