/**
 * The scrape app: fetch a league's feeds, read them, filter to the targets, check every match
 * against the producer contract. No publishing here: the CLI (and `matchflow run`) hand the
 * matches to the publisher, so a dry run and a real run see exactly the same matches.
 * `scrapeStream` produces them one at a time (what publishing uses: memory stays flat for a
 * 50,000-match season); `scrape` collects them (dry-run output, `--save`).
 */
import { redactUrl } from "../redact-url.js";
import { isMatchflowError } from "../errors.js";
import { seasonName, validateForProducer, type League, type MatchData, type MatchDataInput } from "../contract/index.js";
import type { Logger } from "../log.js";
import { feedKey, scheduleUrl, standingsUrl } from "../sources/assist/keys.js";
import type { PlaceholderOptions } from "../sources/assist/placeholder.js";
import { readSchedule, readStandings } from "../sources/assist/parse.js";
import { readAssistFeeds } from "../sources/assist/read.js";
import { keepBestCopies } from "../sources/duplicates.js";
import { compileFilters, createFilterReach, type PlacedCandidate } from "../sources/filters.js";
import type { FeedFetcher } from "../sources/http.js";
import { compareKickoff } from "../sources/order.js";
import type { FeedProblem } from "../sources/types.js";
import { seasonsBounds, seasonsRead, windowOutsideSeason } from "./seasons.js";

export type ScrapeSource = "assist" | "modular11";

export interface ScrapeOptions {
  source: ScrapeSource;
  league: League;
  /** The season's first year: 2026 for 2026-27. The last season read when there are several. */
  seasonFirstYear: number;
  /**
   * The first season read, when the window starts in an earlier season than `seasonFirstYear`
   * (a window across August 1st): every season from it to `seasonFirstYear` is read. Unset: one.
   */
  fromSeasonFirstYear?: number | undefined;
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
  /** Events repeating an external id: one copy of each is kept (sources/duplicates.ts: the one with a result first). */
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
  /** The season the window ends in (the last of `seasons`). */
  season: string;
  /** Every season the window reaches, oldest first (more than one across August 1st); one not read is among the problems. */
  seasons: string[];
  window: { from: string | null; to: string | null };
  scraped_at: string;
  feeds: string[];
  placeholder_dates: string[];
  counts: ScrapeCounts;
}

/** A scrape's outcome besides the matches themselves. */
export interface ScrapeSummary {
  counts: ScrapeCounts;
  problems: FeedProblem[];
  metadata: ScrapeMetadata;
}

export interface ScrapeResult extends ScrapeSummary {
  matches: MatchDataInput[];
}

/** A scrape whose matches are produced one at a time, as the consumer (the publisher) asks. */
export interface ScrapeStream {
  /** In kickoff order, each checked against the producer contract; can be iterated once. */
  matches: Iterable<MatchDataInput>;
  /** Counts, problems and metadata, complete once `matches` has been read to its end (throws before). */
  summary(): ScrapeSummary;
  /**
   * The contract's output for the match produced last (the publisher's `checked` option: it
   * takes each match as it is produced, so the check is not run a second time).
   */
  readonly checked: (match: unknown) => MatchData | undefined;
}

interface SourceRead {
  /** In kickoff order, one of each external id (see PlacedCandidate). */
  candidates: Iterable<PlacedCandidate>;
  problems: FeedProblem[];
  counts: Partial<ScrapeCounts>;
  duplicates: number;
  feeds: string[];
  placeholderDates: string[];
}

/**
 * Each season has its own assist feeds: read one after the other, produced in season order. A
 * later season's feeds may not be published yet (a window reaching past July; or the first weeks
 * of August, before the league publishes the new season's fixtures): once an earlier season of
 * the window was read, its unreadable feeds are a problem said, not a failed scrape that lost the
 * earlier season's last days with them.
 */
async function readAssist(options: ScrapeOptions, deps: ScrapeDeps): Promise<SourceRead> {
  const seasons = seasonsRead(options);
  const today = deps.now().toISOString().slice(0, 10);
  const reads: SourceRead[] = [];
  const unpublished: FeedProblem[] = [];
  for (const season of seasons) {
    try {
      reads.push(await readAssistSeason(options, season, deps));
    } catch (err) {
      if (reads.length === 0 || !isMatchflowError(err) || err.code !== "source_unreadable") throw err;
      const start = seasonsBounds([season]).startDate;
      const why = start > today ? "it starts after today and its feeds cannot be read yet" : `its feeds cannot be read (not published yet? it began on ${start})`;
      unpublished.push({ where: `season ${seasonName(season)}`, reason: `not read: ${why} (${err.message}); its days find nothing` });
    }
  }
  const read = reads.length === 1 ? reads[0]! : chainReads(reads);
  return { ...read, problems: [...read.problems, ...unpublished] };
}

