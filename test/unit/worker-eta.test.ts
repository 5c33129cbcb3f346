/** When a task with a Celery eta runs: now, after a hold in memory, or via which eta delay queue. */
import { describe, expect, it } from "vitest";
import { ETA_DELAY_TIERS_MS } from "../../src/broker/topology-names.js";
import { parseCeleryTime } from "../../src/celery/time.js";
import { decideEta, ETA_HOLD_MAX_MS } from "../../src/worker/eta.js";

const NOW = Date.parse("2026-11-01T12:00:00Z");
const at = (secondsFromNow: number) => NOW + secondsFromNow * 1000;
const delay = (tierSeconds: number) => ({ action: "delay", tierMs: tierSeconds * 1000 });

describe("decideEta", () => {
  it("processes a task that is due or past due", () => {
    expect(decideEta(NOW, NOW)).toEqual({ action: "process" });
    expect(decideEta(at(-3600), NOW)).toEqual({ action: "process" });
  });

  it("holds a remainder of a second or less in memory, for exactly that remainder", () => {
    expect(decideEta(NOW + 1, NOW)).toEqual({ action: "hold", ms: 1 });
    expect(decideEta(NOW + ETA_HOLD_MAX_MS, NOW)).toEqual({ action: "hold", ms: ETA_HOLD_MAX_MS });
  });

  it("has tiers of powers of 4 seconds from the hold limit up to about 3 days", () => {
    expect(ETA_DELAY_TIERS_MS).toEqual([1, 4, 16, 64, 256, 1024, 4096, 16_384, 65_536, 262_144].map((s) => s * 1000));
    // Every remainder above the hold limit has a tier not above it.
    expect(ETA_DELAY_TIERS_MS[0]).toBe(ETA_HOLD_MAX_MS);
  });

  it("sends a longer remainder to the longest tier not above it, so it comes back no later than its eta", () => {
    expect(decideEta(NOW + ETA_HOLD_MAX_MS + 1, NOW)).toEqual(delay(1));
    expect(decideEta(at(2.5), NOW)).toEqual(delay(1));
    expect(decideEta(at(3.999), NOW)).toEqual(delay(1));
    expect(decideEta(at(4), NOW)).toEqual(delay(4));
    expect(decideEta(at(30), NOW)).toEqual(delay(16));
    expect(decideEta(at(60), NOW)).toEqual(delay(16));
    expect(decideEta(at(3600), NOW)).toEqual(delay(1024));
    expect(decideEta(at(86_400), NOW)).toEqual(delay(65_536));
    expect(decideEta(at(262_144), NOW)).toEqual(delay(262_144));
  });

  it("goes round the longest tier again for an eta beyond it (weeks away)", () => {
    expect(decideEta(at(30 * 86_400), NOW)).toEqual(delay(262_144));
  });

  it("never comes back early, and each tier is passed at most three times on the way down", () => {
    for (const seconds of [1.5, 7, 100, 3600, 86_400, 5 * 86_400]) {
      const dueAt = at(seconds);
      let now = NOW;
      const passes = new Map<number, number>();
      for (let trips = 0; ; trips++) {
        expect(trips).toBeLessThan(100);
        const d = decideEta(dueAt, now);
        if (d.action !== "delay") {
          // Due to the millisecond, or a last second at most held in memory.
          expect(d).toEqual(now === dueAt ? { action: "process" } : { action: "hold", ms: dueAt - now });
          break;
        }
        expect(now + d.tierMs).toBeLessThanOrEqual(dueAt);
        passes.set(d.tierMs, (passes.get(d.tierMs) ?? 0) + 1);
        now += d.tierMs;
      }
      const longest = ETA_DELAY_TIERS_MS[ETA_DELAY_TIERS_MS.length - 1] as number;
      for (const [tier, n] of passes) if (tier !== longest) expect(n, `${seconds} s: tier ${tier}`).toBeLessThanOrEqual(3);
    }
  });
});

describe("parseCeleryTime", () => {
  it("reads Python isoformat() output, zoned or naive (UTC), and refuses anything else", () => {
    expect(parseCeleryTime("2026-11-01T12:00:30.123456+00:00")).toBe(at(30.123));
    expect(parseCeleryTime("2026-11-01T13:00:30+01:00")).toBe(at(30));
    expect(parseCeleryTime("2026-11-01T12:00:30.5")).toBe(at(30.5));
    expect(parseCeleryTime("2026-11-01T12:00:30Z")).toBe(at(30));
    expect(parseCeleryTime("soon")).toBeUndefined();
    expect(parseCeleryTime("2026-13-45T00:00:00")).toBeUndefined();
  });

  it("reads every zone form ISO allows: a negative offset, +HHMM, a lower-case z", () => {
    expect(parseCeleryTime("2026-11-01T07:00:30-05:00")).toBe(at(30));
    expect(parseCeleryTime("2026-11-01 07:00:30.5-05:00")).toBe(at(30.5));
    expect(parseCeleryTime("2026-11-01T13:00:30+0100")).toBe(at(30));
    expect(parseCeleryTime("2026-11-01T07:00:30-0500")).toBe(at(30));
    expect(parseCeleryTime("2026-11-01T12:00:30z")).toBe(at(30));
  });

  it("reads a naive time after any separator as UTC, as Celery does (`str(datetime)` writes a space), whatever the process's time zone", () => {
    const saved = process.env.TZ;
    try {
      for (const tz of ["America/New_York", "Asia/Tokyo"]) {
        process.env.TZ = tz;
        expect(parseCeleryTime("2026-11-01 12:00:30"), tz).toBe(at(30));
        expect(parseCeleryTime("2026-11-01 12:00:30.250000"), tz).toBe(at(30.25));
        expect(parseCeleryTime("2026-11-01 13:00:30+01:00"), tz).toBe(at(30));
        expect(parseCeleryTime("2026-11-01T12:00:30"), tz).toBe(at(30));
        expect(parseCeleryTime(" 2026-11-01 12:00:30\n"), tz).toBe(at(30));
      }
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  });
});
