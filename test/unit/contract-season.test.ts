/** Seasons run August to July and are written 2026-27 (2099-00 after 2099). */
import { describe, expect, it } from "vitest";
import { seasonBounds, seasonFirstYear, seasonForDate, seasonName } from "../../src/contract/index.js";

describe("seasonForDate", () => {
  it.each([
    ["2026-08-01", "2026-27", "first day of the season"],
    ["2026-07-31", "2025-26", "last day of the previous season"],
    ["2027-07-31", "2026-27", "last day of the season"],
    ["2027-01-01", "2026-27", "January belongs to the season that started in August"],
    ["2026-12-31", "2026-27", "December"],
    ["2026-10-03", "2026-27", "autumn"],
    ["2027-03-01", "2026-27", "spring"],
    ["2099-08-01", "2099-00", "century wrap"],
    ["2100-07-31", "2099-00", "century wrap, last day"],
    ["2000-01-15", "1999-00", "millennium"],
    ["2009-09-01", "2009-10", "single-digit year"],
  ])("%s -> %s (%s)", (date, season) => {
    expect(seasonForDate(date)).toBe(season);
  });
});

describe("seasonName / seasonFirstYear", () => {
  it.each([
    [2026, "2026-27"],
    [2099, "2099-00"],
    [2009, "2009-10"],
  ])("%i <-> %s", (year, name) => {
    expect(seasonName(year)).toBe(name);
    expect(seasonFirstYear(name)).toBe(year);
  });

  it.each([["2026-28"], ["2026-26"], ["2099-100"], ["26-27"], ["2026/27"], [""], ["2026-27x"]])("%j is not a season", (name) => {
    expect(seasonFirstYear(name)).toBeUndefined();
    expect(seasonBounds(name)).toBeUndefined();
  });
});

describe("seasonBounds", () => {
  it("runs from 1 August to 31 July", () => {
    expect(seasonBounds("2026-27")).toEqual({ startDate: "2026-08-01", endDate: "2027-07-31" });
    expect(seasonBounds("2099-00")).toEqual({ startDate: "2099-08-01", endDate: "2100-07-31" });
  });

  it("contains exactly the dates seasonForDate maps to it", () => {
    const bounds = seasonBounds("2026-27");
    for (const date of ["2026-07-31", "2026-08-01", "2027-07-31", "2027-08-01"]) {
      const inside = bounds !== undefined && date >= bounds.startDate && date <= bounds.endDate;
      expect(inside, date).toBe(seasonForDate(date) === "2026-27");
    }
  });
});