/** Several reads as one: candidates one read after the other, feed positions kept in that order. */
function chainReads(reads: SourceRead[]): SourceRead {
  const counts: Partial<ScrapeCounts> = {};
  for (const read of reads) {
    for (const [name, n] of Object.entries(read.counts) as [keyof ScrapeCounts, number][]) counts[name] = (counts[name] ?? 0) + n;
  }
  function* candidates(): Generator<PlacedCandidate> {
    let offset = 0;
    for (const read of reads) {
      let next = offset;
      for (const c of read.candidates) {
        next = Math.max(next, offset + c.position + 1);
        yield { ...c, position: offset + c.position };
      }
      offset = next;
    }
  }
  return {
    candidates: candidates(),
    problems: reads.flatMap((r) => r.problems),
    counts,
    duplicates: reads.reduce((n, r) => n + r.duplicates, 0),
    feeds: reads.flatMap((r) => r.feeds),
    placeholderDates: reads.flatMap((r) => r.placeholderDates),
  };
}

async function readAssistSeason(options: ScrapeOptions, seasonFirstYear: number, deps: ScrapeDeps): Promise<SourceRead> {
  const key = feedKey(options.league, seasonFirstYear);
  const sUrl = scheduleUrl(options.assistBaseUrl, key);
  const tUrl = standingsUrl(options.assistBaseUrl, key);
  // Both downloads run at once; when both fail, the schedule's error is the one reported.
  const [schedule, standings] = await Promise.allSettled([deps.fetcher.read(sUrl, `schedule ${key}`, readSchedule), deps.fetcher.read(tUrl, `standings ${key}`, readStandings)]);
  if (schedule.status === "rejected") throw schedule.reason;
  if (standings.status === "rejected") throw standings.reason;
  const read = readAssistFeeds(schedule.value, standings.value, {
    key,
    league: options.league,
    seasonFirstYear,
    now: deps.now().getTime(),
    fetchedAt: deps.now().toISOString(),
    placeholder: options.placeholder,
  });
  return { candidates: read.candidates, problems: read.problems, counts: read.counts, duplicates: read.duplicates, feeds: [sUrl, tUrl].map((u) => redactUrl(u) ?? u), placeholderDates: read.placeholderDates };
}

/** One read for every season: Modular11 is asked for a date range, and each match's season follows from its date. */
async function readLegacy(options: ScrapeOptions, deps: ScrapeDeps): Promise<SourceRead> {
  const bounds = seasonsBounds(seasonsRead(options));
  // Loaded only for this source: its HTML parser (cheerio) adds ~25 MB to the process.
  const { readModular11, MODULAR11_COPIES } = await import("../sources/modular11/fetch.js");
  const read = await readModular11(
    {
      baseUrl: options.modular11BaseUrl,
      league: options.league,
      ageGroups: options.ageGroups ?? [],
      division: options.division,
      from: options.from ?? bounds.startDate,
      to: options.to ?? bounds.endDate,
      now: deps.now(),
    },
    deps.fetcher,
  );
  // Pages of filtered server-side results (small): ordered here, all at once.
  const copies = keepBestCopies<PlacedCandidate>(read.candidates.map((c, position) => ({ ...c, position })), MODULAR11_COPIES);
  const placed = copies.kept;
  const key = (m: MatchDataInput) => [m.match_date, m.match_time ?? "", m.external_match_id ?? ""] as const;
  placed.sort((a, b) => compareKickoff(...key(a.match), ...key(b.match)));
  return {
    candidates: placed,
    problems: [...read.problems, ...read.pagingProblems, ...copies.problems],
    counts: { events: read.candidates.length + read.problems.length, malformed: read.problems.length },
    duplicates: copies.duplicates,
    feeds: [`${read.pages} modular11 page(s)`],
    placeholderDates: [],
  };
}

/**
 * Asked-for age groups that no event of the feed has: most likely a typo (`U99`), which would
 * otherwise give "0 found" in silence. Not an error: the contract has no closed list of age
 * groups, and a feed may not have published an age group yet.
 */
function unknownAgeGroups(asked: string[], inFeed: Set<string>): FeedProblem[] {
  const known = new Set([...inFeed].map((a) => a.toUpperCase()));
  const list = [...known].sort((a, b) => a.localeCompare(b, "en", { numeric: true })).join(", ") || "none";
  return asked.filter((a) => !known.has(a.toUpperCase())).map((a) => ({ where: `--age-group ${a}`, reason: `no event of the feed has this age group (it has: ${list})` }));
}

