/** scrape() on the Modular11 pages (seasons up to 2025-26), served from memory by page number. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../src/log.js";
import { scrape, type ScrapeOptions } from "../../src/scraper/scrape.js";
import type { FeedFetcher } from "../../src/sources/http.js";
import { venueToday } from "../../src/sources/modular11/parse.js";

const PAGE0 = readFileSync(new URL("../fixtures/modular11/page-u14-northeast-0.html", import.meta.url), "utf8");
const EMPTY = readFileSync(new URL("../fixtures/modular11/page-empty.html", import.meta.url), "utf8");

/** Answers each page request with `pages[open_page]`, then the empty page. */
function pagesFetcher(pages: string[]): FeedFetcher {
  const stats = { requests: 0, downloads: 0 };
  return {
    stats,
    read: () => Promise.reject(new Error("not used")),
    text: (url) => {
      stats.requests += 1;
      stats.downloads += 1;
      return Promise.resolve(pages[Number(new URL(url).searchParams.get("open_page"))] ?? EMPTY);
    },
  };
}

const options = (o: Partial<ScrapeOptions> = {}): ScrapeOptions => ({
  source: "modular11",
  league: "Homegrown",
  seasonFirstYear: 2025,
  ageGroups: ["U14"],
  division: "Northeast",
  assistBaseUrl: "http://assist.test",
  modular11BaseUrl: "http://m11.test",
  ...o,
});
const at = (iso: string) => ({ now: () => new Date(iso), log: silentLogger });

describe("scrape (modular11)", () => {
  it("an asked age group with no match in the window is not called unknown (the server filters by age group)", async () => {
    const result = await scrape(options({ from: "2025-12-20", to: "2025-12-28" }), { fetcher: pagesFetcher([]), ...at("2026-01-05T12:00:00Z") });
    expect(result.counts.matches).toBe(0);
    expect(result.problems).toEqual([]);
  });

  it("an unscored match dated today in the venue's zone is still scheduled after UTC's date has moved on", async () => {
    // Row 99971: 10/18/25 at 8 pm, venue time (03:00Z on the 19th in California).
    const page = PAGE0.replace("10/18/25 01:30pm", "10/18/25 08:00pm");
    const status = async (now: string) => (await scrape(options({ from: "2025-10-18", to: "2025-10-18" }), { fetcher: pagesFetcher([page]), ...at(now) })).matches.map((m) => [m.external_match_id, m.match_status]);
    // 6 pm Pacific on the 18th (01:00Z on the 19th): two hours before kickoff.
    expect(await status("2025-10-19T01:00:00Z")).toEqual([["99971", "scheduled"]]);
    // The 19th has begun in Honolulu (10:00Z): played, result pending.
    expect(await status("2025-10-19T10:00:00Z")).toEqual([["99971", "tbd"]]);
  });

  it("today is the date in the zone where the day ends last (UTC-10)", () => {
    expect(venueToday(new Date("2025-10-19T09:59:00Z"))).toBe("2025-10-18");
    expect(venueToday(new Date("2025-10-19T10:00:00Z"))).toBe("2025-10-19");
  });

  it("a match on two pages, unscored then scored (the paging shifted): the scored copy is kept and the repeat said", async () => {
    // Page 1 is not page 0 again (that ends the paging): its last row is another match.
    const unscored = PAGE0.replace("4 : 0", "TBD");
    const shifted = PAGE0.replaceAll("100412", "100413");
    const result = await scrape(options({ from: "2025-09-01", to: "2026-06-30" }), { fetcher: pagesFetcher([unscored, shifted]), ...at("2025-10-01T12:00:00Z") });
    expect(result.matches.map((m) => [m.external_match_id, m.match_status, m.home_score, m.away_score])).toEqual([
      ["99963", "completed", 4, 0],
      ["99971", "scheduled", undefined, undefined],
      ["100412", "scheduled", undefined, undefined],
      ["100413", "scheduled", undefined, undefined],
    ]);
    // 99971 is the same on both pages: counted, not said.
    expect(result.counts).toMatchObject({ duplicates: 2 });
    expect(result.problems.filter((p) => !p.where.includes("100500"))).toEqual([{ where: "modular11 match 99963", reason: "2 copies in the feed that differ: kept the one with a result" }]);
  });
});
