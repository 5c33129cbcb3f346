/** When a task with a Celery eta runs: now, after a hold in memory, or via which delay queue. */
import { describe, expect, it } from "vitest";
import { decideEta, ETA_HOLD_MAX_MS, parseEta } from "../../src/worker/eta.js";

const NOW = Date.parse("2026-11-01T12:00:00Z");
// The default schedule: delay queues of 60 s, 120 s, 240 s.
const RETRY = { max: 3, baseDelayMs: 60_000, maxDelayMs: 600_000 };
const at = (secondsFromNow: number) => NOW + secondsFromNow * 1000;

describe("decideEta", () => {
  it("processes a task that is due or past due", () => {
    expect(decideEta(NOW, NOW, RETRY)).toEqual({ action: "process" });
    expect(decideEta(at(-3600), NOW, RETRY)).toEqual({ action: "process" });
  });

  it("holds a remainder of a second or less in memory", () => {
    expect(decideEta(NOW + 1, NOW, RETRY)).toEqual({ action: "hold", ms: 1 });
    expect(decideEta(NOW + ETA_HOLD_MAX_MS, NOW, RETRY)).toEqual({ action: "hold", ms: ETA_HOLD_MAX_MS });
  });

  it("uses the longest delay queue not longer than the remaining time, with that queue's delay", () => {
    expect(decideEta(at(60), NOW, RETRY)).toEqual({ action: "delay", attempt: 1, tierMs: 60_000, expirationMs: 60_000 });
    expect(decideEta(at(90), NOW, RETRY)).toEqual({ action: "delay", attempt: 1, tierMs: 60_000, expirationMs: 60_000 });
    expect(decideEta(at(120), NOW, RETRY)).toEqual({ action: "delay", attempt: 2, tierMs: 120_000, expirationMs: 120_000 });
    expect(decideEta(at(86_400), NOW, RETRY)).toEqual({ action: "delay", attempt: 3, tierMs: 240_000, expirationMs: 240_000 });
  });

  it("sends a remainder shorter than the first delay queue there with the remainder as its TTL", () => {
    expect(decideEta(at(30), NOW, RETRY)).toEqual({ action: "delay", attempt: 1, tierMs: 60_000, expirationMs: 30_000 });
    expect(decideEta(NOW + ETA_HOLD_MAX_MS + 1, NOW, RETRY)).toEqual({ action: "delay", attempt: 1, tierMs: 60_000, expirationMs: ETA_HOLD_MAX_MS + 1 });
  });

  it("with RETRY_MAX=0 (no delay queue) holds in memory, looking again every minute at most", () => {
    const none = { ...RETRY, max: 0 };
    expect(decideEta(at(30), NOW, none)).toEqual({ action: "hold", ms: 30_000 });
    expect(decideEta(at(86_400), NOW, none)).toEqual({ action: "hold", ms: 60_000 });
  });

  it("follows a capped schedule (equal delays past the cap)", () => {
    const capped = { max: 5, baseDelayMs: 1000, maxDelayMs: 3000 }; // 1 s, 2 s, 3 s, 3 s, 3 s
    expect(decideEta(at(10), NOW, capped)).toEqual({ action: "delay", attempt: 5, tierMs: 3000, expirationMs: 3000 });
    expect(decideEta(at(2.5), NOW, capped)).toEqual({ action: "delay", attempt: 2, tierMs: 2000, expirationMs: 2000 });
  });
});

describe("parseEta", () => {
  it("reads Python isoformat() output, zoned or naive (UTC), and refuses anything else", () => {
    expect(parseEta("2026-11-01T12:00:30.123456+00:00")).toBe(at(30.123));
    expect(parseEta("2026-11-01T13:00:30+01:00")).toBe(at(30));
    expect(parseEta("2026-11-01T12:00:30.5")).toBe(at(30.5));
    expect(parseEta("2026-11-01T12:00:30Z")).toBe(at(30));
    expect(parseEta("soon")).toBeUndefined();
    expect(parseEta("2026-13-45T00:00:00")).toBeUndefined();
  });
});