/**
 * Reads the source (downloads and the first, compact pass happen here), then returns the
 * matches as a lazy sequence: each is filtered, normalised and checked when the consumer asks,
 * so publishing starts with the first match and memory does not grow with the season
 * (a window across August 1st reads each season's feeds first).
 */
export async function scrapeStream(options: ScrapeOptions, deps: ScrapeDeps): Promise<ScrapeStream> {
  const startedAt = deps.now();
  const seasons = seasonsRead(options).map(seasonName);
  deps.log.info({ source: options.source, league: options.league, season: seasons.join(", ") }, "scrape started");
  const outside = windowOutsideSeason(options);
  if (outside) deps.log.warn({ season: seasons.join(", "), from: options.from, to: options.to }, outside);
  const read = options.source === "assist" ? await readAssist(options, deps) : await readLegacy(options, deps);
  const keep = compileFilters(options);
  const limit = options.limit !== undefined && options.limit >= 0 ? options.limit : Infinity;
  const refused: { position: number; problem: FeedProblem }[] = [];
  let filteredOut = 0;
  let matches = 0;
  let postponed = 0;
  let summary: ScrapeSummary | undefined;
  let last: { input: MatchDataInput; output: MatchData } | undefined;
  // Modular11 filters by age group and division on its server (and refuses an age group it does
  // not know, modular11/fetch.ts): a window without its matches is not a typo. Only an assist read
  // sees the whole feed.
  const wholeFeed = options.source === "assist";
  /** Every age group of the feed (filtered out or not), for `unknownAgeGroups`. */
  const feedAgeGroups = new Set<string>();
  const reach = wholeFeed ? createFilterReach(options) : undefined;

  const finish = (): ScrapeSummary => {
    const asked = wholeFeed ? unknownAgeGroups(options.ageGroups ?? [], feedAgeGroups) : [];
    const problems = [...read.problems, ...refused.sort((a, b) => a.position - b.position).map((r) => r.problem), ...asked, ...(reach?.problems() ?? [])];
    const counts: ScrapeCounts = {
      events: 0,
      malformed: 0,
      brackets: 0,
      bracketsSkipped: 0,
      unbracketed: 0,
      ...read.counts,
      duplicates: read.duplicates,
      filteredOut,
      invalid: refused.length,
      postponed,
      matches,
      downloads: deps.fetcher.stats.downloads,
    };
    // A broken feed can report thousands of problems: log the first ones, count the rest.
    for (const p of problems.slice(0, 20)) deps.log.warn({ where: p.where }, p.reason);
    if (problems.length > 20) deps.log.warn({ more: problems.length - 20 }, "more feed problems not logged (see --save or the JSON output)");
    deps.log.info({ ...counts }, "scrape finished");
    return {
      counts,
      problems,
      metadata: {
        source: options.source,
        league: options.league,
        age_groups: options.ageGroups ?? [],
        division: options.division ?? null,
        club: options.club ?? null,
        season: seasonName(options.seasonFirstYear),
        seasons,
        window: { from: options.from ?? null, to: options.to ?? null },
        scraped_at: startedAt.toISOString(),
        feeds: read.feeds,
        placeholder_dates: read.placeholderDates,
        counts,
      },
    };
  };

  function* produce(): Generator<MatchDataInput> {
    for (const c of read.candidates) {
      feedAgeGroups.add(c.match.age_group);
      reach?.see(c);
      if (!keep(c)) {
        filteredOut += 1;
        continue;
      }
      const checked = validateForProducer(c.match);
      if (!checked.ok) {
        const id = c.match.external_match_id;
        refused.push({ position: c.position, problem: { where: `match ${id || "(no id)"}`, reason: `refused by the contract: ${checked.issues.map((i) => i.message).join("; ")}` } });
        continue;
      }
      // Past the limit every candidate is still checked: counts and problems cover the whole feed.
      if (matches >= limit) continue;
      matches += 1;
      if (c.match.match_status === "postponed") postponed += 1;
      last = { input: c.match, output: checked.match };
      yield c.match;
    }
    last = undefined;
    summary = finish();
  }

  return {
    matches: produce(),
    summary: () => {
      if (!summary) throw new Error("scrape summary asked for before every match was read");
      return summary;
    },
    checked: (match) => (last !== undefined && last.input === match ? last.output : undefined),
  };
}

/** The whole scrape at once (dry runs, `--save`, tests): every match in one array. */
export async function scrape(options: ScrapeOptions, deps: ScrapeDeps): Promise<ScrapeResult> {
  const stream = await scrapeStream(options, deps);
  const matches = [...stream.matches];
  return { matches, ...stream.summary() };
}
