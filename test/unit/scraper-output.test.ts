import { describe, expect, it } from "vitest";
import type { MatchDataInput } from "../../src/contract/index.js";
import { publishExitCode } from "../../src/cli/exit-codes.js";
import { renderMatches, renderTable, scrapeRefused, summaryLine } from "../../src/scraper/output.js";
import type { ScrapeResult } from "../../src/scraper/scrape.js";
import { cellsBefore } from "../helpers/terminal.js";

const match = (o: Partial<MatchDataInput> = {}): MatchDataInput => ({
  external_match_id: "26030",
  home_team: "South Florida Football Academy",
  away_team: "Athletum FC Academy",
  match_date: "2026-09-05",
  match_time: "09:00",
  age_group: "U14",
  division: "Florida",
  match_type: "League",
  match_status: "scheduled",
  ...o,
});

const result = (matches: MatchDataInput[], invalid = 0, malformed = 0): ScrapeResult =>
  ({ matches, counts: { invalid, malformed, matches: matches.length }, problems: [], metadata: { season: "2026-27" } }) as unknown as ScrapeResult;

describe("scrape output", () => {
  it("json and ndjson write a feed's C1 controls and bidi overrides as \\u escapes, the same values to a parser", () => {
    const hostile = match({ home_team: "Evil\u009b2J FC", away_team: "\u202eCF driB" });
    for (const format of ["json", "ndjson"] as const) {
      const text = renderMatches(result([hostile]), format);
      expect(text).not.toMatch(/[\u0080-\u009f\u202e]/);
      expect(text).toContain("Evil\\u009b2J FC");
      const parsed: unknown = format === "json" ? (JSON.parse(text) as { matches: unknown[] }).matches[0] : JSON.parse(text);
      expect(parsed).toEqual(hostile);
    }
  });

  it("the summary line counts found = matches + refused, and says when nothing was published", () => {
    expect(summaryLine(result([match(), match()], 1), { submitted: 2, invalid: 0, failed: 0 })).toBe("3 found, 2 submitted, 1 invalid, 0 failed");
    expect(summaryLine(result([match()]), { submitted: 0, invalid: 1, failed: 0 })).toBe("1 found, 0 submitted, 1 invalid, 0 failed");
    expect(summaryLine(result([match()]), undefined)).toBe("1 found, 0 submitted, 0 invalid, 0 failed (dry run: nothing published)");
  });

  it("malformed events show in the summary line (only when there are some) and make the scrape incomplete", () => {
    expect(summaryLine(result([match()], 0, 2), undefined)).toBe("1 found, 2 malformed, 0 submitted, 0 invalid, 0 failed (dry run: nothing published)");
    expect(summaryLine(result([match()], 0, 2), { submitted: 1, invalid: 0, failed: 0 })).toBe("1 found, 2 malformed, 1 submitted, 0 invalid, 0 failed");
    const clean = { submitted: 1, invalid: 0, failed: 0 };
    const code = (counts: { malformed: number; invalid: number }, submit: typeof clean | undefined) => publishExitCode(scrapeRefused(counts, submit), submit?.failed ?? 0);
    expect(code({ malformed: 0, invalid: 0 }, clean)).toBe(0);
    expect(code({ malformed: 0, invalid: 0 }, undefined)).toBe(0);
    expect(code({ malformed: 1, invalid: 0 }, undefined)).toBe(1);
    expect(code({ malformed: 0, invalid: 1 }, clean)).toBe(1);
    expect(code({ malformed: 0, invalid: 0 }, { ...clean, invalid: 1 })).toBe(1);
  });

  it("publishes the broker did not take exit 4 (the CronJob retries), also next to refused matches (exit 1: it does not)", () => {
    const clean = { submitted: 1, invalid: 0, failed: 0 };
    expect(publishExitCode(scrapeRefused({ malformed: 0, invalid: 0 }, { ...clean, failed: 1 }), 1)).toBe(4);
    expect(publishExitCode(scrapeRefused({ malformed: 2, invalid: 1 }, { ...clean, invalid: 1, failed: 3 }), 3)).toBe(4);
    expect(scrapeRefused({ malformed: 2, invalid: 1 }, { ...clean, invalid: 1 })).toBe(4);
  });

  it("a table with a header, scores and shootouts", () => {
    const text = renderTable([match({ match_status: "completed", home_score: 1, away_score: 1, home_penalty_score: 4, away_penalty_score: 3 })]);
    const lines = text.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^date\s+time\s+age\s+division\s+home\s+score\s+away\s+status\s+id$/);
    expect(lines[2]).toContain("1-1 (4-3 p)");
    expect(lines[2]).toContain("completed");
  });

  it("the table escapes control characters from the feed and fits wide names in their column", () => {
    const text = renderTable([
      match({ home_team: "Evil\u001b[2J FC", away_team: "東京ユナイテッド・アカデミー・ジュニアユース・チーム・ニ", external_match_id: "a" }),
      match({ external_match_id: "b" }),
    ]);
    expect(text).not.toContain("\u001b");
    expect(text).toContain("Evil\\x1b[2J FC");
    const lines = text.trimEnd().split("\n");
    // The status column starts at the same terminal cell on both rows (the wide name is cut to 40 cells).
    const wide = lines[2] as string;
    const plain = lines[3] as string;
    expect(cellsBefore(wide, "scheduled")).toBe(cellsBefore(plain, "scheduled"));
    expect(wide).toContain("~");
  });

  it("json is the --save document; ndjson is one match per line", () => {
    const r = result([match(), match({ external_match_id: "2" })]);
    expect(JSON.parse(renderMatches(r, "json"))).toEqual({ metadata: r.metadata, matches: r.matches, problems: [] });
    const lines = renderMatches(r, "ndjson").trimEnd().split("\n");
    expect(lines.map((l) => (JSON.parse(l) as MatchDataInput).external_match_id)).toEqual(["26030", "2"]);
    expect(renderMatches(result([]), "ndjson")).toBe("");
  });
});
