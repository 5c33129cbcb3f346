import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { addDays, parseAgeGroups, parseSeason, resolveScrapeFlags, type ScrapeFlags } from "../../src/scraper/cli-options.js";

const config = loadConfig({ AGE_GROUP: "U14", DIVISION: "Northeast", LEAGUE: "Academy", ASSIST_BASE_URL: "http://mirror.test" });
const bare = loadConfig({});
const resolve = (flags: ScrapeFlags, cfg = bare, tty = false) => resolveScrapeFlags(flags, cfg, "2026-11-29", tty);
const usageError = (flags: ScrapeFlags, pattern: RegExp) => {
  let thrown: unknown;
  try {
    resolve(flags);
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toMatchObject({ code: "usage" });
  expect((thrown as Error).message).toMatch(pattern);
};

describe("scrape flags", () => {
  it("defaults come from the config; the season from today (seasons run August-July)", () => {
    const s = resolve({}, config);
    expect(s.options).toMatchObject({ source: "assist", league: "Academy", ageGroups: ["U14"], division: "Northeast", seasonFirstYear: 2026, assistBaseUrl: "http://mirror.test" });
    expect(resolveScrapeFlags({}, bare, "2027-07-31", false).options.seasonFirstYear).toBe(2026);
    expect(resolveScrapeFlags({}, bare, "2027-08-01", false).options.seasonFirstYear).toBe(2027);
    expect(s.submit).toBe(true);
  });

  it("without --season, the season the window ends in (today's was read: a window in 2025 found nothing)", () => {
    expect(resolve({ source: "modular11", from: "2025-09-01", to: "2025-12-31" }).options.seasonFirstYear).toBe(2025);
    expect(resolve({ source: "modular11", to: "2026-07-31" }).options.seasonFirstYear).toBe(2025);
    expect(resolve({ from: "2027-09-01", to: "2027-12-31" }).options.seasonFirstYear).toBe(2027);
    // A window across August 1st: the season of its end.
    expect(resolveScrapeFlags({ start: "-7", end: "0" }, bare, "2026-08-03", false).options.seasonFirstYear).toBe(2026);
    // Only a start: today's season, or the start's when it lies ahead.
    expect(resolve({ from: "2025-09-01" }).options.seasonFirstYear).toBe(2026);
    expect(resolve({ from: "2027-09-01" }).options.seasonFirstYear).toBe(2027);
    expect(resolve({ from: "2025-09-01", to: "2025-12-31", season: "2026" }).options.seasonFirstYear).toBe(2026);
  });

  it("a window that starts in an earlier season reads every season from its start's to its end's; a given --season is the only one", () => {
    const across = resolveScrapeFlags({ start: "-7", end: "0" }, bare, "2027-08-03", false).options;
    expect([across.fromSeasonFirstYear, across.seasonFirstYear]).toEqual([2026, 2027]);
    expect(resolveScrapeFlags({ from: "2026-09-01" }, bare, "2027-09-10", false).options).toMatchObject({ fromSeasonFirstYear: 2026, seasonFirstYear: 2027 });
    expect(resolve({ from: "2027-08-01", to: "2030-11-01" }).options).toMatchObject({ fromSeasonFirstYear: 2027, seasonFirstYear: 2030 });
    expect(resolve({ from: "2027-09-01", to: "2027-12-31" }).options.fromSeasonFirstYear).toBeUndefined();
    expect(resolve({ from: "2027-07-25", to: "2027-08-03", season: "2027" }).options.fromSeasonFirstYear).toBeUndefined();
    // The assist feeds begin with 2026-27 (earlier seasons are on Modular11): their first season is the oldest read.
    expect(resolveScrapeFlags({ start: "-7", end: "0" }, bare, "2026-08-03", false).options.fromSeasonFirstYear).toBeUndefined();
    const older = resolve({ from: "2023-08-01" }).options;
    expect([older.fromSeasonFirstYear, older.seasonFirstYear]).toEqual([undefined, 2026]);
    // Modular11 is asked for the date range: no bound on seasons.
    expect(resolve({ source: "modular11", from: "2019-09-01", to: "2025-06-01" }).options).toMatchObject({ fromSeasonFirstYear: 2019, seasonFirstYear: 2024 });
  });

  it.each([
    [{ ageGroup: "" }, /--age-group was given an empty value/],
    [{ ageGroup: " , " }, /--age-group was given an empty value/],
    [{ division: " " }, /--division was given an empty value/],
    [{ conference: "" }, /--conference was given an empty value/],
    [{ club: "" }, /--club was given an empty value: leave the flag out to take them all/],
  ])("an empty selection %j is a usage error (`--club \"$CLUB\"` with CLUB unset took every club)", (flags, pattern) => {
    usageError(flags, pattern);
  });

  it("flags override the config; --conference is --division; age groups as a comma list", () => {
    const s = resolve({ league: "flex", ageGroup: "u14, U15,u14", conference: "Florida", club: " Bayside ", season: "2027", submit: false }, config);
    expect(s.options).toMatchObject({ league: "Flex", ageGroups: ["U14", "U15"], division: "Florida", club: "Bayside", seasonFirstYear: 2027 });
    expect(s.submit).toBe(false);
    expect(parseSeason("2026-27")).toBe(2026);
    expect(parseAgeGroups("U19")).toEqual(["U19"]);
  });

  it("--start/--end are day offsets from today; --from/--to are dates", () => {
    expect(resolve({ start: "-7", end: "0" }).options).toMatchObject({ from: "2026-11-22", to: "2026-11-29" });
    expect(resolve({ from: "2026-09-01", to: "2026-09-30" }).options).toMatchObject({ from: "2026-09-01", to: "2026-09-30" });
    expect(addDays("2026-12-30", 3)).toBe("2027-01-02");
  });

  it("--source-dir means a file:// base URL", () => {
    expect(resolve({ sourceDir: "/srv/feeds" }).options.assistBaseUrl).toBe("file:///srv/feeds");
  });

  it("--source-dir works with the assist source only (modular11 would go online)", () => {
    usageError({ source: "modular11", sourceDir: "samples/mlsnext" }, /^--source-dir reads recorded assist feeds only: it cannot be used with --source modular11/);
    expect(() => resolveScrapeFlags({ sourceDir: "samples/mlsnext" }, loadConfig({ SCRAPE_SOURCE: "modular11" }), "2026-11-29", false)).toThrow(/cannot be used with SCRAPE_SOURCE=modular11/);
    expect(resolve({ source: "assist", sourceDir: "samples/mlsnext" }).options.source).toBe("assist");
  });

  it("format: table on a terminal, json otherwise, or as asked", () => {
    expect(resolve({}, bare, true).format).toBe("table");
    expect(resolve({}, bare, false).format).toBe("json");
    expect(resolve({ format: "ndjson" }, bare, true).format).toBe("ndjson");
  });

  it("bad values are usage errors naming the flag", () => {
    usageError({ league: "Premier" }, /--league "Premier" is not one of Homegrown, Academy, Flex/);
    usageError({ ageGroup: "14" }, /--age-group "14"/);
    usageError({ from: "2026-02-30" }, /--from "2026-02-30" is not a date/);
    usageError({ start: "last week" }, /--start "last week" is not a whole number of days/);
    usageError({ start: "99999" }, /--start "99999" is out of range: days from today go from -9999 to 9999/);
    usageError({ end: "-10000" }, /--end "-10000" is out of range/);
    usageError({ from: "2026-10-01", start: "-3" }, /--from or --start/);
    usageError({ from: "2026-10-02", to: "2026-10-01" }, /window is empty/);
    usageError({ season: "26" }, /--season "26"/);
    // The feeds name seasons by two-digit years: 1800 would read 2000's.
    usageError({ season: "1800" }, /--season "1800" is out of range: the feeds name seasons 2000-01 to 2099-00 only/);
    usageError({ season: "2100-01" }, /out of range/);
    // Each season's assist feed is held at once; and a window in 1999 would read 2099's feed.
    usageError({ from: "2026-09-01", to: "2030-09-01" }, /the window from 2026-09-01 reaches over 5 seasons; one scrape reads at most 4 .*split the window, or give --season for each/);
    usageError({ source: "modular11", from: "1999-09-01", to: "2000-09-01" }, /the window reaches season 1999-00: out of range, the feeds name seasons 2000-01 to 2099-00 only/);
    usageError({ season: "2025" }, /^--season 2025-26 is older than the assist feeds \(from 2026-27 on\): read it with --source modular11$/);
    usageError({ to: "2026-07-31" }, /^the window, which ends in season 2025-26, is older than the assist feeds/);
    usageError({ from: "2100-09-01", to: "2100-10-01" }, /the window reaches season 2100-01: out of range/);
    usageError({ source: "web" }, /--source "web"/);
    usageError({ limit: "-1" }, /--limit "-1"/);
    usageError({ limit: "0" }, /--limit must be at least 1 \(leave it out for every match\)/);
    usageError({ format: "xml" }, /--format "xml"/);
    usageError({ division: "Florida", conference: "Texas" }, /same filter/);
    usageError({ quiet: true, verbose: true }, /contradict/);
  });

  it("an empty --save or --source-dir (a shell variable left unset) is a usage error, not no file saved or the current directory read", () => {
    usageError({ save: "" }, /^--save was given an empty path$/);
    usageError({ save: "  " }, /^--save was given an empty path$/);
    usageError({ sourceDir: "" }, /^--source-dir was given an empty path$/);
  });
});
