/** Human-readable report of a run: what happened, then the latest results. Pure. */
import type { MatchSummary } from "../db/queries.js";
import type { ScrapeCounts } from "../scraper/scrape.js";
import type { SubmitCounts } from "../scraper/output.js";
import type { RunReport } from "./run-once.js";
import { padEndToWidth, printable, truncateToWidth } from "../terminal-text.js";

/** Stored text (from feeds), escaped and fitted in terminal cells (terminal-text.ts). */
function pad(text: string, width: number): string {
  return padEndToWidth(truncateToWidth(printable(text), width), width);
}

function score(m: MatchSummary): string {
  if (m.homeScore === null || m.awayScore === null) return m.matchStatus;
  const pens = m.homePenaltyScore !== null && m.awayPenaltyScore !== null ? ` (${m.homePenaltyScore}-${m.awayPenaltyScore} p)` : "";
  return `${m.homeScore}-${m.awayScore}${pens}`;
}

export function latestTable(rows: MatchSummary[]): string {
  // This run's matches only (run-once.ts): the database may well hold others.
  if (rows.length === 0) return "  (none: this run stored no played match)\n";
  const lines = [`  ${pad("date", 10)}  ${pad("age", 4)}  ${pad("division", 16)}  ${pad("home", 28)}  ${pad("score", 14)}  away`];
  for (const m of rows) {
    lines.push(`  ${pad(m.matchDate, 10)}  ${pad(m.ageGroup, 4)}  ${pad(m.division ?? "-", 16)}  ${pad(m.homeTeam, 28)}  ${pad(score(m), 14)}  ${printable(m.awayTeam)}`);
  }
  return `${lines.join("\n")}\n`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/**
 * A scrape's figures as `scrape` prints them: found = matches read + refused by the contract, so
 * that invalid counts both the scrape's refusals and the publisher's, and found = submitted +
 * invalid + failed (+ what a stop left unpublished). `schedule` logged the publisher's invalid
 * only, and its per-run line did not add up.
 */
export function publishedCounts(c: ScrapeCounts, submit: SubmitCounts) {
  return { found: c.matches + c.invalid, malformed: c.malformed, submitted: submit.submitted, invalid: c.invalid + submit.invalid, failed: submit.failed };
}

/** A run's figures, as its report says them: for `schedule`'s log line, which left out the invalid and failed ones. */
export function runCounts(r: RunReport) {
  const submit = { submitted: r.submit.submitted.length, invalid: r.submit.invalid.length, failed: r.submit.failed.length };
  return { ...publishedCounts(r.scrape.counts, submit), ...r.outcomes, pending: r.pending };
}

export function formatRunReport(r: RunReport): string {
  const n = runCounts(r);
  const o = r.outcomes;
  const lines = [
    `matchflow run: ${r.mode.broker} broker, ${r.mode.database} database`,
    `${n.found} found, ${n.malformed > 0 ? `${n.malformed} malformed, ` : ""}${n.submitted} submitted, ${n.invalid} invalid, ${n.failed} failed`,
    `processed: ${o.created} created, ${o.updated} updated, ${o.unchanged} unchanged, ${o.dead_lettered} dead-lettered` +
      (r.pending > 0 ? `, ${r.pending} still pending` : "") +
      // A first run's seconds are mostly start-up (PGlite creating an embedded database takes
      // ~6 s); the processing time is what the pipeline itself took.
      ` in ${seconds(r.processingMs)} (${seconds(r.elapsedMs)} with start-up)`,
  ];
  const b = r.queuedBefore;
  const before = b.created + b.updated + b.unchanged + b.dead_lettered;
  if (before > 0) {
    lines.push(`also processed ${before} matches queued before this run: ${b.created} created, ${b.updated} updated, ${b.unchanged} unchanged, ${b.dead_lettered} dead-lettered`);
  }
  for (const p of r.scrape.problems.slice(0, 5)) lines.push(`  problem: ${p.where}: ${p.reason}`);
  if (r.scrape.problems.length > 5) lines.push(`  ... and ${r.scrape.problems.length - 5} more problems`);
  for (const f of r.submit.failed.slice(0, 5)) lines.push(`  failed: ${f.externalMatchId ?? `#${f.index}`}: ${f.error}`);
  lines.push("latest results of this run (played matches, newest first):");
  return `${lines.join("\n")}\n${latestTable(r.latest)}`;
}

/**
 * What a stop signal left undone, from the figures: it said "the rest of the source was not
 * published" even when the signal came while waiting, every match published already.
 */
export function stoppedLine(r: RunReport, signal: string): string {
  const n = runCounts(r);
  const unpublished = n.found - n.submitted - n.invalid - n.failed;
  const parts = [unpublished > 0 ? `${unpublished} of the ${n.found} matches found were not published` : "every match found was published"];
  const where = r.mode.broker === "in-process" ? (r.pending === 1 ? "is gone with the in-process broker" : "are gone with the in-process broker") : r.pending === 1 ? "stays queued" : "stay queued";
  if (r.pending > 0) parts.push(`${r.pending} not processed yet ${where}`);
  return `stopped by ${signal}: ${parts.join("; ")}; running it again is harmless\n`;
}

/**
 * The level of `run`'s logs (stderr): warnings only by default, the report being on stdout; every
 * task with --verbose. A LOG_LEVEL quieter than warn (error, fatal, silent) or louder than info
 * (debug, trace) is taken as asked for: LOG_LEVEL=error did not silence the warnings.
 */
export function runLogLevel(verbose: boolean | undefined, configured: string): string {
  if (verbose) return "debug";
  return ["error", "fatal", "silent", "debug", "trace"].includes(configured) ? configured : "warn";
}

/** 0 when everything found was stored; 1 when anything was malformed, invalid, failed, dead-lettered or left pending. */
export function runExitCode(r: RunReport): 0 | 1 {
  const bad = r.scrape.counts.malformed + r.scrape.counts.invalid + r.submit.invalid.length + r.submit.failed.length + r.outcomes.dead_lettered + r.pending;
  return bad > 0 ? 1 : 0;
}
