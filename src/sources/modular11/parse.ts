/**
 * The Modular11 schedule's HTML fragment -> MatchData inputs (pure, parsed with cheerio, never
 * with regexes over markup). Each desktop row is `div.row.table-content-row.hidden-xs` with five
 * columns: match number + gender, date/time + venue (`p[data-title]`), age, competition +
 * division, then the teams and the score. Times are local to the venue and carry no zone, so a
 * match gets `match_date` and `match_time` but no `scheduled_kickoff`.
 */
import { load, type CheerioAPI } from "cheerio";
import type { AnyNode } from "domhandler";
import { seasonForDate, type League, type MatchDataInput, type MatchStatus } from "../../contract/index.js";
import { PermanentError } from "../../errors.js";
import { createLocalClock } from "../assist/local-time.js";
import type { FeedProblem } from "../types.js";

export const MODULAR11_SOURCE = "mlsnext-modular11";
export const EMPTY_PAGE_TEXT = "No data available.";

/**
 * The zone whose date is "today" for an unscored match's status. Times carry no zone, so a match
 * stays scheduled until its date has passed where the day ends last: Hawaii's, the westernmost US
 * state (UTC-10; the feeds know venues from Eastern to Pacific time). Conservative: an unscored match
 * may read scheduled for up to a day after it was played, never tbd before it kicked off (as with
 * the UTC date: 8 pm Pacific is 03:00Z the next day).
 */
export const LATEST_VENUE_ZONE = "Pacific/Honolulu";

/** Today's date (YYYY-MM-DD) in LATEST_VENUE_ZONE at `now`. */
export function venueToday(now: Date): string {
  return createLocalClock()(now.getTime(), LATEST_VENUE_ZONE).date;
}

export interface Modular11Context {
  league: League;
  /** Today's date (YYYY-MM-DD) where the day ends last (venueToday), for the status of unscored matches. */
  today: string;
  /** UTC ISO: when the page was fetched. */
  scrapedAt: string;
  /** Reverse table for rows whose division column is blank (`js-match-group` -> name). */
  groupNames?: ReadonlyMap<string, string>;
}

export interface Modular11Row {
  match: MatchDataInput;
  divisions: string[];
}

export interface Modular11Page {
  rows: Modular11Row[];
  problems: FeedProblem[];
  /** True for the `No data available.` page: the end of the paging. */
  empty: boolean;
}

const DATE_TIME_RE = /(\d{1,2})\/(\d{1,2})\/(\d{2,4})\s+(\d{1,2}):(\d{2})\s*([ap]m)?/i;
const SCORE_RE = /^(\d+)\s*:\s*(\d+)$/;
const clean = (s: string | undefined) => (s ?? "").replace(/\s+/g, " ").trim();

/** `09/06/25 10:00am` -> { date: 2025-09-06, time: 10:00 }; undefined when there is none, or it is impossible (`02/30/26`, `10:60am`). */
export function parseLocalDateTime(text: string): { date: string; time: string } | undefined {
  const m = DATE_TIME_RE.exec(text);
  if (!m) return undefined;
  const [, mm, dd, yy, hh, min, ampm] = m;
  // Not left to the contract: it would refuse the whole match, where this row is a problem said.
  if (Number(min) > 59) return undefined;
  const year = yy!.length === 2 ? 2000 + Number(yy) : Number(yy);
  let hour = Number(hh);
  if (ampm) {
    const pm = ampm.toLowerCase() === "pm";
    if (hour < 1 || hour > 12) return undefined;
    hour = (hour % 12) + (pm ? 12 : 0);
  }
  const month = Number(mm);
  const day = Number(dd);
  const probe = new Date(Date.UTC(year, month - 1, day));
  if (probe.getUTCMonth() !== month - 1 || probe.getUTCDate() !== day || hour > 23) return undefined;
  const p2 = (n: number) => String(n).padStart(2, "0");
  return { date: `${year}-${p2(month)}-${p2(day)}`, time: `${p2(hour)}:${min}` };
}

