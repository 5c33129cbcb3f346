import { describe, expect, it } from "vitest";
import { BatchProgress, type BatchCounts } from "../../src/worker/progress.js";

const batch = (b: Partial<BatchCounts>): BatchCounts => ({ batch: 0, created: 0, updated: 0, unchanged: 0, failed: 0, rejected: 0, durationMs: 0, ...b });

describe("BatchProgress", () => {
  it("sums the batches added since the last take, with the largest and slowest", () => {
    const p = new BatchProgress();
    p.add(batch({ batch: 3, created: 2, failed: 1, durationMs: 12 }));
    p.add(batch({ batch: 5, updated: 4, unchanged: 1, rejected: 1, durationMs: 7 }));
    expect(p.take()).toEqual({ batches: 2, tasks: 8, created: 2, updated: 4, unchanged: 1, failed: 1, rejected: 1, largestBatch: 5, slowestBatchMs: 12 });
  });

  it("starts again from zero after a take, and has nothing to say when nothing committed", () => {
    const p = new BatchProgress();
    expect(p.take()).toBeUndefined();
    p.add(batch({ batch: 1, created: 1, durationMs: 3 }));
    p.take();
    expect(p.take()).toBeUndefined();
    p.add(batch({ batch: 2, created: 2, durationMs: 1 }));
    expect(p.take()).toMatchObject({ batches: 1, tasks: 2, created: 2, largestBatch: 2, slowestBatchMs: 1 });
  });
});
