/** Assist feed normalisation and instants at their boundaries (what the feed tests left open). */
import { describe, expect, it } from "vitest";
import { buildSquadIndex, joinBrackets } from "../../src/sources/assist/brackets.js";
import { readFeedInstant } from "../../src/sources/assist/instant.js";
import { normaliseEvent, penaltiesOf, statusOf } from "../../src/sources/assist/normalise.js";
import type { Bracket } from "../../src/sources/assist/parse.js";
import { DEFAULT_PLACEHOLDER, detectPlaceholderDates, type DatedFixture } from "../../src/sources/assist/placeholder.js";
import { assistEvent, NORMALISE_CONTEXT } from "../fixtures/assist-events.js";

const event = assistEvent;
const ctx = NORMALISE_CONTEXT;

describe("statusOf at its boundaries", () => {
  it("a result on a placeholder date is completed, not postponed", () => {
    const later = { ...ctx, now: Date.parse("2027-06-09T00:00:00Z") };
    expect(statusOf(event({ start_time: "2027-06-08T16:00:00Z", home_score: 2, away_score: 1 }), "2027-06-08", later)).toBe("completed");
  });

  it("a kickoff exactly now has started: a result is completed, none is tbd", () => {
    const start = "2026-10-01T12:00:00Z";
    expect(statusOf(event({ start_time: start, home_score: 0, away_score: 0 }), "2026-10-01", ctx)).toBe("completed");
    expect(statusOf(event({ start_time: start }), "2026-10-01", ctx)).toBe("tbd");
  });
});

describe("penaltiesOf", () => {
  it("keeps a shootout in which one side scored none; drops only 0-0", () => {
    expect(penaltiesOf(event({ home_score: 1, away_score: 1, home_penalty_shootout_score: 0, away_penalty_shootout_score: 3 }))).toEqual({ home: 0, away: 3 });
    expect(penaltiesOf(event({ home_score: 1, away_score: 1, home_penalty_shootout_score: 4, away_penalty_shootout_score: 0 }))).toEqual({ home: 4, away: 0 });
    expect(penaltiesOf(event({ home_score: 1, away_score: 1, home_penalty_shootout_score: 0, away_penalty_shootout_score: 0 }))).toBeUndefined();
  });
});

describe("normaliseEvent", () => {
  const local = { date: "2026-09-05", time: "09:00" };
  const bracket: Bracket = { id: "7", name: "Northeast", ageGroup: "U15", squadIds: [5748, 5946] };

  it("takes the age group from the bracket before the squad's name, and the feed's competition as the match type", () => {
    const m = normaliseEvent(event({ home_squad_name: "U14", competition: { id: 9, name: "Cup" } }), { bracket, divisions: ["Northeast"] }, local, ctx);
    expect(m).toMatchObject({ age_group: "U15", division: "Northeast", match_type: "Cup" });
  });

  it("falls back to the squad's age group and League when there is no bracket or competition", () => {
    const m = normaliseEvent(event({ home_squad_name: "U14", competition: null }), { bracket: undefined, divisions: [] }, local, ctx);
    expect(m).toMatchObject({ age_group: "U14", match_type: "League" });
    expect(m.division).toBeUndefined();
  });
});

describe("readFeedInstant at its boundaries", () => {
  it("takes 1900 and refuses 1899", () => {
    expect(readFeedInstant("1900-01-01T00:00:00Z")).toBe(Date.UTC(1900, 0, 1));
    expect(readFeedInstant("1899-12-31T23:59:59Z")).toBe("is before 1900");
  });

  it("knows the Gregorian leap years: 2000 and 2028 have 29 February, 2100 and 2027 do not", () => {
    expect(readFeedInstant("2000-02-29T12:00:00Z")).toBe(Date.UTC(2000, 1, 29, 12));
    expect(readFeedInstant("2100-02-29T12:00:00Z")).toBe("has no such date");
    expect(readFeedInstant("2027-02-29T12:00:00Z")).toBe("has no such date");
  });

  it("refuses second 60", () => {
    expect(readFeedInstant("2026-09-05T13:00:59Z")).toBe(Date.UTC(2026, 8, 5, 13, 0, 59));
    expect(readFeedInstant("2026-09-05T13:00:60Z")).toBe("has no such time of day");
  });

  it("reads a fraction shorter than milliseconds as tenths and hundredths", () => {
    expect(readFeedInstant("2026-09-05T13:00:00.5Z")).toBe(Date.UTC(2026, 8, 5, 13, 0, 0, 500));
    expect(readFeedInstant("2026-09-05T13:00:00.25Z")).toBe(Date.UTC(2026, 8, 5, 13, 0, 0, 250));
    expect(readFeedInstant("2026-09-05T13:00:00.1239Z")).toBe(Date.UTC(2026, 8, 5, 13, 0, 0, 123));
  });
});

describe("detectPlaceholderDates at its thresholds", () => {
  const unplayed = (date: string, n: number): DatedFixture[] => Array.from({ length: n }, () => ({ date, unplayed: true }));
  const detect = (...fixtures: DatedFixture[][]) => [...detectPlaceholderDates(fixtures.flat(), 2026)];

  it("a weekday holding exactly minFixtures (25) and exactly ratio (5) x the median of the others is a placeholder", () => {
    expect(detect(unplayed("2027-05-05", 25), unplayed("2027-05-04", 5))).toEqual(["2027-05-05"]);
    expect(detect(unplayed("2027-05-05", 24), unplayed("2027-05-04", 4))).toEqual([]);
  });

  it("counts from the first day of fromMonthDay (1 April), not the day after", () => {
    expect(detect(unplayed("2027-04-01", 30), unplayed("2027-05-04", 2))).toEqual(["2027-04-01"]);
  });

  it("never picks a Sunday when weekdaysOnly", () => {
    expect(detect(unplayed("2027-04-04", 300), unplayed("2027-05-04", 2))).toEqual([]);
  });

  it("compares with the median of the other dates only (an even count averages the middle two)", () => {
    // Others 2 and 4: median 3, so 15 is 5x it; the upper middle (4) would need 20.
    const options = { ...DEFAULT_PLACEHOLDER, minFixtures: 10 };
    expect([...detectPlaceholderDates([...unplayed("2027-05-05", 15), ...unplayed("2027-05-04", 2), ...unplayed("2027-04-06", 4)], 2026, options)]).toEqual(["2027-05-05"]);
    // The date itself is not among "the others": with it, the median of 25 and 5 (15) would hide it.
    expect(detect(unplayed("2027-05-05", 25), unplayed("2027-04-06", 5))).toEqual(["2027-05-05"]);
  });
});

describe("joinBrackets ties", () => {
  it("picks the lowest non-numeric bracket id, whatever the document order", () => {
    const b: Bracket = { id: "b-east", name: "East", ageGroup: "U14", squadIds: [1] };
    const a: Bracket = { id: "a-west", name: "West", ageGroup: "U14", squadIds: [1] };
    expect(joinBrackets(buildSquadIndex([b, a]), 1, undefined).bracket).toBe(a);
    expect(joinBrackets(buildSquadIndex([a, b]), 1, undefined).bracket).toBe(a);
  });
});
