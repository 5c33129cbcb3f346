/** The worker's view of its database: what /readyz and matchflow_database_up report, and when it says an outage began. */
import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { DatabaseHealth } from "../../src/worker/database-health.js";
import { createWorkerMetrics } from "../../src/worker/metrics.js";

function memoryLog() {
  const msgs: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split("\n").filter(Boolean)) msgs.push(String((JSON.parse(l) as { msg: unknown }).msg));
      cb();
    },
  });
  return { log: pino({ level: "debug" }, stream), msgs };
}

/** A store whose pings fail as `outcomes` says, in order (true: answers), then answer. */
function store(outcomes: boolean[]) {
  let pings = 0;
  return {
    get pings() {
      return pings;
    },
    ping: () => {
      const ok = outcomes[pings++] ?? true;
      return ok ? Promise.resolve() : Promise.reject(new Error("terminating connection due to administrator command"));
    },
  };
}

async function gauge(metrics: ReturnType<typeof createWorkerMetrics>): Promise<number | undefined> {
  return (await metrics.databaseUp.get()).values[0]?.value;
}

describe("DatabaseHealth", () => {
  it("a single failed ping of a database that was up (a terminated connection) is asked again at once: no outage reported", async () => {
    const { log, msgs } = memoryLog();
    const metrics = createWorkerMetrics({ defaultMetrics: false });
    const s = store([true, false]);
    const health = new DatabaseHealth(s, { log, metrics, now: Date.now });
    await health.waitUntilUp(() => false);
    expect(health.isUp).toBe(true);
    await health.waitUntilUp(() => false);
    expect(s.pings).toBe(3);
    expect(health.isUp).toBe(true);
    expect(await gauge(metrics)).toBe(1);
    expect(msgs).not.toContain("database unreachable");
  });

  it("two failures in a row are an outage: logged once, readiness and the gauge down, then 'database reachable' when it answers", async () => {
    const { log, msgs } = memoryLog();
    const metrics = createWorkerMetrics({ defaultMetrics: false });
    const health = new DatabaseHealth(store([true, false, false, false]), { log, metrics, now: Date.now });
    await health.waitUntilUp(() => false);
    const states: boolean[] = [];
    const waiting = health.waitUntilUp(() => (states.push(health.isUp), false));
    await waiting;
    expect(states).toContain(false);
    expect(msgs.filter((m) => m === "database unreachable")).toHaveLength(1);
    expect(msgs.at(-1)).toBe("database reachable");
    expect(health.isUp).toBe(true);
    expect(await gauge(metrics)).toBe(1);
  });
});
