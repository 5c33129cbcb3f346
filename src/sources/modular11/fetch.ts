/**
 * Paged reading of the Modular11 schedule fragment (seasons up to 2025-26): one GET per
 * (age, group, page), `open_page` from 0 until the `No data available.` page. Id tables are
 * the 2025-26 ones from the site.
 */
import type { League } from "../../contract/index.js";
import { PermanentError } from "../../errors.js";
import type { CopyRules } from "../duplicates.js";
import type { Candidate } from "../filters.js";
import type { FeedFetcher } from "../http.js";
import type { FeedProblem } from "../types.js";
import { parseModular11Page, venueToday } from "./parse.js";

export const MODULAR11_AGE_IDS: Readonly<Record<string, number>> = { U13: 21, U14: 22, U15: 33, U16: 14, U17: 15, U19: 26 };

export const MODULAR11_GROUP_IDS: Readonly<Record<"Homegrown" | "Academy", Readonly<Record<string, number>>>> = {
  Homegrown: {
    Central: 34,
    Northeast: 41,
    East: 35,
    "Mid-Atlantic": 68,
    Florida: 46,
    Southwest: 36,
    Southeast: 37,
    Northwest: 38,
    "Great Lakes": 39,
    Texas: 40,
    California: 42,
  },
  Academy: { "New England": 63 },
};

/** Pages are 25 rows; a runaway pager stops here. */
const MAX_PAGES = 400;

export interface Modular11PageQuery {
  ageId: number;
  groupId: number;
  /** Inclusive local dates. */
  from: string;
  to: string;
  page: number;
}

export function modular11PageUrl(base: string, q: Modular11PageQuery): string {
  const params = [
    "tournament=12",
    `age[]=${q.ageId}`,
    `groups[]=${q.groupId}`,
    "status=all",
    "match_type=2",
    `start_date=${encodeURIComponent(`${q.from} 00:00:00`)}`,
    `end_date=${encodeURIComponent(`${q.to} 23:59:59`)}`,
    `open_page=${q.page}`,
    "academy=0",
    "gender=0",
  ];
  return `${base.replace(/\/+$/, "")}/public_schedule/league/get_matches?${params.join("&")}`;
}

export interface Modular11Options {
  baseUrl: string;
  league: League;
  /** Age groups to read; all known ones when empty. */
  ageGroups: string[];
  /** One division (group) name, or all of the league's groups. */
  division: string | undefined;
  from: string;
  to: string;
  /** The scrape's clock: the fetch time, and today's date for the status of unscored matches (venueToday). */
  now: Date;
}

export interface Modular11Read {
  candidates: Candidate[];
  /** Rows that could not be read (each an event, malformed). */
  problems: FeedProblem[];
  /** The paging itself: a page repeated, too many pages. */
  pagingProblems: FeedProblem[];
  pages: number;
}

/**
 * Copies of one match number (sources/duplicates.ts): pages overlap when the site's paging
 * shifts between two requests. Kickoffs compare as local wall clocks (the same venue's).
 */
export const MODULAR11_COPIES: CopyRules<Candidate> = {
  key: (c) => c.match.external_match_id || undefined,
  rank: ({ match: m }) => ({
    result: m.home_score !== undefined && m.away_score !== undefined,
    completed: m.match_status === "completed",
    start: Date.parse(`${m.match_date}T${m.match_time ?? "00:00"}Z`),
  }),
  same: (a, b) => JSON.stringify([a.match, a.divisions]) === JSON.stringify([b.match, b.divisions]),
  where: (key) => `modular11 match ${key}`,
  feed: "modular11",
};

function pick<T>(table: Readonly<Record<string, T>>, wanted: string[], what: string): [string, T][] {
  const entries = Object.entries(table);
  if (wanted.length === 0) return entries;
  return wanted.map((w) => {
    const hit = entries.find(([name]) => name.toLowerCase() === w.trim().toLowerCase());
    if (!hit) throw new PermanentError("usage", `modular11 has no ${what} "${w}" (known: ${entries.map(([n]) => n).join(", ")})`);
    return hit;
  });
}

export async function readModular11(options: Modular11Options, fetcher: FeedFetcher): Promise<Modular11Read> {
  if (options.league === "Flex") throw new PermanentError("usage", "modular11 has no Flex groups: use --source assist for Flex");
  const groupsTable = MODULAR11_GROUP_IDS[options.league];
  const ages = pick(MODULAR11_AGE_IDS, options.ageGroups, "age group");
  const groups = pick(groupsTable, options.division ? [options.division] : [], `${options.league} division`);
  const groupNames = new Map(Object.entries(groupsTable).map(([name, id]) => [String(id), name]));
  const ctx = { league: options.league, today: venueToday(options.now), scrapedAt: options.now.toISOString(), groupNames };
  const candidates: Candidate[] = [];
  const problems: FeedProblem[] = [];
  const pagingProblems: FeedProblem[] = [];
  let pages = 0;
  for (const [ageName, ageId] of ages) {
    for (const [groupName, groupId] of groups) {
      // A pager that ignores open_page answers the same page for ever: each page's rows are
      // compared with the previous page's, and the reading stops at the first repeat.
      let previous: string | undefined;
      let ended = false;
      for (let page = 0; page < MAX_PAGES; page += 1) {
        const url = modular11PageUrl(options.baseUrl, { ageId, groupId, from: options.from, to: options.to, page });
        const what = `modular11 ${ageName} ${groupName} page ${page}`;
        const parsed = parseModular11Page(await fetcher.text(url, what), ctx, what);
        pages += 1;
        if (parsed.empty) {
          ended = true;
          break;
        }
        const seen = JSON.stringify([parsed.rows.map((r) => r.match.external_match_id), parsed.problems.map((p) => p.where)]);
        if (seen === previous) {
          pagingProblems.push({ where: what, reason: `repeats page ${page - 1}: the site did not page (open_page); read no further for ${ageName} ${groupName}` });
          ended = true;
          break;
        }
        previous = seen;
        for (const row of parsed.rows) candidates.push({ match: row.match, divisions: row.divisions.length > 0 ? row.divisions : [groupName] });
        problems.push(...parsed.problems);
      }
      if (!ended) pagingProblems.push({ where: `modular11 ${ageName} ${groupName}`, reason: `more than ${MAX_PAGES} pages: read no further (narrow the window with --from/--to)` });
    }
  }
  return { candidates, problems, pagingProblems, pages };
}
