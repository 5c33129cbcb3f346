import { describe, expect, it } from "vitest";
import { generateSeasonFeed } from "../../bench/feeds/generate.js";
import { readSchedule, readStandings } from "../../src/sources/assist/parse.js";
import { readAssistFeeds } from "../../src/sources/assist/read.js";

describe("generated full-season feeds", async () => {
  const feed = generateSeasonFeed({ events: 3000, malformedEvery: 500, seed: 7 });
  const [schedule, standings] = await Promise.all([readSchedule([JSON.stringify(feed.schedule)], feed.key), readStandings([JSON.stringify(feed.standings)], feed.key)]);
  const read = readAssistFeeds(schedule, standings, { key: feed.key, league: "Homegrown", seasonFirstYear: 2026, now: Date.parse("2026-12-01T00:00:00Z"), fetchedAt: "2026-12-01T00:00:00Z" });
  const candidates = [...read.candidates];

  it("is deterministic for a seed", () => {
    expect(JSON.stringify(generateSeasonFeed({ events: 3000, malformedEvery: 500, seed: 7 }))).toBe(JSON.stringify(feed));
    expect(JSON.stringify(generateSeasonFeed({ events: 3000, seed: 8 }).schedule)).not.toBe(JSON.stringify(feed.schedule));
  });

  it("reads back completely: every event, malformed ones counted, brackets joined", () => {
    expect(feed.key).toBe("mls-next-league-26-27");
    expect(read.counts.events).toBe(feed.schedule.events.length);
    expect(read.counts.malformed).toBe(feed.facts.malformed);
    expect(feed.facts.malformed).toBeGreaterThan(0);
    expect(read.counts.brackets).toBe(feed.facts.brackets);
    expect(read.counts.unbracketed).toBe(0);
    expect(read.duplicates).toBe(0);
    expect(new Set(candidates.map((c) => c.match.external_match_id)).size).toBe(candidates.length);
    expect(candidates.length).toBe(read.counts.events - read.counts.malformed);
  });

  it("its placeholder date is found and its fixtures are postponed", () => {
    expect(read.placeholderDates).toEqual([feed.facts.placeholderDate]);
    expect(candidates.filter((c) => c.match.match_status === "postponed")).toHaveLength(feed.facts.postponed);
  });

  it("holds every status, overlay (Pro Player Pathway) divisions, and UTC fallbacks", () => {
    const statuses = new Set(candidates.map((c) => c.match.match_status));
    expect([...statuses].sort()).toEqual(["completed", "postponed", "scheduled", "tbd"]);
    expect(candidates.some((c) => c.match.division === "Central (Pro Player Pathway)")).toBe(true);
    expect(candidates.some((c) => c.divisions.length > 1)).toBe(true);
    expect(candidates.some((c) => c.match.home_penalty_score != null)).toBe(true);
  });

  it("scales to the requested size with hundreds of brackets", () => {
    const big = generateSeasonFeed({ events: 10_000 });
    expect(big.schedule.events.length).toBe(10_000 + big.facts.postponed);
    expect(big.facts.brackets).toBeGreaterThan(150);
  });
});
