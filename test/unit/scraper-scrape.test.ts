import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../src/log.js";
import { scrape, type ScrapeOptions } from "../../src/scraper/scrape.js";
import { windowOutsideSeason } from "../../src/scraper/seasons.js";
import type { FeedFetcher } from "../../src/sources/http.js";
import { memoryFetcher } from "../fixtures/memory-fetcher.js";
import { bracket, rawEvent, scheduleDoc, standingsDoc, type RawEvent } from "../fixtures/assist-builders.js";

const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(`../fixtures/mlsnext-assist/${name}`, import.meta.url), "utf8"));
const BASE = "http://feeds.test";

function leagueFeeds(schedule: unknown, standings: unknown): FeedFetcher {
  return memoryFetcher({
    [`${BASE}/data/schedule/mls-next-league-26-27.json`]: schedule,
    [`${BASE}/data/standings/mls-next-league-26-27.json`]: standings,
  });
}

const options = (overrides: Partial<ScrapeOptions> = {}): ScrapeOptions => ({
  source: "assist",
  league: "Homegrown",
  seasonFirstYear: 2026,
  assistBaseUrl: BASE,
  modular11BaseUrl: "http://m11.test",
  ...overrides,
});
const at = (iso: string) => ({ now: () => new Date(iso), log: silentLogger });

