/**
 * `matchflow schedule` runs for weeks with one stop signal (its AbortController) and a fresh
 * feed fetcher per run. Whatever a run hangs on that signal must leave with the run: a listener
 * per run (or per download) stayed, and after 11 runs Node said "MaxListenersExceededWarning:
 * Possible EventTarget memory leak detected".
 */
import { getEventListeners } from "node:events";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../src/log.js";
import { readSchedule } from "../../src/sources/assist/parse.js";
import { createFeedFetcher } from "../../src/sources/http.js";
import { startDeadline } from "../../src/sources/deadline.js";
import { raceAbort } from "../../src/patience.js";
import { useLocalServer } from "../helpers/local-http.js";

const SCHEDULE = readFileSync(new URL("../fixtures/mlsnext-assist/schedule-league-26-27.json", import.meta.url), "utf8");

const hits = new Map<string, number>();
const base = useLocalServer((req, res) => {
  const hit = (hits.get(req.url ?? "") ?? 0) + 1;
  hits.set(req.url ?? "", hit);
  // Odd hits fail: every download is a failed attempt, a pause, and a second attempt.
  if (hit % 2 === 1) res.writeHead(503).end();
  else res.writeHead(200, { "content-type": "application/json" }).end(SCHEDULE);
});

/**
 * What AbortSignal.any registers on a source signal (Node 20 keeps every derived signal's entry
 * for the source's life); undefined where the runtime keeps no such set.
 */
function dependants(signal: AbortSignal): number | undefined {
  const key = Object.getOwnPropertySymbols(signal).find((s) => s.description === "kDependantSignals");
  const set = key === undefined ? undefined : (signal as unknown as Record<symbol, { size?: number } | undefined>)[key];
  return set?.size;
}

describe("the schedule's stop signal gathers nothing run after run", () => {
  it("30 runs of a fetcher that downloads with a retry leave no abort listener and no derived signal on it", async () => {
    const stop = new AbortController();
    const before = dependants(stop.signal) ?? 0;
    for (let run = 0; run < 30; run++) {
      // As the schedule's job does: a fetcher per run, on the schedule's signal.
      const fetcher = createFeedFetcher({ timeoutMs: 2000, log: silentLogger, stop: stop.signal, sleep: () => Promise.resolve() });
      const doc = await fetcher.read(`${base()}/schedule-${run}`, "schedule k", readSchedule);
      expect(doc).toBeDefined();
    }
    expect(hits.get("/schedule-29")).toBe(2);
    expect(getEventListeners(stop.signal, "abort")).toHaveLength(0);
    expect(dependants(stop.signal) ?? 0).toBe(before);
  });

  it("a stop still ends a download's deadline, and a cleared deadline leaves the stop signal alone", () => {
    const stop = new AbortController();
    const cleared = startDeadline(60_000, undefined, stop.signal);
    cleared.clear();
    expect(getEventListeners(stop.signal, "abort")).toHaveLength(0);
    const live = startDeadline(60_000, undefined, stop.signal);
    stop.abort();
    expect(live.signal.aborted).toBe(true);
    expect(live.why).toBeUndefined(); // stopped, not timed out
    live.clear();
  });

  it("raceAbort: the work's value, or undefined at the stop; its listener leaves either way", async () => {
    const stop = new AbortController();
    for (let i = 0; i < 30; i++) expect(await raceAbort(Promise.resolve(i), stop.signal)).toBe(i);
    await expect(raceAbort(Promise.reject(new Error("failed")), stop.signal)).rejects.toThrow("failed");
    expect(getEventListeners(stop.signal, "abort")).toHaveLength(0);
    const pending = raceAbort(new Promise<never>(() => undefined), stop.signal);
    stop.abort();
    expect(await pending).toBeUndefined();
    expect(await raceAbort(new Promise<never>(() => undefined), stop.signal)).toBeUndefined();
    expect(getEventListeners(stop.signal, "abort")).toHaveLength(0);
  });
});
