/**
 * Feed keys and URLs of the assist source. Keys are derived from the league and the season's
 * first year, never pinned: 2026 -> `26-27`, 2099 -> `99-00`.
 */
import type { League } from "../../contract/index.js";

const KEY_PREFIX: Record<League, string> = {
  Homegrown: "mls-next-league",
  Academy: "mls-next-2-academy-division",
  Flex: "mls-next-flex",
};

/** The first season the assist feeds serve (2026-27); earlier seasons are on Modular11. */
export const ASSIST_FIRST_SEASON = 2026;

/** 2026 -> `26-27`; 2099 -> `99-00`. */
export function seasonSuffix(firstYear: number): string {
  const two = (n: number) => String(n % 100).padStart(2, "0");
  return `${two(firstYear)}-${two(firstYear + 1)}`;
}

/** Homegrown 2026 -> `mls-next-league-26-27`. */
export function feedKey(league: League, seasonFirstYear: number): string {
  return `${KEY_PREFIX[league]}-${seasonSuffix(seasonFirstYear)}`;
}

function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, "")}/${path}`;
}

export function scheduleUrl(base: string, key: string): string {
  return joinUrl(base, `data/schedule/${key}.json`);
}

export function standingsUrl(base: string, key: string): string {
  return joinUrl(base, `data/standings/${key}.json`);
}