describe("scrape (assist)", () => {
  it("reads the recorded league feeds into contract-valid matches", async () => {
    const result = await scrape(options(), { fetcher: leagueFeeds(fixture("schedule-league-26-27.json"), fixture("standings-league-26-27.json")), ...at("2026-09-20T00:00:00Z") });
    expect(result.matches.map((m) => [m.external_match_id, m.age_group, m.division, m.match_status, m.match_date, m.match_time])).toEqual([
      ["26029", "U13", "Florida", "tbd", "2026-09-05", "09:00"],
      ["26030", "U14", "Florida", "tbd", "2026-09-05", "09:00"],
      ["27001", "U14", "Northeast", "tbd", "2026-09-12", "11:00"],
      ["26099", "U14", "Florida", "completed", "2026-10-10", "12:00"], // the feed says completed, with scores
    ]);
    expect(result.counts).toMatchObject({ events: 4, malformed: 0, brackets: 3, matches: 4, invalid: 0, downloads: 2 });
    expect(result.matches[0]!.scraped_at).toBe("2026-08-24T11:50:08.000Z");
    expect(result.metadata).toMatchObject({ source: "assist", league: "Homegrown", season: "2026-27", window: { from: null, to: null } });
  });

  it("an asked age group that no event of the feed has is reported with the feed's age groups", async () => {
    const result = await scrape(options({ ageGroups: ["U14", "U99"] }), { fetcher: leagueFeeds(fixture("schedule-league-26-27.json"), fixture("standings-league-26-27.json")), ...at("2026-09-20T00:00:00Z") });
    expect(result.counts.matches).toBe(3);
    expect(result.problems).toContainEqual({ where: "--age-group U99", reason: "no event of the feed has this age group (it has: U13, U14)" });
    expect(result.problems.filter((p) => p.where.startsWith("--age-group"))).toHaveLength(1);
  });

  it("a division or club that no fixture of the feed has is reported (a typo gave 0 found in silence); one the feed has is not", async () => {
    const feeds = () => leagueFeeds(fixture("schedule-league-26-27.json"), fixture("standings-league-26-27.json"));
    const typo = await scrape(options({ division: "Northest", club: "Nowhereville" }), { fetcher: feeds(), ...at("2026-09-20T00:00:00Z") });
    expect(typo.counts.matches).toBe(0);
    expect(typo.problems).toEqual([
      { where: "--division Northest", reason: "no fixture of the feed is in this division or conference (it has: Florida, Northeast)" },
      { where: "--club Nowhereville", reason: "no team of the feed has this in its name" },
    ]);
    // In the feed, even when the other filters leave nothing of it: not a typo.
    const known = await scrape(options({ division: "northeast", club: "ATHLETUM", ageGroups: ["U13"] }), { fetcher: feeds(), ...at("2026-09-20T00:00:00Z") });
    expect(known.problems).toEqual([]);
  });

  it("a fixture marked completed with its scores is completed", async () => {
    const result = await scrape(options({ club: "athletum", ageGroups: ["U14"], from: "2026-10-10", to: "2026-10-10" }), {
      fetcher: leagueFeeds(fixture("schedule-league-26-27.json"), fixture("standings-league-26-27.json")),
      ...at("2026-11-01T00:00:00Z"),
    });
    expect(result.matches).toHaveLength(1);
    expect(result.matches[0]).toMatchObject({ external_match_id: "26099", match_status: "completed", home_score: 3, away_score: 1 });
  });

  describe("filters", () => {
    const standings = standingsDoc([
      bracket(65, "Central (Pro Player Pathway)", "U16", [7266, 7300]),
      bracket(90, "Central", "U16", [7266, 7300, 7400]),
      bracket(95, "Northeast", "U16", [9721, 5744]),
      bracket(41, "Northeast", "U14", [6001, 6002]),
    ]);
    const ev = (o: RawEvent) => rawEvent({ home_squad_name: "U16", away_squad_name: "U16", ...o });
    const events = [
      ev({ game_key: "1", home_squad_id: 7266, away_squad_id: 7300, home_organisation: { name: "Chicago Fire FC" }, away_organisation: { name: "Colorado Rapids" }, start_time: "2026-09-06T02:00:00Z", local_timezone: "America/Chicago" }),
      ev({ game_key: "2", home_squad_id: 9721, away_squad_id: 5744, home_organisation: { name: "Downtown United Soccer Club" }, away_organisation: { name: "Bayside FC" }, start_time: "2026-09-06T15:00:00Z" }),
      rawEvent({ game_key: "3", home_squad_id: 6001, away_squad_id: 6002, home_organisation: { name: "Oakwood SC" }, away_organisation: { name: "IFA" }, start_time: "2026-09-07T15:00:00Z" }),
    ];
    const run = (o: Partial<ScrapeOptions>) => scrape(options(o), { fetcher: leagueFeeds(scheduleDoc(events), standings), ...at("2026-08-30T00:00:00Z") }).then((r) => r.matches.map((m) => m.external_match_id));

    it("division (conference) matches either bracket of a squad, case-insensitively", async () => {
      expect(await run({ division: "central" })).toEqual(["1"]);
      expect(await run({ division: "Central (PRO PLAYER PATHWAY)" })).toEqual(["1"]);
      expect(await run({ division: "Northeast" })).toEqual(["2", "3"]);
      expect(await run({ division: "Florida" })).toEqual([]);
    });

    it("age groups (one or several) and club (substring of either name, any case)", async () => {
      expect(await run({ ageGroups: ["U14"] })).toEqual(["3"]);
      expect(await run({ ageGroups: ["U14", "U16"] })).toEqual(["1", "2", "3"]);
      expect(await run({ club: "BAYSIDE" })).toEqual(["2"]);
      expect(await run({ club: "fire fc" })).toEqual(["1"]);
    });

    it("the date window is inclusive and in local dates", async () => {
      // Game 1 kicks off 2026-09-06T02:00Z: the evening of the 5th in Chicago.
      expect(await run({ from: "2026-09-05", to: "2026-09-05" })).toEqual(["1"]);
      expect(await run({ from: "2026-09-06", to: "2026-09-07" })).toEqual(["2", "3"]);
      expect(await run({ from: "2026-09-07" })).toEqual(["3"]);
      expect(await run({ to: "2026-09-06" })).toEqual(["1", "2"]);
    });

    it("limit keeps the earliest matches", async () => {
      expect(await run({ limit: 2 })).toEqual(["1", "2"]);
      expect(await run({ limit: 0 })).toEqual([]);
    });
  });

  it("postponed fixtures on the placeholder date are reported even outside the window", async () => {
    const regular = Array.from({ length: 10 }, (_, i) => rawEvent({ start_time: `2026-09-${String(10 + i).padStart(2, "0")}T15:00:00Z` }));
    const parked = Array.from({ length: 30 }, () => rawEvent({ start_time: "2027-06-08T16:00:00Z" }));
    const result = await scrape(options({ from: "2026-09-10", to: "2026-09-12" }), {
      fetcher: leagueFeeds(scheduleDoc([...regular, ...parked]), standingsDoc([bracket(69, "Florida", "U14", [5748, 5946])])),
      ...at("2026-09-01T00:00:00Z"),
    });
    expect(result.metadata.placeholder_dates).toEqual(["2027-06-08"]);
    expect(result.counts.postponed).toBe(30);
    expect(result.matches.filter((m) => m.match_status === "scheduled")).toHaveLength(3);
    expect(result.matches.filter((m) => m.match_status === "postponed").every((m) => m.match_date === "2027-06-08")).toBe(true);
  });

  describe("a window across August 1st", () => {
    const florida = standingsDoc([bracket(69, "Florida", "U14", [5748, 5946])]);
    const U15 = standingsDoc([bracket(70, "Florida", "U15", [5748, 5946])]);
    const twoSeasons = (older: RawEvent[], newer: RawEvent[], olderStandings = florida) =>
      memoryFetcher({
        [`${BASE}/data/schedule/mls-next-league-26-27.json`]: scheduleDoc(older, "2027-07-20T00:00:00Z"),
        [`${BASE}/data/standings/mls-next-league-26-27.json`]: olderStandings,
        [`${BASE}/data/schedule/mls-next-league-27-28.json`]: scheduleDoc(newer),
        [`${BASE}/data/standings/mls-next-league-27-28.json`]: florida,
      });
    const july = [rawEvent({ game_key: "a1", start_time: "2027-07-20T15:00:00Z" }), rawEvent({ game_key: "a2", start_time: "2027-07-30T15:00:00Z" })];
    const august = [rawEvent({ game_key: "b2", start_time: "2027-08-09T15:00:00Z" }), rawEvent({ game_key: "b1", start_time: "2027-08-02T15:00:00Z" })];

    it("reads both seasons' feeds: the matches of each, in kickoff order, counted together", async () => {
      const result = await scrape(options({ seasonFirstYear: 2027, fromSeasonFirstYear: 2026, from: "2027-07-25", to: "2027-08-05" }), { fetcher: twoSeasons(july, august), ...at("2027-08-06T00:00:00Z") });
      expect(result.matches.map((m) => [m.external_match_id, m.season, m.match_date])).toEqual([
        ["a2", "2026-27", "2027-07-30"],
        ["b1", "2027-28", "2027-08-02"],
      ]);
      expect(result.counts).toMatchObject({ events: 4, filteredOut: 2, matches: 2, downloads: 4 });
      expect(result.metadata).toMatchObject({ season: "2027-28", seasons: ["2026-27", "2027-28"], window: { from: "2027-07-25", to: "2027-08-05" } });
      expect(result.metadata.feeds).toHaveLength(4);
    });

    it("an age group is unknown only when no season's feed has it; limit and problems span both", async () => {
      const older = [rawEvent({ game_key: "a1", start_time: "2027-07-30T15:00:00Z", home_squad_name: "U15", away_squad_name: "U15" }), rawEvent({ game_key: "a3", start_time: "2027-07-31T15:00:00Z", home_organisation: {} })];
      const result = await scrape(options({ seasonFirstYear: 2027, fromSeasonFirstYear: 2026, ageGroups: ["U14", "U15", "U99"], limit: 2 }), { fetcher: twoSeasons(older, august, U15), ...at("2027-08-06T00:00:00Z") });
      expect(result.matches.map((m) => m.external_match_id)).toEqual(["a1", "b1"]);
      expect(result.counts).toMatchObject({ events: 4, malformed: 1, matches: 2 });
      expect(result.problems.map((p) => p.where)).toEqual([expect.stringMatching(/game a3/), "--age-group U99"]);
    });

    it("a later season not started yet whose feeds cannot be read is a problem said; the earlier season's matches stay", async () => {
      const fetcher = memoryFetcher({ [`${BASE}/data/schedule/mls-next-league-26-27.json`]: scheduleDoc(july), [`${BASE}/data/standings/mls-next-league-26-27.json`]: florida });
      const result = await scrape(options({ seasonFirstYear: 2027, fromSeasonFirstYear: 2026, from: "2027-07-25", to: "2027-08-10" }), { fetcher, ...at("2027-07-28T00:00:00Z") });
      expect(result.matches.map((m) => m.external_match_id)).toEqual(["a2"]);
      expect(result.problems.map((p) => p.where)).toEqual(["season 2027-28"]);
      expect(result.problems[0]!.reason).toMatch(/^not read: it starts after today and its feeds cannot be read yet \(.*mls-next-league-27-28.*\); its days find nothing$/);
    });

    it("begun but not published yet (the first weeks of August): still a problem said, and the earlier season's last days are kept", async () => {
      const fetcher = memoryFetcher({ [`${BASE}/data/schedule/mls-next-league-26-27.json`]: scheduleDoc(july), [`${BASE}/data/standings/mls-next-league-26-27.json`]: florida });
      const result = await scrape(options({ seasonFirstYear: 2027, fromSeasonFirstYear: 2026, from: "2027-07-27", to: "2027-08-03" }), { fetcher, ...at("2027-08-03T00:00:00Z") });
      expect(result.matches.map((m) => m.external_match_id)).toEqual(["a2"]);
      expect(result.problems.map((p) => p.where)).toEqual(["season 2027-28"]);
      expect(result.problems[0]!.reason).toMatch(/^not read: its feeds cannot be read \(not published yet\? it began on 2027-08-01\) \(.*mls-next-league-27-28.*\); its days find nothing$/);
    });

    it("a season's feed that cannot be read fails the scrape, naming it", async () => {
      const fetcher = memoryFetcher({ [`${BASE}/data/schedule/mls-next-league-27-28.json`]: scheduleDoc(august), [`${BASE}/data/standings/mls-next-league-27-28.json`]: florida });
      const failure: unknown = await scrape(options({ seasonFirstYear: 2027, fromSeasonFirstYear: 2026 }), { fetcher, ...at("2027-08-06T00:00:00Z") }).catch((err: unknown) => err);
      expect((failure as Error).message).toContain("mls-next-league-26-27");
    });
  });

  it("malformed events, duplicates and contract refusals are counted and reported, the rest kept", async () => {
    const events = [
      rawEvent({ game_key: "1" }),
      rawEvent({ game_key: "2", home_organisation: {} }),
      rawEvent({ game_key: "1" }),
      rawEvent({ game_key: "3", away_organisation: { name: "South Florida Football Academy" } }),
      rawEvent({ game_key: "4" }),
    ];
    const result = await scrape(options(), { fetcher: leagueFeeds(scheduleDoc(events), standingsDoc([bracket(69, "Florida", "U14", [5748, 5946])])), ...at("2026-08-30T00:00:00Z") });
    expect(result.matches.map((m) => m.external_match_id)).toEqual(["1", "4"]);
    expect(result.counts).toMatchObject({ events: 5, malformed: 1, duplicates: 1, invalid: 1, matches: 2 });
    expect(result.problems.map((p) => p.where)).toEqual([expect.stringMatching(/game 2/), "match 3"]);
    expect(result.problems[1]!.reason).toMatch(/away_team must be a different team/);
  });

  it("a game listed twice, a stale unplayed copy first: the copy with the result is kept, and the repeat said", async () => {
    const florida = standingsDoc([bracket(69, "Florida", "U14", [5748, 5946])]);
    const played = { start_time: "2026-10-10T16:00:00Z", completed: true, home_score: 3, away_score: 1 };
    const events = [rawEvent({ game_key: "26099", start_time: "2026-10-10T16:00:00Z" }), rawEvent({ game_key: "5" }), rawEvent({ game_key: "26099", ...played })];
    const result = await scrape(options(), { fetcher: leagueFeeds(scheduleDoc(events), florida), ...at("2026-10-15T00:00:00Z") });
    expect(result.matches.map((m) => [m.external_match_id, m.match_status, m.home_score, m.away_score])).toEqual([
      ["5", "tbd", undefined, undefined],
      ["26099", "completed", 3, 1],
    ]);
    expect(result.counts).toMatchObject({ events: 3, duplicates: 1, matches: 2 });
    expect(result.problems).toEqual([{ where: "game 26099", reason: "2 copies in the feed that differ: kept the one with a result" }]);
  });

  it("events with a missing or unknown local_timezone are kept in UTC and said once, with a count and an example", async () => {
    const events = [
      rawEvent({ game_key: "1", start_time: "2026-09-13T00:00:00Z", local_timezone: "Eastern Standard Time" }),
      rawEvent({ game_key: "2", start_time: "2026-09-13T00:00:00Z" }),
      rawEvent({ game_key: "3", start_time: "2026-09-13T00:00:00Z", local_timezone: undefined }),
      rawEvent({ game_key: "4", start_time: "2026-09-13T00:00:00Z", local_timezone: "UTC" }),
    ];
    const result = await scrape(options(), { fetcher: leagueFeeds(scheduleDoc(events), standingsDoc([bracket(69, "Florida", "U14", [5748, 5946])])), ...at("2026-09-01T00:00:00Z") });
    // 8 pm in New York on the 12th; the others (UTC) on the 13th, the first two of them by fallback.
    expect(result.matches.map((m) => [m.external_match_id, m.match_date, m.match_time])).toEqual([
      ["2", "2026-09-12", "20:00"],
      ["1", "2026-09-13", "00:00"],
      ["3", "2026-09-13", "00:00"],
      ["4", "2026-09-13", "00:00"],
    ]);
    expect(result.problems).toEqual([
      { where: "schedule mls-next-league-26-27", reason: '2 event(s) with a missing or unknown local_timezone (e.g. game 1: "Eastern Standard Time"): dated and timed in UTC, not the venue\'s time' },
    ]);
  });

  it("a wrong-shaped document fails the scrape with source_unreadable naming the key", async () => {
    const failure: unknown = await scrape(options(), { fetcher: leagueFeeds({ error: "nope" }, standingsDoc([])), ...at("2026-08-30T00:00:00Z") }).catch((err: unknown) => err);
    expect(failure).toMatchObject({ code: "source_unreadable" });
    expect((failure as Error).message).toContain("mls-next-league-26-27");
  });
});

