/**
 * The scrape app: fetch a league's feeds, read them, filter to the targets, check every match
 * against the producer contract. No publishing here: the CLI (and `matchflow run`) hand the
 * result to the publisher, so a dry run and a real run see exactly the same matches.
 */
import { seasonBounds, seasonName, validateForProducer, type League, type MatchDataInput } from "../contract/index.js";
import type { Logger } from "../log.js";
import { feedKey, scheduleUrl, standingsUrl } from "../sources/assist/keys.js";
import type { PlaceholderOptions } from "../sources/assist/placeholder.js";
import { readAssistFeeds } from "../sources/assist/read.js";
import { compileFilters, type Candidate } from "../sources/filters.js";
import type { FeedFetcher } from "../sources/http.js";
import { readModular11 } from "../sources/modular11/fetch.js";
import type { FeedProblem } from "../sources/types.js";

export type ScrapeSource = "assist" | "modular11";

export interface ScrapeOptions {
  source: ScrapeSource;
  league: League;
  /** The season's first year: 2026 for 2026-27. */
  seasonFirstYear: number;
  /** Empty = every age group. */
  ageGroups?: string[] | undefined;
  division?: string | undefined;
  club?: string | undefined;
  /** Inclusive local dates YYYY-MM-DD; unset = the whole season. */
  from?: string | undefined;
  to?: string | undefined;
  /** At most this many matches (after sorting by date, time and id). */
  limit?: number | undefined;
  assistBaseUrl: string;
  modular11BaseUrl: string;
  placeholder?: PlaceholderOptions | undefined;
}

export interface ScrapeDeps {
  fetcher: FeedFetcher;
  now(): Date;
  log: Logger;
}

export interface ScrapeCounts {
  /** Events (rows) read from the source, malformed ones included. */
  events: number;
  /** Events skipped as unreadable (each is in `problems`). */
  malformed: number;
  brackets: number;
  bracketsSkipped: number;
  /** Events whose squads are in no bracket (kept, without a division). */
  unbracketed: number;
  /** Events seen twice (same external id): the first is kept. */
  duplicates: number;
  /** Events outside the targets (league, age groups, division, club, window). */
  filteredOut: number;
  /** Matches the producer contract refused (each is in `problems`). */
  invalid: number;
  /** Postponed matches among `matches`. */
  postponed: number;
  /** Matches returned (after `limit`). */
  matches: number;
  /** Documents actually downloaded in this run. */
  downloads: number;
}

export interface ScrapeMetadata {
  source: ScrapeSource;
  league: League;
  age_groups: string[];
  division: string | null;
  club: string | null;
  season: string;
  window: { from: string | null; to: string | null };
  scraped_at: string;
  feeds: string[];
  placeholder_dates: string[];
  counts: ScrapeCounts;
}

export interface ScrapeResult {
  matches: MatchDataInput[];
  counts: ScrapeCounts;
  problems: FeedProblem[];
  metadata: ScrapeMetadata;
}

interface SourceRead {
  candidates: Candidate[];
  problems: FeedProblem[];
  counts: Partial<ScrapeCounts>;
  feeds: string[];
  placeholderDates: string[];
}

async function readAssist(options: ScrapeOptions, deps: ScrapeDeps): Promise<SourceRead> {
  const key = feedKey(options.league, options.seasonFirstYear);
  const sUrl = scheduleUrl(options.assistBaseUrl, key);
  const tUrl = standingsUrl(options.assistBaseUrl, key);
  const [schedule, standings] = await Promise.all([deps.fetcher.json(sUrl, `schedule ${key}`), deps.fetcher.json(tUrl, `standings ${key}`)]);
  const read = readAssistFeeds(schedule, standings, {
    key,
    league: options.league,
    seasonFirstYear: options.seasonFirstYear,
    now: deps.now().getTime(),
    fetchedAt: deps.now().toISOString(),
    placeholder: options.placeholder,
  });
  const { postponed: _postponed, ...counts } = read.counts;
  return { candidates: read.candidates, problems: read.problems, counts, feeds: [sUrl, tUrl], placeholderDates: read.placeholderDates };
}

