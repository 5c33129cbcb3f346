import { describe, expect, it } from "vitest";
import { pino } from "pino";
import { getEventListeners } from "node:events";
import { Writable } from "node:stream";
import { CLOCK_CHECK_MS, nextRun, runSchedule, validateCron } from "../../src/run/schedule.js";

function memoryLog() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { log: pino({ level: "debug" }, stream), lines };
}

describe("cron schedule", () => {
  it("computes the next run in UTC", () => {
    expect(nextRun("0 6 * * *", new Date("2026-11-29T13:00:00Z")).toISOString()).toBe("2026-11-30T06:00:00.000Z");
    expect(nextRun("0 6 * * *", new Date("2026-11-29T05:59:00Z")).toISOString()).toBe("2026-11-29T06:00:00.000Z");
    expect(nextRun("*/15 * * * *", new Date("2026-11-29T13:07:30Z")).toISOString()).toBe("2026-11-29T13:15:00.000Z");
  });

  it("refuses malformed expressions with a clear message", () => {
    expect(() => validateCron("bad")).toThrow(/must have 5 fields/);
    // cron-parser reads a 6th (seconds) field: refused, it would fire every few seconds.
    expect(() => validateCron("*/10 * * * * *")).toThrow(/must have 5 fields/);
    expect(() => validateCron("0 6 * * * 2026")).toThrow(/must have 5 fields/);
    expect(() => validateCron("61 * * * *")).toThrow(/not a valid cron expression/);
    expect(() => validateCron("0 6 * * *")).not.toThrow();
  });

  it("runs at the tick, never overlaps, and waits for the run in progress on stop", async () => {
    // A clock that reads 300 ms before a minute boundary when the schedule first asks for the
    // time, so that the tick of "* * * * *" comes soon. Set on the first call, not when the test
    // starts: on a loaded machine (CI runs test files in parallel) the schedule may start more
    // than the margin later, and would then wait a whole minute for the next tick.
    let offset: number | undefined;
    const now = () => {
      const real = Date.now();
      offset ??= Math.ceil(real / 60_000) * 60_000 - 300 - real;
      return new Date(real + offset);
    };
    const { log, lines } = memoryLog();
    const controller = new AbortController();
    let release!: () => void;
    let calls = 0;
    const job = () => {
      calls++;
      return new Promise<number>((resolve) => (release = () => resolve(0)));
    };
    const done = runSchedule({ cron: "* * * * *", job, log, signal: controller.signal, runNow: true, now });
    // The run started at once is still going when the tick comes: the tick is skipped.
    await expect.poll(() => lines.some((l) => l.msg === "previous run still going: this run is skipped (runs never overlap)"), { timeout: 5000 }).toBe(true);
    expect(calls).toBe(1);
    controller.abort();
    let stopped = false;
    void done.then(() => (stopped = true));
    await expect.poll(() => lines.some((l) => l.msg === "stopping: waiting for the run in progress"), { timeout: 5000 }).toBe(true);
    expect(stopped).toBe(false);
    release();
    await done;
    expect(lines.some((l) => l.msg === "scheduled run done")).toBe(true);
  });

  it("with --run-now, says it waits for the next tick only after the first run, naming that tick", async () => {
    const { log, lines } = memoryLog();
    const controller = new AbortController();
    let release!: () => void;
    const job = () => new Promise<number>((resolve) => (release = () => resolve(0)));
    const now = () => new Date("2026-11-29T13:07:30Z");
    const done = runSchedule({ cron: "0 6 * * *", job, log, signal: controller.signal, runNow: true, now });
    await expect.poll(() => lines.some((l) => l.msg === "scheduled run starting")).toBe(true);
    await Promise.resolve();
    // The run is in progress: the schedule is waiting, but does not say so before the run's own lines.
    expect(lines.map((l) => l.msg)).toEqual(["scheduled run starting"]);
    release();
    await expect.poll(() => lines.some((l) => l.msg === "scheduled run done")).toBe(true);
    expect(lines.find((l) => l.msg === "scheduled run done")?.nextRun).toBe("2026-11-30T06:00:00.000Z");
    controller.abort();
    await done;
  });

  it("a long-running schedule leaves no abort listener behind per wait (they piled up: MaxListenersExceededWarning)", async () => {
    const { log, lines } = memoryLog();
    const controller = new AbortController();
    // A clock a minute further on each time it is read: every pass's wait is over at once.
    let t = Date.parse("2026-11-29T13:00:30Z");
    const now = () => new Date((t += 60_000));
    const done = runSchedule({ cron: "* * * * *", job: () => Promise.resolve(0), log, signal: controller.signal, now });
    await expect.poll(() => lines.filter((l) => l.msg === "scheduled run done").length).toBeGreaterThan(20);
    expect(getEventListeners(controller.signal, "abort").length).toBeLessThanOrEqual(1);
    controller.abort();
    await done;
  });

  it("a clock stepped back after a run (NTP) does not run the same tick again", async () => {
    // A clock the test sets, read every 5 ms; a second behind it once the run has started.
    let t = Date.parse("2026-11-29T12:59:59.800Z");
    let calls = 0;
    let reads = 0;
    const now = () => (reads++, new Date(t - (calls > 0 ? 1000 : 0)));
    const { log, lines } = memoryLog();
    const controller = new AbortController();
    const job = () => {
      calls++;
      return Promise.resolve(0);
    };
    const done = runSchedule({ cron: "* * * * *", job, log, signal: controller.signal, now, clockCheckMs: 5 });
    t = Date.parse("2026-11-29T13:00:00.000Z");
    await expect.poll(() => lines.filter((l) => l.msg === "scheduled run done").length).toBe(1);
    // Back before the tick, then on past it again (the run's tick read 1.5 s later): the tick that
    // ran is not due again, however many times the loop looks at the clock.
    t = Date.parse("2026-11-29T13:00:02.500Z");
    const seen = reads;
    await expect.poll(() => reads).toBeGreaterThan(seen + 20);
    expect(calls).toBe(1);
    expect(lines.find((l) => l.msg === "scheduled run starting")?.scheduledFor).toBe("2026-11-29T13:00:00.000Z");
    expect(lines.find((l) => l.msg === "scheduled run done")?.nextRun).toBe("2026-11-29T13:01:00.000Z");
    controller.abort();
    await done;
  });

  it("a clock stepped back by more than 3 hours (it was wrong) runs at its next tick, not after the one that ran", async () => {
    // Just after the 06:00 tick; once it has run, the clock is set back a day, to just before 06:00.
    let calls = 0;
    const start = Date.now();
    const now = () => new Date(Date.now() - start + (calls === 0 ? Date.parse("2026-11-29T06:00:00.050Z") : Date.parse("2026-11-28T05:59:59.900Z")));
    const { log, lines } = memoryLog();
    const controller = new AbortController();
    const job = () => {
      calls++;
      return Promise.resolve(0);
    };
    const done = runSchedule({ cron: "0 6 * * *", job, log, signal: controller.signal, runNow: true, now });
    await expect.poll(() => calls, { timeout: 5000 }).toBe(2);
    expect(lines.filter((l) => l.msg === "scheduled run starting").map((l) => l.scheduledFor)).toEqual([expect.any(String), "2026-11-28T06:00:00.000Z"]);
    controller.abort();
    await done;
  });
  it("a clock that jumps forward (a VM resumed) runs the missed tick at the next look at the clock, and says it waits once a tick", async () => {
    let jumped = false;
    let reads = 0;
    const now = () => {
      reads++;
      return new Date(jumped ? Date.parse("2026-11-29T06:00:05Z") : Date.parse("2026-11-29T05:00:00Z"));
    };
    const { log, lines } = memoryLog();
    const controller = new AbortController();
    let calls = 0;
    const job = () => {
      calls++;
      return Promise.resolve(0);
    };
    const done = runSchedule({ cron: "0 6 * * *", job, log, signal: controller.signal, now, clockCheckMs: 5 });
    // Many pieces of the wait go by on the stopped clock: one "waiting" line, not one a piece.
    await expect.poll(() => reads).toBeGreaterThan(40);
    expect(lines.filter((l) => l.msg === "waiting for the next run").map((l) => l.nextRun)).toEqual(["2026-11-29T06:00:00.000Z"]);
    jumped = true;
    await expect.poll(() => calls, { timeout: 2000 }).toBe(1);
    expect(lines.find((l) => l.msg === "scheduled run starting")?.scheduledFor).toBe("2026-11-29T06:00:00.000Z");
    controller.abort();
    await done;
  });

  it("looks at the clock at least once a minute by default", () => {
    expect(CLOCK_CHECK_MS).toBeLessThanOrEqual(60_000);
  });
});
