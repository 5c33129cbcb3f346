/**
 * How a scrape is shown: a table for people, JSON (the `--save` document) or NDJSON for
 * programs, and the one summary line (pure: strings out).
 */
import type { MatchDataInput } from "../contract/index.js";
import type { ScrapeCounts, ScrapeResult, ScrapeSummary } from "./scrape.js";
import type { OutputFormat } from "./cli-options.js";
import { displayWidth, jsonForTerminal, padEndToWidth, printable, truncateToWidth } from "../terminal-text.js";

/** The `--save` and `--format json` document. */
export function scrapeDocument(result: ScrapeResult): { metadata: ScrapeResult["metadata"]; matches: MatchDataInput[]; problems: ScrapeResult["problems"] } {
  return { metadata: result.metadata, matches: result.matches, problems: result.problems };
}

function score(m: MatchDataInput): string {
  if (m.home_score == null || m.away_score == null) return "-";
  const pens = m.home_penalty_score != null && m.away_penalty_score != null ? ` (${m.home_penalty_score}-${m.away_penalty_score} p)` : "";
  return `${m.home_score}-${m.away_score}${pens}`;
}

export function renderTable(matches: MatchDataInput[]): string {
  const header = ["date", "time", "age", "division", "home", "score", "away", "status", "id"];
  // Feed text, escaped and measured in terminal cells (terminal-text.ts).
  const rows = matches.map((m) => [m.match_date, m.match_time ?? "", m.age_group, m.division ?? "", m.home_team, score(m), m.away_team, m.match_status ?? "", m.external_match_id ?? ""].map(printable));
  const widths = header.map((h, i) => Math.min(40, Math.max(h.length, ...rows.map((r) => displayWidth(r[i]!)))));
  const line = (cells: string[]) => cells.map((c, i) => padEndToWidth(truncateToWidth(c, widths[i]!, "~"), widths[i]!)).join("  ").trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n") + "\n";
}

/** One match of the NDJSON output, newline included. */
export function ndjsonLine(m: MatchDataInput): string {
  return `${jsonForTerminal(JSON.stringify(m))}\n`;
}

export function renderMatches(result: ScrapeResult, format: OutputFormat): string {
  if (format === "json") return `${jsonForTerminal(JSON.stringify(scrapeDocument(result), null, 2))}\n`;
  if (format === "ndjson") return result.matches.map(ndjsonLine).join("");
  return renderTable(result.matches);
}

export interface SubmitCounts {
  submitted: number;
  invalid: number;
  failed: number;
}

/**
 * `N found, N submitted, N invalid, N failed` (found = matches read + refused by the contract),
 * with `N malformed` after `found` when the feed had events too broken to read (they are not
 * in `found`: what they are is unknown; the line must still show that something was lost).
 */
export function summaryLine(result: Pick<ScrapeSummary, "counts">, submit: SubmitCounts | undefined): string {
  const found = result.counts.matches + result.counts.invalid;
  const invalid = result.counts.invalid + (submit?.invalid ?? 0);
  const malformed = result.counts.malformed > 0 ? `, ${result.counts.malformed} malformed` : "";
  const base = `${found} found${malformed}, ${submit?.submitted ?? 0} submitted, ${invalid} invalid, ${submit?.failed ?? 0} failed`;
  return submit === undefined ? `${base} (dry run: nothing published)` : base;
}

/**
 * Matches a scrape refused: malformed events, matches the contract (or the size bound) refused.
 * A malformed event counts whatever the filters: its date and age group cannot be trusted, so it
 * may well be one of the matches asked for. Publishes the broker did not take are counted apart
 * (`SubmitCounts.failed`): another try can fix those, not these.
 */
export function scrapeRefused(counts: Pick<ScrapeCounts, "malformed" | "invalid">, submit: SubmitCounts | undefined): number {
  return counts.malformed + counts.invalid + (submit?.invalid ?? 0);
}
