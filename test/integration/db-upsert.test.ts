import { describe, expect, it } from "vitest";
import type { MatchData } from "../../src/contract/index.js";
import type { Database } from "../../src/db/database.js";
import { countMatches, getMatchByExternalId, latestResults } from "../../src/db/queries.js";
import { createNameResolver, resolveInTransaction, type NameResolver } from "../../src/db/resolve.js";
import { upsertMatches, type UpsertItem, type UpsertResult } from "../../src/db/upsert.js";
import { BACKENDS, makeMatch, useBackend } from "./db-backends.js";

let taskCounter = 0;

function item(match: MatchData, observedAt = match.scraped_at ?? "2026-10-01T12:00:00Z", raw: unknown = match): UpsertItem {
  taskCounter += 1;
  return { match, raw, taskId: `task-${taskCounter}`, observedAt };
}

/** Every order of `xs`. */
function permutations<T>(xs: readonly T[]): T[][] {
  if (xs.length <= 1) return [[...xs]];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((rest) => [x, ...rest]));
}

async function store(db: Database, items: UpsertItem[], resolver: NameResolver = createNameResolver({ mode: "create" })): Promise<UpsertResult[]> {
  return resolveInTransaction(db, resolver, async (tx, resolve) => upsertMatches(tx, items, await resolve(items.map((i) => i.match))));
}

async function storeOne(db: Database, match: MatchData, observedAt?: string): Promise<UpsertResult> {
  const [r] = await store(db, [item(match, observedAt)]);
  if (!r) throw new Error("no result");
  return r;
}

async function updatedAt(db: Database, externalId: string): Promise<string> {
  const { rows } = await db.query<{ t: string }>("SELECT updated_at::text AS t FROM matches WHERE external_match_id = $1", [externalId]);
  return rows[0]?.t ?? "";
}

