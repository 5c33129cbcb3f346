/**
 * `matchflow scrape` flags -> validated scrape options (pure: `today` and config are inputs).
 * Every bad value is a usage error (exit 2) that names the flag and what it accepts.
 */
import type { Config } from "../config.js";
import { LEAGUES, seasonFirstYear, seasonForDate, seasonName, type League } from "../contract/index.js";
import { PermanentError } from "../errors.js";
import { ASSIST_FIRST_SEASON } from "../sources/assist/keys.js";
import { sourceDirUrl } from "../sources/http.js";
import type { ScrapeOptions, ScrapeSource } from "./scrape.js";

export type OutputFormat = "table" | "json" | "ndjson";

/** The flags as commander hands them over (all text, as typed). */
export interface ScrapeFlags {
  league?: string;
  ageGroup?: string;
  division?: string;
  conference?: string;
  club?: string;
  from?: string;
  to?: string;
  start?: string;
  end?: string;
  season?: string;
  source?: string;
  sourceDir?: string;
  limit?: string;
  save?: string;
  format?: string;
  submit?: boolean;
  quiet?: boolean;
  verbose?: boolean;
}

export interface ScrapeCommandSettings {
  options: ScrapeOptions;
  format: OutputFormat;
  save: string | undefined;
  submit: boolean;
  quiet: boolean;
  verbose: boolean;
}

const usage = (message: string) => new PermanentError("usage", message);

const ISO_DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

function isCalendarDate(text: string): boolean {
  if (!ISO_DATE_RE.test(text)) return false;
  const d = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === text;
}

function date(flag: string, text: string): string {
  if (!isCalendarDate(text)) throw usage(`--${flag} "${text}" is not a date written YYYY-MM-DD`);
  return text;
}