async function readLegacy(options: ScrapeOptions, deps: ScrapeDeps): Promise<SourceRead> {
  const bounds = seasonBounds(seasonName(options.seasonFirstYear))!;
  const now = deps.now();
  const read = await readModular11(
    {
      baseUrl: options.modular11BaseUrl,
      league: options.league,
      ageGroups: options.ageGroups ?? [],
      division: options.division,
      from: options.from ?? bounds.startDate,
      to: options.to ?? bounds.endDate,
      today: now.toISOString().slice(0, 10),
      fetchedAt: now.toISOString(),
    },
    deps.fetcher,
  );
  return { candidates: read.candidates, problems: read.problems, counts: { events: read.candidates.length + read.problems.length, malformed: read.problems.length }, feeds: [`${read.pages} modular11 page(s)`], placeholderDates: [] };
}

// Plain comparisons for dates and times (ISO text sorts as it reads); one collator for ids, so
// that "9" < "10". (String#localeCompare per call made sorting 50,000 matches take seconds.)
const ID_ORDER = new Intl.Collator("en", { numeric: true });
const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function byKickoff(a: MatchDataInput, b: MatchDataInput): number {
  return cmp(a.match_date, b.match_date) || cmp(a.match_time ?? "", b.match_time ?? "") || ID_ORDER.compare(a.external_match_id ?? "", b.external_match_id ?? "");
}

export async function scrape(options: ScrapeOptions, deps: ScrapeDeps): Promise<ScrapeResult> {
  const startedAt = deps.now();
  deps.log.info({ source: options.source, league: options.league, season: seasonName(options.seasonFirstYear) }, "scrape started");
  const read = options.source === "assist" ? await readAssist(options, deps) : await readLegacy(options, deps);
  const problems = [...read.problems];
  const keep = compileFilters(options);
  const seen = new Set<string>();
  const matches: MatchDataInput[] = [];
  let duplicates = 0;
  let filteredOut = 0;
  let invalid = 0;
  for (const c of read.candidates) {
    const id = c.match.external_match_id ?? "";
    if (id && seen.has(id)) {
      duplicates += 1;
      continue;
    }
    seen.add(id);
    if (!keep(c)) {
      filteredOut += 1;
      continue;
    }
    const checked = validateForProducer(c.match);
    if (!checked.ok) {
      invalid += 1;
      problems.push({ where: `match ${id || "(no id)"}`, reason: `refused by the contract: ${checked.issues.map((i) => i.message).join("; ")}` });
      continue;
    }
    matches.push(c.match);
  }
  matches.sort(byKickoff);
  const limited = options.limit !== undefined && options.limit >= 0 ? matches.slice(0, options.limit) : matches;
  const counts: ScrapeCounts = {
    events: 0,
    malformed: 0,
    brackets: 0,
    bracketsSkipped: 0,
    unbracketed: 0,
    ...read.counts,
    duplicates,
    filteredOut,
    invalid,
    postponed: limited.filter((m) => m.match_status === "postponed").length,
    matches: limited.length,
    downloads: deps.fetcher.stats.downloads,
  };
  // A broken feed can report thousands of problems: log the first ones, count the rest.
  for (const p of problems.slice(0, 20)) deps.log.warn({ where: p.where }, p.reason);
  if (problems.length > 20) deps.log.warn({ more: problems.length - 20 }, "more feed problems not logged (see --save or the JSON output)");
  deps.log.info({ ...counts }, "scrape finished");
  return {
    matches: limited,
    counts,
    problems,
    metadata: {
      source: options.source,
      league: options.league,
      age_groups: options.ageGroups ?? [],
      division: options.division ?? null,
      club: options.club ?? null,
      season: seasonName(options.seasonFirstYear),
      window: { from: options.from ?? null, to: options.to ?? null },
      scraped_at: startedAt.toISOString(),
      feeds: read.feeds,
      placeholder_dates: read.placeholderDates,
      counts,
    },
  };
}