describe.each(BACKENDS)("upsertMatches on %s", (kind) => {
  const backend = useBackend(kind);

  it("reports created, then unchanged for identical data (no write), then updated", async () => {
    const { db } = backend();
    const m = makeMatch({ scheduled_kickoff: "2026-10-03T09:00:00-04:00", match_time: "09:00", location: "Field 1" });
    const created = await storeOne(db, m);
    expect(created).toMatchObject({ outcome: "created" });
    const id = (created as { matchId: number }).matchId;
    const stamp = await updatedAt(db, m.external_match_id);

    expect(await storeOne(db, m, "2026-10-02T12:00:00Z")).toEqual({ outcome: "unchanged", matchId: id, reason: "same" });
    expect(await updatedAt(db, m.external_match_id)).toBe(stamp);

    const result = { ...m, home_score: 2, away_score: 1, match_status: "completed" as const, scraped_at: "2026-10-03T14:00:00Z" };
    expect(await storeOne(db, result)).toEqual({ outcome: "updated", matchId: id });
    const row = await getMatchByExternalId(db, m.external_match_id);
    expect(row).toMatchObject({
      id,
      homeTeam: "Alpha FC",
      awayTeam: "Beta SC",
      homeScore: 2,
      awayScore: 1,
      matchStatus: "completed",
      matchDate: "2026-10-03",
      scheduledKickoff: "2026-10-03T13:00:00.000Z",
      matchTime: "09:00",
      division: "Northeast",
      season: "2026-27",
      observedAt: "2026-10-03T14:00:00.000Z",
      statusSetBy: "scraper",
    });
    expect(await countMatches(db)).toBe(1);
  });

  it("stores the match exactly as received, unknown fields included", async () => {
    const { db } = backend();
    const m = makeMatch();
    const raw = { ...m, venue_surface: "turf", nested: { a: [1, 2] } };
    const [r] = await store(db, [item(m, undefined, raw)]);
    expect(r).toMatchObject({ outcome: "created" });
    expect((await getMatchByExternalId(db, m.external_match_id))?.raw).toEqual(raw);
  });

  it("stores text exactly, whatever characters it holds", async () => {
    const { db } = backend();
    // Each of these means something in an array literal or in SQL; none may change the row.
    const awkward = ['quote " and \\ backslash', "{braces}, commas", "NULL", "", "  padded  ", "line\nbreak\ttab", "'; DROP TABLE matches; --", "Zürich 東京 ⚽"];
    const matches = awkward.map((text, i) => makeMatch({ home_team: `Team ${i}`, location: text, notes: `${text}!`, source: text.slice(0, 100) }));
    const results = await store(db, matches.map((m) => item(m)));
    expect(results.map((r) => (r instanceof Error ? r.message : r.outcome))).toEqual(awkward.map(() => "created"));
    for (const [i, m] of matches.entries()) {
      const { rows } = await db.query<{ location: string | null; notes: string | null; source: string | null }>(
        "SELECT location, notes, source FROM matches WHERE external_match_id = $1",
        [m.external_match_id],
      );
      expect(rows[0]).toEqual({ location: awkward[i], notes: `${awkward[i]}!`, source: awkward[i] });
    }
    expect(await countMatches(db)).toBe(awkward.length);
  });

  it("ignores an observation older than the stored one", async () => {
    const { db } = backend();
    const m = makeMatch();
    await storeOne(db, { ...m, home_score: 2, away_score: 1, match_status: "completed" }, "2026-10-03T14:00:00Z");
    const stale = await storeOne(db, { ...m, home_score: 0, away_score: 0, match_status: "completed" }, "2026-10-03T13:59:59Z");
    expect(stale).toMatchObject({ outcome: "unchanged", reason: "stale" });
    expect(await getMatchByExternalId(db, m.external_match_id)).toMatchObject({ homeScore: 2, awayScore: 1 });
  });

  it("a newer identical observation moves observed_at on (nothing else), so an older one delivered after it (a retry, a requeue) changes nothing", async () => {
    const { db } = backend();
    const m = makeMatch();
    const first = await storeOne(db, m, "2026-10-01T06:00:00Z");
    const stamp = await updatedAt(db, m.external_match_id);
    const { rows: before } = await db.query<{ last_task_id: string; raw: unknown }>("SELECT last_task_id, raw FROM matches WHERE external_match_id = $1", [m.external_match_id]);
    // The newest observation says what the row says already.
    expect(await storeOne(db, m, "2026-10-03T06:00:00Z")).toEqual({ outcome: "unchanged", matchId: (first as { matchId: number }).matchId, reason: "same" });
    const { rows: after } = await db.query<{ last_task_id: string; raw: unknown }>("SELECT last_task_id, raw FROM matches WHERE external_match_id = $1", [m.external_match_id]);
    expect(after).toEqual(before);
    expect(await updatedAt(db, m.external_match_id)).toBe(stamp);
    expect(await getMatchByExternalId(db, m.external_match_id)).toMatchObject({ observedAt: "2026-10-03T06:00:00.000Z" });
    // An observation from between the two, delivered last: it is older than what the row holds.
    const late = await storeOne(db, { ...m, match_status: "postponed" }, "2026-10-02T06:00:00Z");
    expect(late).toMatchObject({ outcome: "unchanged", reason: "stale" });
    expect(await getMatchByExternalId(db, m.external_match_id)).toMatchObject({ matchStatus: m.match_status ?? "scheduled" });
  });

  it("never changes a score_locked row", async () => {
    const { db } = backend();
    const m = makeMatch();
    await storeOne(db, { ...m, home_score: 3, away_score: 3, home_penalty_score: 4, away_penalty_score: 2, match_status: "completed" });
    await db.query("UPDATE matches SET score_locked = true WHERE external_match_id = $1", [m.external_match_id]);
    const stamp = await updatedAt(db, m.external_match_id);
    const r = await storeOne(db, { ...m, home_score: 0, away_score: 1, match_status: "completed", location: "Elsewhere" }, "2026-12-01T00:00:00Z");
    expect(r).toMatchObject({ outcome: "unchanged", reason: "locked" });
    expect(await getMatchByExternalId(db, m.external_match_id)).toMatchObject({ homeScore: 3, awayScore: 3, homePenaltyScore: 4, location: null });
    expect(await updatedAt(db, m.external_match_id)).toBe(stamp);
  });

  it("a manual postponed status survives a re-scrape without a score, and yields to a score", async () => {
    const { db } = backend();
    const m = makeMatch();
    await storeOne(db, m, "2026-10-01T00:00:00Z");
    await db.query("UPDATE matches SET match_status = 'postponed', status_set_by = 'manual' WHERE external_match_id = $1", [m.external_match_id]);

    expect(await storeOne(db, m, "2026-10-02T00:00:00Z")).toMatchObject({ outcome: "unchanged", reason: "manual_status" });
    // Other facts still update; the person's status stays.
    expect(await storeOne(db, { ...m, location: "Field 9" }, "2026-10-02T01:00:00Z")).toMatchObject({ outcome: "updated" });
    expect(await getMatchByExternalId(db, m.external_match_id)).toMatchObject({ matchStatus: "postponed", statusSetBy: "manual", location: "Field 9" });

    const played = { ...m, location: "Field 9", home_score: 1, away_score: 0, match_status: "completed" as const };
    expect(await storeOne(db, played, "2026-10-04T00:00:00Z")).toMatchObject({ outcome: "updated" });
    expect(await getMatchByExternalId(db, m.external_match_id)).toMatchObject({ matchStatus: "completed", statusSetBy: "scraper", homeScore: 1 });
  });

  it("a manual cancelled status yields to a new date", async () => {
    const { db } = backend();
    const m = makeMatch();
    await storeOne(db, m, "2026-10-01T00:00:00Z");
    await db.query("UPDATE matches SET match_status = 'cancelled', status_set_by = 'manual' WHERE external_match_id = $1", [m.external_match_id]);
    expect(await storeOne(db, m, "2026-10-02T00:00:00Z")).toMatchObject({ outcome: "unchanged", reason: "manual_status" });
    expect(await storeOne(db, { ...m, match_date: "2026-10-17" }, "2026-10-03T00:00:00Z")).toMatchObject({ outcome: "updated" });
    expect(await getMatchByExternalId(db, m.external_match_id)).toMatchObject({ matchStatus: "scheduled", statusSetBy: "scraper", matchDate: "2026-10-17" });
  });

  it("a result survives a newer observation without a score that says only scheduled or tbd on the same date; a new date, a cancellation or another score apply", async () => {
    const { db } = backend();
    const m = makeMatch({ location: "Field 1" });
    const played = { ...m, home_score: 2, away_score: 2, home_penalty_score: 5, away_penalty_score: 4, match_status: "completed" as const };
    await storeOne(db, played, "2026-10-04T00:00:00Z");

    // The feed drops the score (a partial sync): the result stays, the rest of the news applies.
    expect(await storeOne(db, { ...m, match_status: "tbd" }, "2026-10-05T00:00:00Z")).toMatchObject({ outcome: "unchanged", reason: "kept_result" });
    expect(await storeOne(db, { ...m, match_status: "scheduled", location: "Field 2" }, "2026-10-06T00:00:00Z")).toMatchObject({ outcome: "updated" });
    expect(await getMatchByExternalId(db, m.external_match_id)).toMatchObject({ matchStatus: "completed", homeScore: 2, awayScore: 2, homePenaltyScore: 5, awayPenaltyScore: 4, location: "Field 2" });

    // A corrected score applies.
    expect(await storeOne(db, { ...played, home_score: 3, away_score: 2, home_penalty_score: null, away_penalty_score: null, location: "Field 2" }, "2026-10-07T00:00:00Z")).toMatchObject({ outcome: "updated" });
    expect(await getMatchByExternalId(db, m.external_match_id)).toMatchObject({ homeScore: 3, awayScore: 2, homePenaltyScore: null });

    // A replay on a new date applies, without the old result.
    expect(await storeOne(db, { ...m, match_date: "2026-10-24", match_status: "scheduled" }, "2026-10-08T00:00:00Z")).toMatchObject({ outcome: "updated" });
    expect(await getMatchByExternalId(db, m.external_match_id)).toMatchObject({ matchStatus: "scheduled", homeScore: null, matchDate: "2026-10-24" });

    // A cancellation applies too.
    const other = makeMatch({ external_match_id: "cancelled-after-result" });
    await storeOne(db, { ...other, home_score: 1, away_score: 0, match_status: "completed" }, "2026-10-04T00:00:00Z");
    expect(await storeOne(db, { ...other, match_status: "cancelled" }, "2026-10-05T00:00:00Z")).toMatchObject({ outcome: "updated" });
    expect(await getMatchByExternalId(db, other.external_match_id)).toMatchObject({ matchStatus: "cancelled", homeScore: null });
  });

  it("writes duplicate ids in one batch once, with the newest observation", async () => {
    const { db } = backend();
    const m = makeMatch();
    const newest = item({ ...m, home_score: 2, away_score: 1, match_status: "completed" }, "2026-10-03T16:00:00Z");
    const results = await store(db, [
      item({ ...m, home_score: 1, away_score: 1, match_status: "completed" }, "2026-10-03T15:00:00Z"),
      newest,
      { ...newest }, // delivered twice: the later delivery is the one written
    ]);
    const id = (results[1] as { matchId: number }).matchId;
    expect(results).toEqual([
      { outcome: "unchanged", matchId: id, reason: "stale" },
      { outcome: "unchanged", matchId: id, reason: "same" },
      { outcome: "created", matchId: id },
    ]);
    expect(await getMatchByExternalId(db, m.external_match_id)).toMatchObject({ homeScore: 2, awayScore: 1 });
    expect(await countMatches(db)).toBe(1);
  });

  it("in one batch, tells observations a few microseconds apart (Python's isoformat) as PostgreSQL does: the newest wins wherever it stands", async () => {
    const { db } = backend();
    const m = makeMatch();
    // Both in one millisecond: newest first, then the older one (a redelivery behind a newer scrape).
    const results = await store(db, [
      item({ ...m, home_score: 2, away_score: 1, match_status: "completed" }, "2026-10-03T16:00:00.000900+00:00"),
      item({ ...m, home_score: 1, away_score: 1, match_status: "completed" }, "2026-10-03T16:00:00.000100+00:00"),
    ]);
    const id = (results[0] as { matchId: number }).matchId;
    expect(results).toEqual([
      { outcome: "created", matchId: id },
      { outcome: "unchanged", matchId: id, reason: "stale" },
    ]);
    expect(await getMatchByExternalId(db, m.external_match_id)).toMatchObject({ homeScore: 2, awayScore: 1 });
    // And across batches the stored row keeps the newer one, as before.
    expect(await storeOne(db, { ...m, home_score: 1, away_score: 1 }, "2026-10-03T16:00:00.000899Z")).toMatchObject({ outcome: "unchanged", reason: "stale" });
  });

  it("observations of one instant that disagree leave the row with the greatest task id's, in every order, one by one or in one batch", async () => {
    const { db } = backend();
    const at = "2026-10-03T16:00:00.123456Z";
    const scored = { home_score: 2, away_score: 1, match_status: "completed" as const };
    const level = { home_score: 1, away_score: 1, match_status: "completed" as const };
    // Task ids compare byte by byte: "task-10" < "task-1Z" < "task-9".
    const observations = [
      { taskId: "task-10", data: scored },
      { taskId: "task-9", data: scored }, // the greatest key: its data must be the row's
      { taskId: "task-1Z", data: level },
    ];
    for (const order of permutations(observations)) {
      const m = makeMatch();
      const items = order.map((o) => ({ match: { ...m, ...o.data }, raw: { ...m, ...o.data }, taskId: o.taskId, observedAt: at }));
      const oneByOne = [];
      for (const it of items) oneByOne.push((await store(db, [it]))[0]);
      expect(await getMatchByExternalId(db, m.external_match_id), order.map((o) => o.taskId).join(" ")).toMatchObject({ homeScore: 2, awayScore: 1 });
      // Whatever came after the greatest key changed nothing: it is older.
      const greatest = order.findIndex((o) => o.taskId === "task-9");
      for (const later of oneByOne.slice(greatest + 1)) expect(later).toMatchObject({ outcome: "unchanged", reason: "stale" });

      const batched = makeMatch();
      const results = await store(db, items.map((it) => ({ ...it, match: { ...it.match, external_match_id: batched.external_match_id }, raw: { ...(it.raw as object), external_match_id: batched.external_match_id } })));
      expect(await getMatchByExternalId(db, batched.external_match_id)).toMatchObject({ homeScore: 2, awayScore: 1 });
      expect(results[greatest]).toMatchObject({ outcome: "created" });
      expect(results.filter((_, i) => i !== greatest)).toEqual([expect.objectContaining({ reason: "stale" }), expect.objectContaining({ reason: "stale" })]);
    }
    // The row keeps the winning observation's task as its key, and the task that last changed its data.
    const { rows } = await db.query<{ observed_task_id: string }>("SELECT DISTINCT observed_task_id FROM matches");
    expect(rows).toEqual([{ observed_task_id: "task-9" }]);
  });

  it("a redelivery of the observation a row holds still applies what its names now resolve to", async () => {
    const { db } = backend();
    const m = makeMatch({ home_team: "Gamma Utd" });
    const delivery = { match: m, raw: m, taskId: "task-redelivered", observedAt: "2026-10-03T16:00:00Z" };
    const [created] = await store(db, [delivery]);
    // Between the two deliveries an operator says "Gamma Utd" is Alpha FC's other name.
    await storeOne(db, makeMatch({ away_team: "Delta FC" }));
    const { rows } = await db.query<{ league_id: number; id: number }>("SELECT league_id, id FROM teams WHERE name = 'Alpha FC'");
    await db.query("INSERT INTO team_aliases (league_id, alias, team_id) VALUES ($1, 'Gamma Utd', $2)", [rows[0]?.league_id, rows[0]?.id]);
    const [again] = await store(db, [{ ...delivery }]);
    expect(again).toEqual({ outcome: "updated", matchId: (created as { matchId: number }).matchId });
    expect(await getMatchByExternalId(db, m.external_match_id)).toMatchObject({ homeTeam: "Alpha FC" });
  });

  it("twins in a batch say why they were left alone: locked for all, stale when older, the written one's reason when the same", async () => {
    const { db } = backend();
    const m = makeMatch();
    await storeOne(db, { ...m, home_score: 1, away_score: 0, match_status: "completed" }, "2026-10-03T18:00:00Z");
    const newest = item({ ...m, home_score: 2, away_score: 0, match_status: "completed" }, "2026-10-03T16:00:00Z");
    const older = item({ ...m, home_score: 3, away_score: 0, match_status: "completed" }, "2026-10-03T15:00:00Z");
    // The row is newer than the whole batch: its copy and the copy's redelivery are both stale.
    expect((await store(db, [newest, { ...newest }, older])).map((r) => (r as { reason?: string }).reason)).toEqual(["stale", "stale", "stale"]);
    await db.query("UPDATE matches SET score_locked = true WHERE external_match_id = $1", [m.external_match_id]);
    const later = item({ ...m, home_score: 4, away_score: 0, match_status: "completed" }, "2026-10-04T16:00:00Z");
    expect((await store(db, [later, { ...later }, older])).map((r) => (r as { reason?: string }).reason)).toEqual(["locked", "locked", "locked"]);
  });

  it("a newest twin the database refuses leaves its match to the next older one in the batch, as separate batches would", async () => {
    const { db } = backend();
    // An operator's rule the contract does not know.
    await db.query("ALTER TABLE matches ADD CONSTRAINT test_no_nine CHECK (home_score IS DISTINCT FROM 9)");
    const m = makeMatch();
    const older = item({ ...m, home_score: 2, away_score: 1, match_status: "completed" }, "2026-10-03T15:00:00Z");
    const oldest = item({ ...m, home_score: 1, away_score: 0, match_status: "completed" }, "2026-10-03T14:00:00Z");
    const newest = item({ ...m, home_score: 9, away_score: 0, match_status: "completed" }, "2026-10-03T16:00:00Z");
    const results = await store(db, [older, newest, { ...newest }, oldest]);
    expect(results[0]).toMatchObject({ outcome: "created" });
    for (const refused of [results[1], results[2]]) expect((refused as Error).message).toContain("test_no_nine");
    expect(results[3]).toMatchObject({ outcome: "unchanged", reason: "stale" });
    expect(await getMatchByExternalId(db, m.external_match_id)).toMatchObject({ homeScore: 2, awayScore: 1, observedAt: "2026-10-03T15:00:00.000Z" });

    // Every twin refused: each gets the refusal, nothing is written.
    const n = makeMatch();
    const all = await store(db, [item({ ...n, home_score: 9, away_score: 1, match_status: "completed" }, "2026-10-03T15:00:00Z"), item({ ...n, home_score: 9, away_score: 0, match_status: "completed" }, "2026-10-03T16:00:00Z")]);
    for (const r of all) expect((r as Error).message).toContain("test_no_nine");
    expect(await getMatchByExternalId(db, n.external_match_id)).toBeUndefined();
  });

  it("one bad item fails alone; its neighbours still land", async () => {
    const { db } = backend();
    const good = [makeMatch(), makeMatch({ home_team: "Gamma" }), makeMatch({ away_team: "Delta" })];
    // Values the contract would refuse, reaching the database anyway.
    const penaltiesAfterWin = makeMatch({ home_score: 2, away_score: 1, home_penalty_score: 4, away_penalty_score: 3, match_status: "completed" });
    const tooLong = makeMatch({ location: "x".repeat(501) });
    const badDate = makeMatch({ match_date: "2026-02-30" });
    const nulInText = makeMatch({ location: "a\u0000b" });
    const fractionalScore = makeMatch({ home_score: 1.5, away_score: 1, match_status: "completed" });
    const results = await store(db, [item(good[0]!), item(penaltiesAfterWin), item(good[1]!), item(tooLong), item(badDate), item(nulInText), item(fractionalScore), item(good[2]!)]);
    expect(results.map((r) => (r instanceof Error ? r.code : r.outcome))).toEqual(["created", "db_constraint", "created", "db_constraint", "db_data", "db_data", "db_data", "created"]);
    expect(results[1]).toMatchObject({ kind: "permanent" });
    expect((results[1] as Error).message).toContain("matches_penalties_after_level_score");
    expect(await countMatches(db)).toBe(3);
  });

  it("a valid match whose fields outside the contract hold a NUL or a lone surrogate (jsonb refuses both) is stored, raw keeping their escapes as text", async () => {
    const { db } = backend();
    const nulInRaw = makeMatch({ home_team: "Raw Nul FC" });
    const surrogateInRaw = makeMatch({ home_team: "Raw Surrogate FC" });
    const results = await store(db, [item(nulInRaw, undefined, { ...nulInRaw, extra: "a\u0000b" }), item(surrogateInRaw, undefined, { ...surrogateInRaw, "odd\ud800": "\udfff" })]);
    expect(results.map((r) => (r instanceof Error ? r.code : r.outcome))).toEqual(["created", "created"]);
    const raw = async (id: string) => (await db.query<{ raw: Record<string, unknown> }>("SELECT raw FROM matches WHERE external_match_id = $1", [id])).rows[0]?.raw;
    expect(await raw(nulInRaw.external_match_id)).toMatchObject({ extra: "a\\u0000b", home_team: "Raw Nul FC" });
    expect(await raw(surrogateInRaw.external_match_id)).toMatchObject({ "odd\\ud800": "\\udfff" });
  });

  it("passes resolution failures through and stores the rest", async () => {
    const { db } = backend();
    await storeOne(db, makeMatch());
    const strict = createNameResolver({ mode: "strict" });
    const results = await store(db, [item(makeMatch({ home_team: "Unknown Athletic" })), item(makeMatch())], strict);
    expect(results[0]).toMatchObject({ code: "unresolved_name", kind: "permanent" });
    expect(results[1]).toMatchObject({ outcome: "created" });
    expect(await countMatches(db)).toBe(2);
  });

  it("8 parallel upserts of the same new match yield exactly one match and one team", async () => {
    const { db } = backend();
    const m = makeMatch({ home_team: "Parallel FC", away_team: "Concurrent SC" });
    const results = await Promise.all(Array.from({ length: 8 }, () => store(db, [item(m)])));
    const outcomes = results.map(([r]) => (r instanceof Error ? r.code : r?.outcome));
    expect(outcomes.filter((o) => o === "created")).toHaveLength(1);
    expect(outcomes.filter((o) => o === "unchanged")).toHaveLength(7);
    expect(await countMatches(db)).toBe(1);
    const { rows } = await db.query<{ n: number | string }>("SELECT count(*) AS n FROM teams WHERE name = 'Parallel FC'");
    expect(Number(rows[0]?.n)).toBe(1);
  });

  it("latestResults lists the newest matches with names", async () => {
    const { db } = backend();
    await store(db, [
      item(makeMatch({ match_date: "2026-09-05" })),
      item(makeMatch({ match_date: "2026-10-10", home_score: 0, away_score: 2, match_status: "completed", division: null })),
    ]);
    const latest = await latestResults(db, 1);
    expect(latest).toEqual([
      expect.objectContaining({ matchDate: "2026-10-10", homeTeam: "Alpha FC", awayTeam: "Beta SC", homeScore: 0, awayScore: 2, matchStatus: "completed", division: null, ageGroup: "U14" }),
    ]);
    expect(await getMatchByExternalId(db, "no-such-id")).toBeUndefined();
  });

  it("latestResults can be limited to given external ids (a run's report shows its own matches)", async () => {
    const { db } = backend();
    const older = makeMatch({ external_match_id: "mine-1", match_date: "2026-09-05", home_score: 1, away_score: 1, match_status: "completed" });
    const newer = makeMatch({ external_match_id: "other-1", match_date: "2026-10-10", home_score: 3, away_score: 0, match_status: "completed" });
    await store(db, [item(older), item(newer)]);
    const latest = await latestResults(db, 10, { playedOnly: true, externalMatchIds: ["mine-1", "not-stored"] });
    expect(latest.map((m) => m.externalMatchId)).toEqual(["mine-1"]);
    expect(await latestResults(db, 10, { externalMatchIds: [] })).toEqual([]);
  });
});
