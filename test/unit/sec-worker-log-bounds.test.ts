/**
 * A refused match's `external_match_id` is what the producer sent, bounded only by
 * MAX_MESSAGE_BYTES (up to 128 MiB): the worker put it whole into its error log line and into
 * `ingest_failures.external_match_id` (a 500,000-character id made a 500 KB log line). The
 * contract allows 100 characters; a longer id is kept as its beginning and its length (the
 * payload, with all of it, is still recorded as it came).
 */
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { MemoryBroker } from "../../src/broker/memory-transport.js";
import { encodeTaskV2 } from "../../src/celery/codec.js";
import { createLogger } from "../../src/log.js";
import type { FailureRecord, StoreItem } from "../../src/worker/store.js";
import { match, ok, route, runWorker, scriptedStore, TASK } from "../helpers/worker-loop.js";

describe("a refused match with an enormous external_match_id", () => {
  it("is logged and recorded with the id cut to its beginning and length", async () => {
    const lines: string[] = [];
    const log = createLogger({ level: "info", destination: new Writable({ write: (chunk: Buffer, _enc, done) => void (lines.push(String(chunk)), done()) }) });
    const broker = new MemoryBroker(route);
    const store = scriptedStore([ok]);
    const recorded: FailureRecord[] = [];
    const writeBatch = store.writeBatch.bind(store);
    store.writeBatch = (items: StoreItem[], failures: FailureRecord[] = []) => (recorded.push(...failures), writeBatch(items, failures));
    const { worker, events } = await runWorker(store, 0, { broker, log });
    await broker.publish("matches", "matches.process", encodeTaskV2({ taskName: TASK, taskId: "t-big", args: [{ ...match(1), external_match_id: "E".repeat(500_000) }] }));
    await expect.poll(() => events.length, { timeout: 5000 }).toBe(1);
    await worker.stop(1000);

    const failure = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.taskId === "t-big");
    expect(failure?.externalMatchId).toBe(`${"E".repeat(100)}… (500000 characters)`);
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThan(2000);
    expect(recorded.map((f) => f.externalMatchId)).toEqual([`${"E".repeat(100)}… (500000 characters)`]);
  });
});
