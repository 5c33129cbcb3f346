import { describe, expect, it } from "vitest";
import { generateSeasonFeed } from "../../bench/feeds/generate.js";
import { readAssistFeeds } from "../../src/sources/assist/read.js";

describe("generated full-season feeds", () => {
  const feed = generateSeasonFeed({ events: 3000, malformedEvery: 500, seed: 7 });
  const read = readAssistFeeds(feed.schedule, feed.standings, { key: feed.key, league: "Homegrown", seasonFirstYear: 2026, now: Date.parse("2026-12-01T00:00:00Z"), fetchedAt: "2026-12-01T00:00:00Z" });

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
    expect(new Set(read.candidates.map((c) => c.match.external_match_id)).size).toBe(read.candidates.length);
  });

  it("its placeholder date is found and its fixtures are postponed", () => {
    expect(read.placeholderDates).toEqual([feed.facts.placeholderDate]);
    expect(read.counts.postponed).toBe(feed.facts.postponed);
  });

  it("holds every status, overlay (Pro Player Pathway) divisions, and UTC fallbacks", () => {
    const statuses = new Set(read.candidates.map((c) => c.match.match_status));
    expect([...statuses].sort()).toEqual(["completed", "postponed", "scheduled", "tbd"]);
    expect(read.candidates.some((c) => c.match.division === "Central (Pro Player Pathway)")).toBe(true);
    expect(read.candidates.some((c) => c.divisions.length > 1)).toBe(true);
    expect(read.candidates.some((c) => c.match.home_penalty_score != null)).toBe(true);
  });

  it("scales to the requested size with hundreds of brackets", () => {
    const big = generateSeasonFeed({ events: 10_000 });
    expect(big.schedule.events.length).toBe(10_000 + big.facts.postponed);
    expect(big.facts.brackets).toBeGreaterThan(150);
  });
});
