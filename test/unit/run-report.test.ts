import { describe, expect, it } from "vitest";
import { formatRunReport, latestTable, runExitCode } from "../../src/run/report.js";
import type { MatchSummary } from "../../src/db/queries.js";
import { cellsBefore } from "../helpers/terminal.js";
import type { RunReport } from "../../src/run/run-once.js";
import type { ScrapeCounts, ScrapeMetadata } from "../../src/scraper/scrape.js";

function report(counts: Partial<ScrapeCounts> = {}, extra: Partial<RunReport> = {}): RunReport {
  const full: ScrapeCounts = { events: 3, malformed: 0, brackets: 1, bracketsSkipped: 0, unbracketed: 0, duplicates: 0, filteredOut: 0, invalid: 0, postponed: 0, matches: 3, downloads: 2, ...counts };
  return {
    mode: { broker: "in-process", database: "pglite" },
    scrape: { counts: full, problems: [], metadata: { counts: full } as unknown as ScrapeMetadata },
    submit: { submitted: [1, 2, 3].map((i) => ({ index: i, taskId: `t${i}`, externalMatchId: `m${i}` })), invalid: [], failed: [] },
    outcomes: { created: 3, updated: 0, unchanged: 0, dead_lettered: 0 },
    pending: 0,
    latest: [],
    elapsedMs: 1_000,
    processingMs: 100,
    ...extra,
  };
}

describe("run report", () => {
  it("a clean run exits 0 and says nothing of malformed events", () => {
    expect(runExitCode(report())).toBe(0);
    expect(formatRunReport(report())).toContain("\n3 found, 3 submitted, 0 invalid, 0 failed\n");
  });

  it("malformed feed events are shown and make the run exit 1 (matches the scrape could not read are not a success)", () => {
    const r = report({ events: 5, malformed: 2 });
    expect(runExitCode(r)).toBe(1);
    expect(formatRunReport(r)).toContain("\n3 found, 2 malformed, 3 submitted, 0 invalid, 0 failed\n");
  });

  it("pending or dead-lettered matches make the run exit 1", () => {
    expect(runExitCode(report({}, { pending: 1 }))).toBe(1);
    expect(runExitCode(report({}, { outcomes: { created: 2, updated: 0, unchanged: 0, dead_lettered: 1 } }))).toBe(1);
  });

  it("the latest matches table escapes control characters in stored names and keeps columns aligned with wide ones", () => {
    const row = (m: Partial<MatchSummary>): MatchSummary => ({
      id: 1, externalMatchId: "1", matchDate: "2026-09-05", scheduledKickoff: null, homeTeam: "Home FC", awayTeam: "Away FC",
      homeScore: 2, awayScore: 1, homePenaltyScore: null, awayPenaltyScore: null, matchStatus: "completed",
      league: "Homegrown", season: "2026-27", ageGroup: "U14", division: "Florida", matchType: "League", ...m,
    });
    const text = latestTable([row({ homeTeam: "東京ユナイテッド・アカデミー・ジュニアユース", awayTeam: "Evil\u001b]0;x\u0007" }), row({})]);
    expect(text).not.toContain("\u001b");
    expect(text).not.toContain("\u0007");
    expect(text).toContain("Evil\\x1b]0;x\\x07");
    const [, wide, plain] = text.split("\n") as [string, string, string];
    expect(cellsBefore(wide, "2-1")).toBe(cellsBefore(plain, "2-1"));
  });

  it("a run that stored no played match says so of this run, not of the database (which may hold many)", () => {
    const text = formatRunReport(report());
    expect(text).toContain("latest results of this run (played matches, newest first):\n  (none: this run stored no played match)\n");
    expect(text).not.toMatch(/no matches stored yet/);
  });
});
