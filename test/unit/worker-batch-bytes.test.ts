import { describe, expect, it } from "vitest";
import { autoBatchBytes, nextBatchLength } from "../../src/worker/batch-bytes.js";

const bodies = (...sizes: number[]) => sizes.map((n) => ({ content: { length: n } }));
const MiB = 1024 * 1024;

describe("batch byte budget", () => {
  it("leaves batches of real matches (1-2 KB) to WORKER_BATCH_SIZE alone", () => {
    const buffer = bodies(...Array.from({ length: 1000 }, () => 2_000));
    expect(nextBatchLength(buffer, 400, autoBatchBytes(144 * MiB, 4))).toEqual({ length: 400, byteLimited: false });
  });

  it("cuts a batch of large bodies at the budget", () => {
    expect(nextBatchLength(bodies(60, 60, 60, 60), 400, 130)).toEqual({ length: 2, byteLimited: true });
    expect(nextBatchLength(bodies(60, 60), 400, 120)).toEqual({ length: 2, byteLimited: false });
  });

  it("always takes one message, even one above the budget", () => {
    expect(nextBatchLength(bodies(500, 10), 400, 100)).toEqual({ length: 1, byteLimited: true });
    expect(nextBatchLength(bodies(500), 400, 100)).toEqual({ length: 1, byteLimited: false });
    expect(nextBatchLength([], 400, 100)).toEqual({ length: 0, byteLimited: false });
  });

  it("is never cut by bytes when the count or the buffer ends first", () => {
    expect(nextBatchLength(bodies(60, 60, 60), 2, 100)).toEqual({ length: 1, byteLimited: true });
    expect(nextBatchLength(bodies(60, 60, 60), 1, 100)).toEqual({ length: 1, byteLimited: false });
  });

  it("gives the deployed heap (--max-old-space-size=96: a 144 MiB limit) ~4.5 MiB a batch at concurrency 4: ~70 bodies at MAX_MESSAGE_BYTES", () => {
    const perBatch = autoBatchBytes(144 * MiB, 4);
    expect(perBatch).toBe(Math.floor((144 * MiB) / 8 / 4));
    expect(Math.floor(perBatch / 65_536)).toBe(72);
    // All concurrent batches together stay at an eighth of the heap, whatever the concurrency.
    expect(autoBatchBytes(144 * MiB, 16) * 16).toBeLessThanOrEqual((144 * MiB) / 8);
    // A floor: one body at the default MAX_MESSAGE_BYTES always fits a batch.
    expect(autoBatchBytes(16 * MiB, 256)).toBe(64 * 1024);
    // A concurrency below 1 counts as 1, never a division by zero.
    expect(autoBatchBytes(144 * MiB, 0)).toBe(autoBatchBytes(144 * MiB, 1));
    expect(autoBatchBytes(144 * MiB, 1)).toBe(18 * MiB);
  });
});
