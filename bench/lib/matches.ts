/**
 * The benchmark's matches: a generated full season (bench/feeds/generate.ts) read by the real
 * scraper (`scrape()` with an in-memory fetcher), so every benchmark stores the same realistic
 * MatchData the `matchflow scrape` path produces (900 brackets' teams, results, postponements).
 */
import { LEAGUES, type League, type MatchDataInput } from "../../src/contract/index.js";
import { silentLogger } from "../../src/log.js";
import { scrape } from "../../src/scraper/scrape.js";
import { scheduleUrl, standingsUrl } from "../../src/sources/assist/keys.js";
import { memoryFetcher } from "../../test/fixtures/memory-fetcher.js";
import { generateSeasonFeed, type GeneratedFeed } from "../feeds/generate.js";

export const SEASON_FIRST_YEAR = 2026;
/** The scrape's clock: mid-season, so about half the fixtures have results. */
export const SCRAPE_NOW = new Date("2026-12-01T00:00:00Z");

/** A league's season: each league its own seed and its own range of ids (bench:scaling stores two in one database). */
export function benchFeed(events: number, league: League = "Homegrown"): GeneratedFeed {
  const i = LEAGUES.indexOf(league);
  // `postponed: 0`: exactly `events` fixtures, so counts are round numbers.
  return generateSeasonFeed({ seed: 7 + 4 * i, league, seasonFirstYear: SEASON_FIRST_YEAR, events, postponed: 0, firstGameKey: 100_000 + 5_000_000 * i });
}

export async function matchesFromFeed(feed: GeneratedFeed, league: League = "Homegrown"): Promise<MatchDataInput[]> {
  const base = "http://bench.invalid";
  const fetcher = memoryFetcher({ [scheduleUrl(base, feed.key)]: feed.schedule, [standingsUrl(base, feed.key)]: feed.standings });
  const result = await scrape(
    { source: "assist", league, seasonFirstYear: SEASON_FIRST_YEAR, assistBaseUrl: base, modular11BaseUrl: base },
    { fetcher, now: () => SCRAPE_NOW, log: silentLogger },
  );
  if (result.counts.invalid > 0) throw new Error(`the generated feed gave ${result.counts.invalid} invalid matches`);
  return result.matches;
}

/** Copies with fresh external ids (`prefix-n`), for runs that must not collide with each other. */
export function renumbered(matches: MatchDataInput[], prefix: string, count: number): MatchDataInput[] {
  const out: MatchDataInput[] = [];
  for (let i = 0; i < count; i++) {
    const m = matches[i % matches.length]!;
    out.push({ ...m, external_match_id: `${prefix}-${i}` });
  }
  return out;
}
