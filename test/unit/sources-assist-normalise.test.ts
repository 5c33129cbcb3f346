import { describe, expect, it } from "vitest";
import { buildSquadIndex, joinBrackets } from "../../src/sources/assist/brackets.js";
import { createLocalClock } from "../../src/sources/assist/local-time.js";
import { normaliseEvent, penaltiesOf, statusOf } from "../../src/sources/assist/normalise.js";
import type { Bracket } from "../../src/sources/assist/parse.js";
import { DEFAULT_PLACEHOLDER, detectPlaceholderDates } from "../../src/sources/assist/placeholder.js";
import type { RawEvent } from "../fixtures/assist-builders.js";
import { assistEvent, NORMALISE_CONTEXT } from "../fixtures/assist-events.js";

const event = assistEvent;
const ctx = NORMALISE_CONTEXT;

describe("local date and time", () => {
  const clock = createLocalClock();
  it("converts the UTC start to the venue's zone", () => {
    expect(clock(Date.parse("2026-09-05T13:00:00Z"), "America/New_York")).toEqual({ date: "2026-09-05", time: "09:00", zone: "America/New_York" });
    expect(clock(Date.parse("2026-09-05T13:00:00Z"), "America/Los_Angeles")).toMatchObject({ date: "2026-09-05", time: "06:00" });
  });

  it("changes the calendar date when the zone puts the kickoff on another day", () => {
    // 02:00 UTC on the 6th is the evening of the 5th in Chicago, and the 6th in Berlin.
    expect(clock(Date.parse("2026-09-06T02:00:00Z"), "America/Chicago")).toMatchObject({ date: "2026-09-05", time: "21:00" });
    expect(clock(Date.parse("2026-09-06T23:30:00Z"), "Europe/Berlin")).toMatchObject({ date: "2026-09-07", time: "01:30" });
  });

  it("follows daylight saving time across the November change", () => {
    expect(clock(Date.parse("2026-10-31T16:00:00Z"), "America/New_York").time).toBe("12:00"); // EDT
    expect(clock(Date.parse("2026-11-01T04:30:00Z"), "America/New_York")).toMatchObject({ date: "2026-11-01", time: "00:30" }); // still EDT
    expect(clock(Date.parse("2026-11-01T07:00:00Z"), "America/New_York")).toMatchObject({ date: "2026-11-01", time: "02:00" }); // EST from 06:00Z
    expect(clock(Date.parse("2026-11-07T17:00:00Z"), "America/New_York").time).toBe("12:00"); // EST
  });

  it("falls back to UTC for a missing or unknown zone", () => {
    expect(clock(Date.parse("2026-09-06T02:00:00Z"), undefined)).toEqual({ date: "2026-09-06", time: "02:00", zone: "UTC" });
    expect(clock(Date.parse("2026-09-06T02:00:00Z"), "Mars/Olympus_Mons")).toEqual({ date: "2026-09-06", time: "02:00", zone: "UTC" });
  });
});

describe("status", () => {
  it("kickoff ahead -> scheduled; passed with both scores -> completed; passed without -> tbd", () => {
    expect(statusOf(event({ start_time: "2026-10-02T12:00:00Z" }), "2026-10-02", ctx)).toBe("scheduled");
    expect(statusOf(event({ start_time: "2026-09-05T13:00:00Z", home_score: 1, away_score: 0 }), "2026-09-05", ctx)).toBe("completed");
    expect(statusOf(event({ start_time: "2026-09-05T13:00:00Z", home_score: 1, away_score: null }), "2026-09-05", ctx)).toBe("tbd");
    expect(statusOf(event({ start_time: "2026-09-05T13:00:00Z" }), "2026-09-05", ctx)).toBe("tbd");
  });

  it("the completed flag with scores counts even before the kickoff instant", () => {
    expect(statusOf(event({ start_time: "2026-10-01T12:30:00Z", completed: true, home_score: 2, away_score: 2 }), "2026-10-01", ctx)).toBe("completed");
    expect(statusOf(event({ start_time: "2026-10-01T12:30:00Z", completed: true }), "2026-10-01", ctx)).toBe("scheduled");
  });

  it("an unplayed fixture on the placeholder date is postponed", () => {
    expect(statusOf(event({ start_time: "2027-06-08T16:00:00Z" }), "2027-06-08", ctx)).toBe("postponed");
    expect(statusOf(event({ start_time: "2027-06-09T16:00:00Z" }), "2027-06-09", ctx)).toBe("scheduled");
  });
});