describe("windowOutsideSeason", () => {
  const season = { seasonFirstYear: 2026 };
  it("says nothing of a window within the season, or of no window", () => {
    expect(windowOutsideSeason({ ...season })).toBeUndefined();
    expect(windowOutsideSeason({ ...season, from: "2026-08-01", to: "2027-07-31" })).toBeUndefined();
  });

  it("says a window wholly in another season finds nothing", () => {
    expect(windowOutsideSeason({ ...season, from: "2025-09-01", to: "2025-12-31" })).toMatch(/^the date window is outside season 2026-27 \(2026-08-01 to 2027-07-31\), the only season read: no match of it can be found/);
    expect(windowOutsideSeason({ ...season, from: "2027-08-01" })).toMatch(/outside season 2026-27/);
  });

  it("says nothing of a window across August 1st when both seasons are read, nor of Modular11 (read by date)", () => {
    expect(windowOutsideSeason({ ...season, fromSeasonFirstYear: 2025, from: "2026-07-25", to: "2026-08-03" })).toBeUndefined();
    expect(windowOutsideSeason({ ...season, source: "modular11", from: "2026-07-25", to: "2026-08-03" })).toBeUndefined();
    expect(windowOutsideSeason({ ...season, fromSeasonFirstYear: 2025, from: "2025-07-25" })).toMatch(/reaches outside seasons 2025-26 to 2026-27 \(2025-08-01 to 2027-07-31\), the only seasons read: its days before 2025-08-01/);
  });

  it("says which part of a window across a season's edge finds nothing", () => {
    expect(windowOutsideSeason({ ...season, from: "2026-07-25", to: "2026-08-03" })).toMatch(/reaches outside season 2026-27 .*: its days before 2026-08-01 find nothing/);
    expect(windowOutsideSeason({ ...season, from: "2027-07-25", to: "2027-08-03" })).toMatch(/its days after 2027-07-31 find nothing/);
  });
});
