import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { MODULAR11_AGE_IDS, MODULAR11_GROUP_IDS, modular11PageUrl } from "../../src/sources/modular11/fetch.js";
import { parseLocalDateTime, parseModular11Page } from "../../src/sources/modular11/parse.js";

const page = (name: string) => readFileSync(new URL(`../fixtures/modular11/${name}`, import.meta.url), "utf8");
const ctx = { league: "Homegrown" as const, today: "2025-10-01", scrapedAt: "2025-10-01T06:00:00.000Z", groupNames: new Map([["41", "Northeast"]]) };

describe("modular11 fragment parsing", () => {
  it("reads every desktop row once (mobile twins ignored), skipping a broken row with its reason", () => {
    const result = parseModular11Page(page("page-u14-northeast-0.html"), ctx);
    expect(result.empty).toBe(false);
    expect(result.rows.map((r) => r.match.external_match_id)).toEqual(["99963", "99971", "100412"]);
    expect(result.problems.map((p) => p.where)).toEqual(["modular11 match 100500"]);
    expect(result.problems[0]!.reason).toMatch(/no date\/time/);
  });

  it("maps a played match: local date and time without a zone, venue, full team names, score", () => {
    const [played] = parseModular11Page(page("page-u14-northeast-0.html"), ctx).rows;
    expect(played!.match).toEqual({
      external_match_id: "99963",
      home_team: "Oakwood SC",
      away_team: "Intercontinental Football Academy of New England",
      match_date: "2025-09-06",
      match_time: "10:00",
      season: "2025-26",
      league: "Homegrown",
      age_group: "U14",
      match_type: "League",
      division: "Northeast",
      match_status: "completed",
      home_score: 4,
      away_score: 0,
      location: "Oakwood Park - Field 1",
      source: "mlsnext-modular11",
      scraped_at: "2025-10-01T06:00:00.000Z",
    });
    expect(played!.match.scheduled_kickoff).toBeUndefined();
  });

  it("TBD/VS: scheduled when ahead, tbd when past; <br>-separated and blank division columns", () => {
    const rows = parseModular11Page(page("page-u14-northeast-0.html"), ctx).rows;
    expect(rows[1]!.match).toMatchObject({ match_date: "2025-10-18", match_time: "13:30", match_status: "scheduled", division: "Northeast", home_team: "Beachside of Connecticut" });
    expect(rows[1]!.match.home_score).toBeUndefined();
    expect(rows[2]!.match).toMatchObject({ match_date: "2026-03-14", match_time: "12:00", division: "Northeast" });
    const later = parseModular11Page(page("page-u14-northeast-0.html"), { ...ctx, today: "2025-11-01" }).rows;
    expect(later[1]!.match.match_status).toBe("tbd");
  });

  it("`No data available.` is an empty page; anything else without rows is unreadable", () => {
    expect(parseModular11Page(page("page-empty.html"), ctx)).toEqual({ rows: [], problems: [], empty: true });
    expect(() => parseModular11Page(page("page-error.html"), ctx, "modular11 U14 Northeast page 0")).toThrow(/modular11 U14 Northeast page 0 is neither match rows/);
    expect(() => parseModular11Page(page("page-error.html"), ctx)).toThrow(expect.objectContaining({ code: "source_unreadable" }) as Error);
  });

  it("parses 12-hour times, including noon and midnight, and refuses impossible dates", () => {
    expect(parseLocalDateTime("09/06/25 10:00am")).toEqual({ date: "2025-09-06", time: "10:00" });
    expect(parseLocalDateTime("09/06/25 12:15pm")).toEqual({ date: "2025-09-06", time: "12:15" });
    expect(parseLocalDateTime("09/06/25 12:15am")).toEqual({ date: "2025-09-06", time: "00:15" });
    expect(parseLocalDateTime("02/30/26 10:00am")).toBeUndefined();
    expect(parseLocalDateTime("TBA")).toBeUndefined();
    expect(parseLocalDateTime("09/06/25 10:59am")).toEqual({ date: "2025-09-06", time: "10:59" });
    expect(parseLocalDateTime("09/06/25 10:60am")).toBeUndefined();
    expect(parseLocalDateTime("09/06/25 18:75")).toBeUndefined();
  });

  it("a row with an impossible time (10:60am) is a problem with its reason, not a match the contract refuses whole", () => {
    const result = parseModular11Page(page("page-u14-northeast-0.html").replace("09/06/25 10:00am", "09/06/25 10:60am"), ctx);
    expect(result.rows.map((r) => r.match.external_match_id)).toEqual(["99971", "100412"]);
    expect(result.problems).toEqual([
      { where: "modular11 match 99963", reason: 'skipped: impossible date or time in "09/06/25 10:60am Oakwood Park - Field 1"' },
      { where: "modular11 match 100500", reason: 'skipped: no date/time like MM/DD/YY hh:mmam in "TBA"' },
    ]);
  });

  it("builds the paged GET with the documented parameters and id tables", () => {
    expect(MODULAR11_AGE_IDS.U14).toBe(22);
    expect(MODULAR11_GROUP_IDS.Homegrown.Northeast).toBe(41);
    expect(MODULAR11_GROUP_IDS.Academy["New England"]).toBe(63);
    expect(modular11PageUrl("https://www.modular11.com/", { ageId: 22, groupId: 41, from: "2025-09-01", to: "2025-09-30", page: 2 })).toBe(
      "https://www.modular11.com/public_schedule/league/get_matches?tournament=12&age[]=22&groups[]=41&status=all&match_type=2" +
        "&start_date=2025-09-01%2000%3A00%3A00&end_date=2025-09-30%2023%3A59%3A59&open_page=2&academy=0&gender=0",
    );
  });
});
