/**
 * A batch written again in halves (failed-batch.ts) is counted once: its tasks in the
 * "batches committed" line and in `matchflow_batch_size`, even when part of it meets a database
 * gone on the way and is written again as a batch of its own.
 */
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { MemoryBroker } from "../../src/broker/memory-transport.js";
import { encodeTaskV2 } from "../../src/celery/codec.js";
import { TransientError } from "../../src/errors.js";
import type { StoreItem, StoreOutcome } from "../../src/worker/store.js";
import { match, ok, route, runWorker, scriptedStore, TASK } from "../helpers/worker-loop.js";

describe("batch counts after a split", () => {
  it("the halves' tasks, one of them held through a lost connection, add up to the batch: in the summary line and in matchflow_batch_size", async () => {
    const broker = new MemoryBroker(route);
    for (let i = 0; i < 4; i++) await broker.publish("matches", "matches.process", encodeTaskV2({ taskName: TASK, taskId: `t-${i}`, args: [match(i)] }));
    // The first batch of several fails whole (a lock), its first half is written, its second meets
    // the connection lost (held and written again as a batch), then everything is written.
    const steps: ((items: StoreItem[]) => StoreOutcome[] | TransientError)[] = [
      () => new TransientError("db_lock_timeout", "canceling statement due to lock timeout"),
      ok,
      () => new TransientError("db_connection", "database connection: Connection terminated unexpectedly"),
    ];
    let failedWhole = false;
    const script = (items: StoreItem[]) => {
      if (!failedWhole && items.length < 2) return ok(items);
      failedWhole = true;
      return (steps.shift() ?? ok)(items);
    };
    const lines: { msg?: string; tasks?: number; batches?: number }[] = [];
    const log = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line) as { msg?: string }) });
    const { worker, events, metrics } = await runWorker(scriptedStore([script]), 0, { broker, concurrency: 1, log });
    await expect.poll(() => events.length).toBe(4);
    expect(steps).toHaveLength(0);
    await worker.stop(1000);
    expect(events.map((e) => e.outcome)).toEqual(["created", "created", "created", "created"]);
    const summaries = lines.filter((l) => l.msg === "batches committed");
    expect(summaries.reduce((n, l) => n + (l.tasks ?? 0), 0)).toBe(4);
    const histogram = (await metrics.batchSize.get()).values;
    expect(histogram.find((v) => v.metricName === "matchflow_batch_size_sum")?.value).toBe(4);
  });
});
