import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseFeedInstant } from "../../src/sources/assist/instant.js";
import { fastEvent, MAX_LISTED_PROBLEMS, parseStandings, readSchedule, readStandings, zodEvent } from "../../src/sources/assist/parse.js";
import { NotJsonError, TruncatedJsonError } from "../../src/sources/json-stream.js";
import { MAX_STANDINGS_CHARS, TooLargeError } from "../../src/sources/limits.js";
import { bracket, rawEvent, scheduleDoc, standingsDoc, type RawEvent } from "../fixtures/assist-builders.js";

const fixtureText = (name: string): string => readFileSync(new URL(`../fixtures/mlsnext-assist/${name}`, import.meta.url), "utf8");
const fixture = (name: string): unknown => JSON.parse(fixtureText(name));
/** The schedule reader over a document's JSON text (whole: chunking has its own tests). */
const parseSchedule = (doc: unknown, what: string) => readSchedule([typeof doc === "string" ? doc : JSON.stringify(doc)], what);

describe("feed instants", () => {
  it("a start_time or synced_at without a zone is UTC, whatever the host's time zone (Date.parse would read it as local time)", async () => {
    const tz = process.env.TZ;
    process.env.TZ = "America/New_York";
    try {
      expect(new Date(parseFeedInstant("2026-09-05T13:00:00")).toISOString()).toBe("2026-09-05T13:00:00.000Z");
      expect(new Date(parseFeedInstant("2026-09-05 13:00")).toISOString()).toBe("2026-09-05T13:00:00.000Z");
      expect(new Date(parseFeedInstant("2026-09-05T13:00:00-04:00")).toISOString()).toBe("2026-09-05T17:00:00.000Z");
      expect(fastEvent(rawEvent({ start_time: "2026-09-05T13:00:00" }))?.startMs).toBe(Date.parse("2026-09-05T13:00:00Z"));
      const doc = await parseSchedule({ synced_at: "2026-08-24T11:50:08", events: [] }, "k");
      expect(doc.syncedAt).toBe("2026-08-24T11:50:08.000Z");
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
  });
});

describe("feed instants: ISO 8601 only, each part checked", () => {
  it("reads the forms an ISO instant takes: seconds and fractions optional, Z, offsets, or no zone (UTC)", () => {
    const iso = (text: string) => new Date(parseFeedInstant(text)).toISOString();
    expect(iso("2026-09-05T13:00:00Z")).toBe("2026-09-05T13:00:00.000Z");
    expect(iso("2026-09-05T13:00Z")).toBe("2026-09-05T13:00:00.000Z");
    expect(iso("2026-09-05T13:00:00.123456Z")).toBe("2026-09-05T13:00:00.123Z");
    expect(iso("2026-09-05T09:00:00-0400")).toBe("2026-09-05T13:00:00.000Z");
    expect(iso("2026-09-05T18:30:00+05:30")).toBe("2026-09-05T13:00:00.000Z");
    expect(iso("2026-09-05t13:00:00z")).toBe("2026-09-05T13:00:00.000Z");
    expect(iso("2028-02-29T13:00:00Z")).toBe("2028-02-29T13:00:00.000Z");
  });

  it("refuses what Date.parse guessed at: other formats, and dates or times that do not exist (it rolled them over)", () => {
    for (const text of ["5 September", "2026-09-05", "Sat, 05 Sep 2026 13:00:00 GMT", "2026-9-5T13:00:00Z", "2026-02-30T13:00:00Z", "2027-02-29T13:00:00Z", "2026-13-01T13:00:00Z", "2026-09-05T24:00:00Z", "2026-09-05T13:60:00Z", "2026-09-05T13:00:00+24:00"]) {
      expect([text, parseFeedInstant(text)]).toEqual([text, NaN]);
    }
  });

  it("an event whose start_time is not an instant is malformed, with the reason", async () => {
    const doc = await parseSchedule(scheduleDoc([rawEvent({ id: 1, game_key: "7", start_time: "5 September" }), rawEvent({ id: 2, game_key: "8", start_time: "2026-02-30T13:00:00Z" }), rawEvent({ game_key: "9" })]), "k");
    expect([...doc.events].map((e) => e.gameKey)).toEqual(["9"]);
    expect(doc.problems).toEqual([
      { where: "event 1 (game 7)", reason: 'skipped: start_time is not an ISO 8601 instant like 2026-09-05T13:00:00Z (got "5 September")' },
      { where: "event 2 (game 8)", reason: 'skipped: start_time has no such date (got "2026-02-30T13:00:00Z")' },
    ]);
  });
});

describe("readSchedule", () => {
  it("reads the recorded league schedule: every event, synced_at, fields mapped", async () => {
    const doc = await parseSchedule(fixtureText("schedule-league-26-27.json"), "mls-next-league-26-27");
    expect(doc.problems).toEqual([]);
    expect(doc.syncedAt).toBe("2026-08-24T11:50:08Z");
    expect([...doc.events].map((e) => e.gameKey)).toEqual(["26030", "26099", "26029", "27001"]);
    const played = doc.events.get(1);
    expect(played).toMatchObject({ homeClub: "Athletum FC Academy", awayClub: "South Florida Football Academy", homeScore: 3, awayScore: 1, completed: true, competition: "League", location: "Loggers Run Park - Field # 2", homeSquadId: 5946, awaySquadId: 5748, squadAgeGroup: "U14" });
    // Fields absent from an event (penalties here) are simply undefined.
    expect(played.homePenalties).toBeUndefined();
  });

  it("counts and reports one malformed event (no club name) without sinking the rest", async () => {
    const bad = rawEvent({ id: 42, game_key: "999", away_organisation: { id: 1 } });
    const doc = await parseSchedule(scheduleDoc([rawEvent(), bad, rawEvent()]), "k");
    expect(doc.events).toHaveLength(2);
    expect(doc.problems).toHaveLength(1);
    expect(doc.problems[0]!.where).toBe("event 42 (game 999)");
    expect(doc.problems[0]!.reason).toMatch(/away_organisation\.name is missing/);
  });

  it("counts every malformed event but lists only the first MAX_LISTED_PROBLEMS, then how many more", async () => {
    const events = [rawEvent(), ...Array.from({ length: MAX_LISTED_PROBLEMS + 5 }, (_, i) => rawEvent({ id: i, game_key: "" })), rawEvent({ game_key: "2" })];
    const doc = await parseSchedule(scheduleDoc(events), "schedule k");
    expect(doc.events).toHaveLength(2);
    expect(doc.malformed).toBe(MAX_LISTED_PROBLEMS + 5);
    expect(doc.problems).toHaveLength(MAX_LISTED_PROBLEMS + 1);
    expect(doc.problems[MAX_LISTED_PROBLEMS - 1]!.where).toBe(`event ${MAX_LISTED_PROBLEMS - 1} (game )`);
    expect(doc.problems.at(-1)).toEqual({ where: "schedule k", reason: `5 more malformed event(s) skipped, not listed (the first ${MAX_LISTED_PROBLEMS} are)` });
    const few = await parseSchedule(scheduleDoc([rawEvent({ game_key: "" })]), "k");
    expect([few.malformed, few.problems.length]).toEqual([1, 1]);
  });

  it("reports events that are not objects, have no game key or an unparseable start", async () => {
    const doc = await parseSchedule(scheduleDoc([null as unknown as RawEvent, rawEvent({ game_key: "" }), rawEvent({ start_time: "soon" }), rawEvent({ home_score: -1 })]), "k");
    expect([...doc.events]).toEqual([]);
    expect(doc.problems.map((p) => p.where)).toEqual(["event #0", expect.stringMatching(/^event \d+ \(game \)$/), expect.stringMatching(/^event \d+/), expect.stringMatching(/^event \d+/)]);
    expect(doc.problems[2]!.reason).toMatch(/start_time/);
    expect(doc.problems[3]!.reason).toMatch(/home_score/);
  });

  it("says what is wrong with a present but bad value, not that it is missing", async () => {
    const doc = await parseSchedule(scheduleDoc([rawEvent({ home_score: "abc" }), rawEvent({ away_score: -3 }), rawEvent({ completed: "yes" })]), "k");
    expect(doc.problems.map((p) => p.reason)).toEqual([
      'skipped: home_score is not a number (got "abc")',
      "skipped: away_score must be >=0 (got -3)",
      'skipped: completed is not true or false (got "yes")',
    ]);
  });

  it("ignores unknown extra fields", async () => {
    const doc = await parseSchedule(scheduleDoc([rawEvent({ broadcast: { provider: "x" }, weather: "rain", home_organisation: { id: 1, name: "A", colour: "red" } })]), "k");
    expect(doc.problems).toEqual([]);
    expect(doc.events.get(0).homeClub).toBe("A");
    expect(Object.keys(doc.events.get(0))).not.toContain("broadcast");
  });

  it("accepts the tolerant shapes zod allows: numeric game key, string squad ids, missing zone", async () => {
    const doc = await parseSchedule(scheduleDoc([rawEvent({ game_key: 123, home_squad_id: "5748", local_timezone: undefined })]), "k");
    expect(doc.problems).toEqual([]);
    expect(doc.events.get(0)).toMatchObject({ gameKey: "123", homeSquadId: 5748, timezone: undefined });
  });

  it("the fast path returns exactly what zod returns whenever it accepts", () => {
    const variants = [
      rawEvent(),
      rawEvent({ home_score: 2, away_score: 2, home_penalty_shootout_score: 4, away_penalty_shootout_score: 3, completed: true }),
      rawEvent({ local_timezone: null, competition: null, event_location: null, completed: null }),
      rawEvent({ home_organisation: { name: "  Padded FC  " }, home_squad_name: "  ", id: "abc" }),
    ];
    for (const v of variants) {
      const fast = fastEvent(v);
      expect(fast).toBeDefined();
      expect(fast).toEqual(zodEvent(v));
    }
    // ...and defers to zod (returns undefined) on shapes outside its subset.
    expect(fastEvent(rawEvent({ game_key: 5 }))).toBeUndefined();
    expect(fastEvent(rawEvent({ away_organisation: {} }))).toBeUndefined();
  });

  it("an HTML page or a document without events is unreadable as a whole, naming the key", async () => {
    await expect(parseSchedule({ hello: 1 }, "schedule mls-next-league-26-27")).rejects.toThrow(/^schedule mls-next-league-26-27 has no "events" list/);
    await expect(parseSchedule([], "k")).rejects.toThrow(expect.objectContaining({ code: "source_unreadable", kind: "permanent" }));
  });
});

describe("parseStandings", () => {
  it("reads brackets with their squad ids from the recorded standings", () => {
    const doc = parseStandings(fixture("standings-league-26-27.json"), "k");
    expect(doc.problems).toEqual([]);
    expect(doc.brackets).toEqual([
      { id: "69", name: "Florida", ageGroup: "U14", squadIds: [5946, 5748] },
      { id: "68", name: "Florida", ageGroup: "U13", squadIds: [5945, 5747] },
      { id: "41", name: "Northeast", ageGroup: "U14", squadIds: [6001, 6002] },
    ]);
  });

  it("reads the wide, academy and flex standings (tiebreakers, logos and other fields ignored)", () => {
    for (const name of ["standings-league-26-27-wide.json", "standings-academy-26-27.json", "standings-flex-26-27.json"]) {
      const doc = parseStandings(fixture(name), name);
      expect(doc.problems).toEqual([]);
      expect(doc.brackets.length).toBeGreaterThan(1);
      for (const b of doc.brackets) expect(b.squadIds.length).toBeGreaterThan(0);
    }
  });

  it("skips brackets missing a name, an age group or squad ids, and says why", () => {
    const doc = parseStandings(
      standingsDoc([
        bracket(1, "Northeast", "U14", [1, 2]),
        { ...bracket(2, "", "U14", [3]) },
        { id: 3, name: "Florida", standings: [{ team: { squad_id: 4 } }] },
        bracket(4, "Texas", "U15", []),
        { id: 5, name: "Texas", age_group: { name: "U16" }, standings: [{ team: { name: "no squad id" } }] },
      ]),
      "k",
    );
    expect(doc.brackets.map((b) => b.id)).toEqual(["1"]);
    expect(doc.problems.map((p) => p.where)).toEqual(["bracket 2", "bracket 3", "bracket 4", "bracket 5"]);
    expect(doc.problems[0]!.reason).toMatch(/name must not be empty/);
    expect(doc.problems[1]!.reason).toMatch(/age_group is missing/);
    expect(doc.problems[2]!.reason).toMatch(/no squad ids/);
  });

  it("a document without brackets is unreadable", () => {
    expect(() => parseStandings({ competition_season: {} }, "standings mls-next-flex-26-27")).toThrow(/^standings mls-next-flex-26-27 has no/);
  });
});

describe("readStandings (the text)", () => {
  const text = fixtureText("standings-league-26-27.json");

  it("a document cut off mid-way is truncated JSON (downloaded again, as a cut-off schedule is), not merely not JSON", async () => {
    for (const cut of [text.slice(0, 600), text.slice(0, text.lastIndexOf("}")), "{", '{"competition_season": {"name": "Lea']) {
      await expect(readStandings([cut], "standings k")).rejects.toBeInstanceOf(TruncatedJsonError);
    }
  });

  it("an HTML page, an empty body or corrupt JSON is not JSON, and not called truncated", async () => {
    for (const bad of ["<!doctype html><html></html>", "", "  \n", `${text}x`, text.replace('"name"', "name")]) {
      const err = await readStandings([bad], "standings k").then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(NotJsonError);
      expect(err).not.toBeInstanceOf(TruncatedJsonError);
    }
  });

  it(`a document over ${MAX_STANDINGS_CHARS / 1024 / 1024} MiB is refused before it is parsed`, async () => {
    const huge = JSON.stringify(standingsDoc([bracket(1, "Northeast", "U14", [1, 2])])).replace('"name"', `"padding":"${"x".repeat(MAX_STANDINGS_CHARS)}","name"`);
    await expect(readStandings([huge], "standings k")).rejects.toThrow(TooLargeError);
  });
});
