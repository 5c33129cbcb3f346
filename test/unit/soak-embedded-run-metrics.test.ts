/**
 * `matchflow schedule` without RABBITMQ_URL starts an in-process worker app for every run
 * (run-once.ts), in one process that lives for weeks. prom-client's default metrics hang a GC
 * PerformanceObserver and an event-loop-delay monitor on the process for each registry they
 * fill, never taken off: every run's registry (~50 KB, with all its metrics) stayed reachable,
 * and every run added a 10 ms sampling timer (300 runs: 16 MB of heap, ~5% of a core idle).
 * A run serves no /metrics, so it collects none of them.
 */
import { runInNewContext } from "node:vm";
import { setFlagsFromString } from "node:v8";
import { describe, expect, it } from "vitest";
import { MemoryBroker } from "../../src/broker/memory-transport.js";
import { loadConfig } from "../../src/config.js";
import type { Database } from "../../src/db/database.js";
import { silentLogger } from "../../src/log.js";
import { startWorkerApp } from "../../src/worker/app.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/** A database that answers every statement with nothing (no match is stored here). */
const emptyDatabase = (): Database => ({
  kind: "pglite",
  query: () => Promise.resolve({ rows: [], rowCount: 0 }),
  transaction: (fn) => fn({ query: () => Promise.resolve({ rows: [], rowCount: 0 }) }),
  close: () => Promise.resolve(),
});

describe("an in-process run's worker app leaves nothing behind once stopped", () => {
  it("the metrics registries of 6 runs without an HTTP server are collected, but for the latest run's", async () => {
    const config = loadConfig({ LOG_LEVEL: "silent" });
    const registries: WeakRef<object>[] = [];
    for (let run = 0; run < 6; run++) {
      const transport = new MemoryBroker({ exchange: config.topology.exchange, routingKey: config.topology.routingKey, queue: config.topology.queue });
      const app = await startWorkerApp({ config, log: silentLogger, transport, database: emptyDatabase(), serveHttp: false, migrate: false });
      registries.push(new WeakRef(app.metrics.registry));
      await app.stop(1000);
    }
    // The latest one may still be referenced from this test's frame: one, not one per run. A
    // WeakRef is cleared only after the turn that read it: collect, then look again a turn later.
    const alive = () => {
      gc();
      return registries.slice(0, -1).filter((r) => r.deref() !== undefined).length;
    };
    await expect.poll(alive, { timeout: 3000 }).toBe(0);
  });
});
