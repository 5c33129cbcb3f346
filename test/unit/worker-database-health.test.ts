/** The worker's view of its database: what /readyz and matchflow_database_up report, and when it says an outage began. */
import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it, vi } from "vitest";
import { TransientError } from "../../src/errors.js";
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

  it("every pooled connection lost at once (a pool of 3, all ended by an administrator) costs three immediate pings, no outage; a database really gone is one", async () => {
    const lost = () => Promise.reject(new TransientError("db_connection", "database connection: Connection terminated unexpectedly"));
    const { log, msgs } = memoryLog();
    const metrics = createWorkerMetrics({ defaultMetrics: false });
    const replies: (() => Promise<void>)[] = [() => Promise.resolve(), lost, lost, lost];
    let pings = 0;
    const health = new DatabaseHealth({ ping: () => (replies[pings++] ?? (() => Promise.resolve()))() }, { log, metrics, now: Date.now });
    await health.waitUntilUp(() => false);
    await health.waitUntilUp(() => false);
    expect(pings).toBe(5);
    expect(msgs).not.toContain("database unreachable");
    expect(health.isUp).toBe(true);
    // Lost connections, then no fresh one to be had: an outage, said once.
    const gone = () => Promise.reject(new TransientError("database_unreachable", "database unreachable at db: connect ECONNREFUSED"));
    replies.push(lost, lost, gone, gone);
    const states: boolean[] = [];
    await health.waitUntilUp(() => (states.push(health.isUp), false));
    expect(states).toContain(false);
    expect(msgs.filter((m) => m === "database unreachable")).toHaveLength(1);
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

  it("a refused batch: not ready and logged once, again a minute later while it lasts; a ping does not end it, a commit does", async () => {
    const { log, msgs } = memoryLog();
    const metrics = createWorkerMetrics({ defaultMetrics: false });
    let now = 1_000_000;
    const health = new DatabaseHealth(store([]), { log, metrics, now: () => now });
    health.answered();
    const refusal = new TransientError("db_read_only", "cannot execute INSERT in a read-only transaction");
    await health.holdRefusedBatch(refusal, 0, { batch: 5, taskIds: ["t1"] }, () => false);
    await health.holdRefusedBatch(refusal, 1, { batch: 5, taskIds: ["t1"] }, () => true);
    expect(health.isUp).toBe(false);
    expect(await gauge(metrics)).toBe(0);
    // A read-only database answers pings: that says nothing about writes.
    await health.waitUntilUp(() => false);
    expect(health.isUp).toBe(false);
    expect(await gauge(metrics)).toBe(0);
    now += 60_000;
    await health.holdRefusedBatch(refusal, 2, { batch: 5, taskIds: ["t1"] }, () => true);
    health.answered();
    expect(health.isUp).toBe(true);
    expect(await gauge(metrics)).toBe(1);
    expect(msgs.filter((m) => m.startsWith("database failed a batch"))).toHaveLength(1);
    expect(msgs.filter((m) => m === "database still failing batches")).toHaveLength(1);
    expect(msgs.at(-1)).toBe("database takes writes again");
  });

  it("a ping left unanswered (a silent partition: the socket open, nothing comes back) counts as failed after the ping timeout: two in a row are an outage", async () => {
    const { log, msgs } = memoryLog();
    const metrics = createWorkerMetrics({ defaultMetrics: false });
    let silent = false;
    let pings = 0;
    // Without the bound, such a ping waited for pg's read timeout (the statement timeout + 5 s: 65 s
    // by default), then a new connection's 10 s: a minute and a half of "ready" and database_up 1.
    const ping = () => (pings++, silent ? new Promise<void>(() => undefined) : Promise.resolve());
    // A fake clock: the outage is said at exactly two ping timeouts, however loaded the machine.
    vi.useFakeTimers();
    try {
      const health = new DatabaseHealth({ ping }, { log, metrics, now: Date.now, pingTimeoutMs: 50 });
      await health.waitUntilUp(() => false);
      expect(health.isUp).toBe(true);
      silent = true;
      const waiting = health.waitUntilUp(() => false);
      await vi.advanceTimersByTimeAsync(99);
      expect(health.isUp).toBe(true);
      expect(pings).toBe(3);
      await vi.advanceTimersByTimeAsync(1);
      expect(health.isUp).toBe(false);
      // The first ping, then two unanswered ones (the second chance); the outage's own after a pause.
      expect(pings).toBe(3);
      expect(await gauge(metrics)).toBe(0);
      expect(msgs).toContain("database unreachable");
      silent = false;
      await vi.advanceTimersByTimeAsync(250);
      await waiting;
      expect(pings).toBe(4);
      expect(health.isUp).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });
});
