/** Human-readable report of a run: what happened, then the latest results. Pure. */
import type { MatchSummary } from "../db/queries.js";
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

export function formatRunReport(r: RunReport): string {
  const c = r.scrape.counts;
  const found = c.matches + c.invalid;
  const o = r.outcomes;
  const lines = [
    `matchflow run: ${r.mode.broker} broker, ${r.mode.database} database`,
    `${found} found, ${c.malformed > 0 ? `${c.malformed} malformed, ` : ""}${r.submit.submitted.length} submitted, ${c.invalid + r.submit.invalid.length} invalid, ${r.submit.failed.length} failed`,
    `processed: ${o.created} created, ${o.updated} updated, ${o.unchanged} unchanged, ${o.dead_lettered} dead-lettered` +
      (r.pending > 0 ? `, ${r.pending} still pending` : "") +
      // A first run's seconds are mostly start-up (PGlite creating an embedded database takes
      // ~6 s); the processing time is what the pipeline itself took.
      ` in ${seconds(r.processingMs)} (${seconds(r.elapsedMs)} with start-up)`,
  ];
  for (const p of r.scrape.problems.slice(0, 5)) lines.push(`  problem: ${p.where}: ${p.reason}`);
  if (r.scrape.problems.length > 5) lines.push(`  ... and ${r.scrape.problems.length - 5} more problems`);
  for (const f of r.submit.failed.slice(0, 5)) lines.push(`  failed: ${f.externalMatchId ?? `#${f.index}`}: ${f.error}`);
  lines.push("latest results of this run (played matches, newest first):");
  return `${lines.join("\n")}\n${latestTable(r.latest)}`;
}

/** 0 when everything found was stored; 1 when anything was malformed, invalid, failed, dead-lettered or left pending. */
export function runExitCode(r: RunReport): 0 | 1 {
  const bad = r.scrape.counts.malformed + r.scrape.counts.invalid + r.submit.invalid.length + r.submit.failed.length + r.outcomes.dead_lettered + r.pending;
  return bad > 0 ? 1 : 0;
}