/** Texts of an element's child nodes (text nodes and elements, `<br>` splitting), non-empty. */
function pieces($: CheerioAPI, el: AnyNode): string[] {
  const out: string[] = [];
  $(el)
    .contents()
    .each((_, node) => {
      const text = clean($(node).text());
      if (text) out.push(text);
    });
  return out;
}

function teamName($: CheerioAPI, row: AnyNode, selector: string): string {
  const p = $(row).find(`${selector} p[data-title]`).first();
  return clean(p.attr("data-title")) || clean(p.text()) || clean($(row).find(selector).first().text());
}

function statusOf(date: string, scored: boolean, today: string): MatchStatus {
  if (scored) return "completed";
  return date >= today ? "scheduled" : "tbd";
}

function parseRow($: CheerioAPI, row: AnyNode, ctx: Modular11Context): Modular11Row | FeedProblem {
  const cols = $(row).children("div").toArray();
  const numberText = clean(cols[0] ? $(cols[0]).text() : "");
  const matchNumber = /\d+/.exec(numberText)?.[0];
  const where = matchNumber ? `modular11 match ${matchNumber}` : "modular11 row without a match number";
  if (!matchNumber || cols.length < 5) return { where, reason: `skipped: expected 5 columns with a match number, found ${cols.length}` };
  const whenText = clean($(cols[1]).text());
  const when = parseLocalDateTime(whenText);
  if (!when) return { where, reason: DATE_TIME_RE.test(whenText) ? `skipped: impossible date or time in "${whenText}"` : `skipped: no date/time like MM/DD/YY hh:mmam in "${whenText}"` };
  const venue = clean($(cols[1]).find("p[data-title]").first().attr("data-title"));
  const age = /U\d{1,2}/i.exec(clean($(cols[2]).text()))?.[0]?.toUpperCase();
  const [competition, ...divisionParts] = pieces($, cols[3]!);
  const division = clean(divisionParts.join(" ")) || ctx.groupNames?.get(clean($(row).attr("js-match-group")));
  const home = teamName($, row, ".container-first-team");
  const away = teamName($, row, ".container-second-team");
  if (!home || !away) return { where, reason: "skipped: a team name is missing" };
  const scoreText = clean($(row).find(".container-score .score-match-table").first().text());
  const score = SCORE_RE.exec(scoreText);
  const status = statusOf(when.date, score !== null, ctx.today);
  const match: MatchDataInput = {
    external_match_id: matchNumber,
    home_team: home,
    away_team: away,
    match_date: when.date,
    match_time: when.time,
    season: seasonForDate(when.date),
    league: ctx.league,
    age_group: age ?? "",
    match_type: competition ?? "League",
    match_status: status,
    source: MODULAR11_SOURCE,
    scraped_at: ctx.scrapedAt,
  };
  if (division) match.division = division;
  if (venue) match.location = venue;
  if (score) {
    match.home_score = Number(score[1]);
    match.away_score = Number(score[2]);
  }
  return { match, divisions: division ? [division] : [] };
}

/** One page of the fragment endpoint. Anything that is neither rows nor the empty text is unreadable. */
export function parseModular11Page(html: string, ctx: Modular11Context, what = "modular11 page"): Modular11Page {
  const $ = load(html);
  const rowEls = $("div.row.table-content-row.hidden-xs").toArray();
  if (rowEls.length === 0) {
    if (clean($.root().text()).includes(EMPTY_PAGE_TEXT)) return { rows: [], problems: [], empty: true };
    throw new PermanentError("source_unreadable", `${what} is neither match rows nor "${EMPTY_PAGE_TEXT}" (it starts "${clean($.root().text()).slice(0, 60)}")`);
  }
  const rows: Modular11Row[] = [];
  const problems: FeedProblem[] = [];
  for (const el of rowEls) {
    const parsed = parseRow($, el, ctx);
    if ("where" in parsed) problems.push(parsed);
    else rows.push(parsed);
  }
  return { rows, problems, empty: false };
}
