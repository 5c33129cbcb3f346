import { describe, expect, it } from "vitest";
import { formatRunReport, latestTable, runCounts, runExitCode, runLogLevel, stoppedLine } from "../../src/run/report.js";
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
    queuedBefore: { created: 0, updated: 0, unchanged: 0, dead_lettered: 0 },
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

  it("runCounts (schedule's log line) says the figures the report prints: the contract's refusals among found and invalid", () => {
    const r = report({ events: 5, invalid: 2 }, { submit: { submitted: [{ index: 0, taskId: "t1", externalMatchId: "m1" }], invalid: [{ index: 1, externalMatchId: "m2", errors: [] }], failed: [{ index: 2, taskId: "t3", externalMatchId: "m3", error: "nacked" }] } });
    const n = runCounts(r);
    expect(n).toEqual({ found: 5, malformed: 0, submitted: 1, invalid: 3, failed: 1, created: 3, updated: 0, unchanged: 0, dead_lettered: 0, pending: 0 });
    expect(n.submitted + n.invalid + n.failed).toBe(n.found);
    expect(formatRunReport(r)).toContain("\n5 found, 1 submitted, 3 invalid, 1 failed\n");
  });

  it("a stop says what it left: it said \"the rest of the source was not published\" when every match was", () => {
    // Stopped while waiting: all 3 published, 1 not processed yet.
    const waiting = report({}, { outcomes: { created: 2, updated: 0, unchanged: 0, dead_lettered: 0 }, pending: 1 });
    expect(stoppedLine(waiting, "SIGTERM")).toBe("stopped by SIGTERM: every match found was published; 1 not processed yet is gone with the in-process broker; running it again is harmless\n");
    expect(stoppedLine({ ...waiting, mode: { broker: "rabbitmq", database: "postgres" } }, "SIGTERM")).toBe("stopped by SIGTERM: every match found was published; 1 not processed yet stays queued; running it again is harmless\n");
    // Stopped while publishing: 2 of 5 published (one found was invalid), both processed.
    const publishing = report({ events: 5, matches: 4, invalid: 1 }, { submit: { submitted: [1, 2].map((i) => ({ index: i, taskId: `t${i}`, externalMatchId: `m${i}` })), invalid: [], failed: [] }, outcomes: { created: 2, updated: 0, unchanged: 0, dead_lettered: 0 } });
    expect(stoppedLine(publishing, "SIGINT")).toBe("stopped by SIGINT: 2 of the 5 matches found were not published; running it again is harmless\n");
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

  it("run logs warnings by default, every task with --verbose, and follows a LOG_LEVEL quieter than warn or louder than info", () => {
    expect(runLogLevel(false, "info")).toBe("warn");
    expect(runLogLevel(undefined, "warn")).toBe("warn");
    expect(runLogLevel(true, "error")).toBe("debug");
    expect(runLogLevel(false, "error")).toBe("error");
    expect(runLogLevel(false, "silent")).toBe("silent");
    expect(runLogLevel(false, "debug")).toBe("debug");
  });
});