/** `-7` days from `today` (YYYY-MM-DD) -> YYYY-MM-DD. */
export function addDays(today: string, days: number): string {
  const d = new Date(`${today}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

function offset(flag: string, text: string, today: string): string {
  if (/^[+-]?\d{5,}$/.test(text.trim())) throw usage(`--${flag} "${text}" is out of range: days from today go from -9999 to 9999`);
  if (!/^[+-]?\d{1,4}$/.test(text.trim())) throw usage(`--${flag} "${text}" is not a whole number of days from today (e.g. -7, 0, 14)`);
  return addDays(today, Number(text));
}

export function parseLeague(text: string): League {
  const hit = LEAGUES.find((l) => l.toLowerCase() === text.trim().toLowerCase());
  if (!hit) throw usage(`--league "${text}" is not one of ${LEAGUES.join(", ")}`);
  return hit;
}

/** `u14, U15` -> ["U14", "U15"]. */
export function parseAgeGroups(text: string): string[] {
  const parts = text.split(",").map((s) => s.trim()).filter((s) => s !== "");
  for (const p of parts) if (!/^U\d{1,2}$/i.test(p)) throw usage(`--age-group "${p}" is not an age group like U14 (use a comma list for several)`);
  return [...new Set(parts.map((p) => p.toUpperCase()))];
}

/** Seasons one scrape reads at most: their feeds are read before the first match is produced. */
export const MAX_SEASONS = 4;

/**
 * `2026` or `2026-27` -> 2026. This century only: the feeds name a season by two-digit years
 * (`...-25-26`), so 1925 or 2125 would silently read 2025's.
 */
export function parseSeason(text: string): number {
  const t = text.trim();
  const first = /^\d{4}$/.test(t) ? Number(t) : seasonFirstYear(t);
  if (first === undefined) throw usage(`--season "${text}" is not a season's first year (2026) or a season (2026-27)`);
  if (first < 2000 || first > 2099) throw usage(`--season "${text}" is out of range: the feeds name seasons 2000-01 to 2099-00 only`);
  return first;
}

export function resolveScrapeFlags(flags: ScrapeFlags, config: Config, today: string, stdoutIsTty: boolean): ScrapeCommandSettings {
  if (flags.from !== undefined && flags.start !== undefined) throw usage("use --from or --start, not both");
  if (flags.to !== undefined && flags.end !== undefined) throw usage("use --to or --end, not both");
  if (flags.division !== undefined && flags.conference !== undefined && flags.division.trim().toLowerCase() !== flags.conference.trim().toLowerCase()) {
    throw usage("--division and --conference are the same filter: give one");
  }
  const from = flags.from !== undefined ? date("from", flags.from) : flags.start !== undefined ? offset("start", flags.start, today) : undefined;
  const to = flags.to !== undefined ? date("to", flags.to) : flags.end !== undefined ? offset("end", flags.end, today) : undefined;
  if (from !== undefined && to !== undefined && from > to) throw usage(`the window is empty: ${from} is after ${to}`);

  const sourceText = flags.source ?? config.scrape.source;
  if (sourceText !== "assist" && sourceText !== "modular11") throw usage(`--source "${sourceText}" is not assist or modular11`);
  const source: ScrapeSource = sourceText;
  // Recorded feeds are assist documents; modular11 would silently go online instead.
  if (flags.sourceDir !== undefined && source !== "assist") {
    const chosen = flags.source !== undefined ? `--source ${source}` : `SCRAPE_SOURCE=${source}`;
    throw usage(`--source-dir reads recorded assist feeds only: it cannot be used with ${chosen} (drop one of them)`);
  }

  let limit: number | undefined;
  if (flags.limit !== undefined) {
    if (!/^\d+$/.test(flags.limit.trim())) throw usage(`--limit "${flags.limit}" is not a whole number`);
    // 0 found nothing and exited 0, as if the feed were empty.
    if (Number(flags.limit) === 0) throw usage("--limit must be at least 1 (leave it out for every match)");
    limit = Number(flags.limit);
  }
  const formatText = flags.format ?? (stdoutIsTty ? "table" : "json");
  if (formatText !== "table" && formatText !== "json" && formatText !== "ndjson") throw usage(`--format "${formatText}" is not table, json or ndjson`);
  if (flags.quiet && flags.verbose) throw usage("--quiet and --verbose contradict each other");
  // `--save "$OUT"` with OUT unset saved nothing, silently; `--source-dir ""` read the current directory.
  for (const [flag, value] of [["--save", flags.save], ["--source-dir", flags.sourceDir]] as const) {
    if (value !== undefined && value.trim() === "") throw usage(`${flag} was given an empty path`);
  }

  // `--club "$CLUB"` with CLUB unset took every club, silently: leaving the flag out says that.
  for (const [flag, value] of [["--age-group", flags.ageGroup], ["--division", flags.division], ["--conference", flags.conference], ["--club", flags.club]] as const) {
    if (value !== undefined && value.replace(/,/g, "").trim() === "") throw usage(`${flag} was given an empty value: leave the flag out to take them all`);
  }
  const ageText = flags.ageGroup ?? config.scrape.ageGroup;
  const division = (flags.division ?? flags.conference ?? config.scrape.division)?.trim() || undefined;
  const club = flags.club?.trim() || undefined;
  // Without --season: the season the window ends in (today's for a window without an end that
  // started already). Today's season read the feed of 2026-27 for a window in 2025 and found none of it.
  const seasonDate = to ?? (from !== undefined && from > today ? from : today);
  const season = flags.season !== undefined ? parseSeason(flags.season) : seasonFirstYear(seasonForDate(seasonDate))!;
  if (source === "assist" && season < ASSIST_FIRST_SEASON) {
    const what = flags.season !== undefined ? `--season ${seasonName(season)}` : `the window, which ends in season ${seasonName(season)},`;
    throw usage(`${what} is older than the assist feeds (from ${seasonName(ASSIST_FIRST_SEASON)} on): read it with --source modular11`);
  }
  // ... and every season before it that the window reaches (a window across August 1st read only
  // the later season's feed), back to the assist feeds' first. A given --season is the only one read.
  const startSeason = from !== undefined ? seasonFirstYear(seasonForDate(from))! : season;
  const oldest = source === "assist" ? Math.max(startSeason, ASSIST_FIRST_SEASON) : startSeason;
  const fromSeason = flags.season === undefined ? Math.min(oldest, season) : season;
  // Feeds name seasons by two-digit years: a window in 1999 would read 2099's.
  if (flags.season === undefined && (fromSeason < 2000 || season > 2099)) {
    throw usage(`the window reaches season ${seasonName(fromSeason < 2000 ? fromSeason : season)}: out of range, the feeds name seasons 2000-01 to 2099-00 only`);
  }
  // Modular11 is asked for the date range itself; assist holds each season's feed at once.
  if (source === "assist" && season - fromSeason + 1 > MAX_SEASONS) {
    throw usage(`the window from ${from ?? ""} reaches over ${season - fromSeason + 1} seasons; one scrape reads at most ${MAX_SEASONS} (their feeds are held in memory together): split the window, or give --season for each`);
  }

  return {
    options: {
      source,
      league: flags.league !== undefined ? parseLeague(flags.league) : config.scrape.league,
      seasonFirstYear: season,
      ...(fromSeason < season ? { fromSeasonFirstYear: fromSeason } : {}),
      ageGroups: ageText !== undefined ? parseAgeGroups(ageText) : [],
      division,
      club,
      from,
      to,
      limit,
      assistBaseUrl: flags.sourceDir !== undefined ? sourceDirUrl(flags.sourceDir) : config.scrape.assistBaseUrl,
      modular11BaseUrl: config.scrape.modular11BaseUrl,
    },
    format: formatText,
    save: flags.save,
    submit: flags.submit !== false,
    quiet: flags.quiet === true,
    verbose: flags.verbose === true,
  };
}
