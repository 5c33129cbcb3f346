/**
 * Which seasons a scrape reads, and what of its date window they cannot cover. Pure: the
 * scrape (scrape.ts) and its flags (cli-options.ts) share these rules.
 */
import { seasonBounds, seasonName } from "../contract/index.js";
import { ASSIST_FIRST_SEASON } from "../sources/assist/keys.js";
import type { ScrapeOptions, ScrapeSource } from "./scrape.js";

/** The seasons read, oldest first (see ScrapeOptions.fromSeasonFirstYear). Pure. */
export function seasonsRead(options: Pick<ScrapeOptions, "seasonFirstYear" | "fromSeasonFirstYear">): number[] {
  const last = options.seasonFirstYear;
  const first = Math.min(options.fromSeasonFirstYear ?? last, last);
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

/** The calendar span of consecutive seasons, oldest first. */
export function seasonsBounds(seasons: number[]): { startDate: string; endDate: string } {
  const first = seasons[0]!;
  const last = seasons.at(-1) ?? first;
  return { startDate: seasonBounds(seasonName(first))!.startDate, endDate: seasonBounds(seasonName(last))!.endDate };
}

/** `season 2026-27` or `seasons 2025-26 to 2026-27`. */
function seasonsText(seasons: number[]): string {
  const first = seasons[0]!;
  const last = seasons.at(-1) ?? first;
  return first === last ? `season ${seasonName(first)}` : `seasons ${seasonName(first)} to ${seasonName(last)}`;
}

/**
 * What of the date window lies outside the seasons read, said once: a season's assist feed has
 * no match of another season (postponed fixtures, which pass any window, aside). Modular11 is
 * read by date, so nothing lies outside. Pure.
 */
export function windowOutsideSeason(options: Pick<ScrapeOptions, "seasonFirstYear" | "fromSeasonFirstYear" | "from" | "to"> & { source?: ScrapeSource }): string | undefined {
  if (options.source === "modular11") return undefined;
  const seasons = seasonsRead(options);
  const bounds = seasonsBounds(seasons);
  const what = seasonsText(seasons);
  const only = seasons.length === 1 ? "the only season read" : "the only seasons read";
  const { from, to } = options;
  if ((to !== undefined && to < bounds.startDate) || (from !== undefined && from > bounds.endDate)) {
    return `the date window is outside ${what} (${bounds.startDate} to ${bounds.endDate}), ${only}: no match of it can be found but postponed fixtures, which pass any window (choose the season with --season)`;
  }
  const before = from !== undefined && from < bounds.startDate;
  const after = to !== undefined && to > bounds.endDate;
  if (before || after) {
    const hint = before && seasons[0] === ASSIST_FIRST_SEASON ? `seasons up to ${seasonName(ASSIST_FIRST_SEASON - 1)} are read with --source modular11` : "scrape that season with --season";
    return `the date window reaches outside ${what} (${bounds.startDate} to ${bounds.endDate}), ${only}: its days ${before ? `before ${bounds.startDate}` : `after ${bounds.endDate}`} find nothing (${hint})`;
  }
  return undefined;
}