describe("penalties", () => {
  it("keeps a shootout after a level score", () => {
    expect(penaltiesOf(event({ home_score: 1, away_score: 1, home_penalty_shootout_score: 5, away_penalty_shootout_score: 4 }))).toEqual({ home: 5, away: 4 });
  });
  it("zeros mean no shootout", () => {
    expect(penaltiesOf(event({ home_score: 1, away_score: 1, home_penalty_shootout_score: 0, away_penalty_shootout_score: 0 }))).toBeUndefined();
  });
  it("drops penalties on a decided or unplayed match, or with one side missing", () => {
    expect(penaltiesOf(event({ home_score: 2, away_score: 1, home_penalty_shootout_score: 4, away_penalty_shootout_score: 3 }))).toBeUndefined();
    expect(penaltiesOf(event({ home_penalty_shootout_score: 4, away_penalty_shootout_score: 3 }))).toBeUndefined();
    expect(penaltiesOf(event({ home_score: 0, away_score: 0, home_penalty_shootout_score: 4 }))).toBeUndefined();
  });
});

describe("normaliseEvent", () => {
  const brackets: Bracket[] = [{ id: "69", name: "Florida", ageGroup: "U14", squadIds: [5748, 5946] }];
  const index = buildSquadIndex(brackets);
  const clock = createLocalClock();
  const map = (overrides: RawEvent) => {
    const e = event(overrides);
    return normaliseEvent(e, joinBrackets(index, e.homeSquadId, e.awaySquadId), clock(e.startMs, e.timezone), ctx);
  };

  it("maps every contract field of a completed match", () => {
    expect(map({ game_key: "26099", start_time: "2026-09-05T13:00:00Z", completed: true, home_score: 2, away_score: 2, home_penalty_shootout_score: 3, away_penalty_shootout_score: 1 })).toEqual({
      external_match_id: "26099",
      home_team: "South Florida Football Academy",
      away_team: "Athletum FC Academy",
      match_date: "2026-09-05",
      match_time: "09:00",
      scheduled_kickoff: "2026-09-05T13:00:00.000Z",
      season: "2026-27",
      league: "Homegrown",
      age_group: "U14",
      division: "Florida",
      match_type: "League",
      match_status: "completed",
      home_score: 2,
      away_score: 2,
      home_penalty_score: 3,
      away_penalty_score: 1,
      location: "Loggers Run Park - Field # 1",
      source: "mlsnext-assist",
      scraped_at: "2026-08-24T11:50:08.000Z",
    });
  });

  it("sends no scores for a future fixture, and falls back to the squad name for the age group", () => {
    const m = map({ start_time: "2026-12-05T13:00:00Z", home_score: 1, away_score: 0, home_squad_id: 1, away_squad_id: 2, home_squad_name: "U16" });
    expect(m.match_status).toBe("scheduled");
    expect(m.home_score).toBeUndefined();
    expect(m.age_group).toBe("U16");
    expect(m.division).toBeUndefined();
  });
});

describe("placeholder date detection", () => {
  const fixtures = (date: string, n: number, unplayed = true) => Array.from({ length: n }, () => ({ date, unplayed }));
  const season = [
    ...fixtures("2027-05-15", 300), // a busy Saturday near the end, not yet played
    ...fixtures("2027-05-19", 6), // a Wednesday with a few midweek games
    ...fixtures("2026-10-14", 4),
    ...fixtures("2026-10-10", 280, false),
  ];

  it("finds a weekday near the season's end holding an unusually large number of unplayed fixtures", () => {
    expect([...detectPlaceholderDates([...season, ...fixtures("2027-06-08", 120)], 2026)]).toEqual(["2027-06-08"]);
  });

  it("ignores busy weekends, ordinary midweek dates and dates far from the end", () => {
    expect([...detectPlaceholderDates(season, 2026)]).toEqual([]);
    expect([...detectPlaceholderDates([...season, ...fixtures("2026-11-10", 120)], 2026)]).toEqual([]);
  });

  it("the thresholds are parameters", () => {
    const small = [...season, ...fixtures("2027-06-08", 12)];
    expect([...detectPlaceholderDates(small, 2026)]).toEqual([]);
    expect([...detectPlaceholderDates(small, 2026, { ...DEFAULT_PLACEHOLDER, minFixtures: 10, ratio: 2 })]).toEqual(["2027-06-08"]);
  });
});
