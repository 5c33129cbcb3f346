/**
 * End to end: `matchflow scrape` against a local feed server, publishing to the real RabbitMQ,
 * a real `matchflow worker` writing to a real PostgreSQL. The rows must say what the feed says;
 * a second scrape of the same data changes nothing; a later feed with new results updates
 * exactly those matches.
 */
import { readFileSync } from "node:fs";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MatchDataInput } from "../../src/contract/index.js";
import { runCli, spawnCli, until, type CliProcess } from "../helpers/cli.js";
import { createTestDatabase, testPool, type TestDatabase } from "../helpers/pg.js";
import { createVhost, type TestVhost } from "../helpers/rabbit.js";
import { startFeedServer, type FeedServer } from "../fixtures/feed-server.js";

const KEY = "mls-next-league-26-27";
const sample = (kind: string) => JSON.parse(readFileSync(new URL(`../../samples/mlsnext/data/${kind}/${KEY}.json`, import.meta.url), "utf8")) as Record<string, unknown>;

let server: FeedServer;
let vhost: TestVhost;
let db: TestDatabase;
let sql: pg.Pool;
let worker: CliProcess;
const env = () => ({ RABBITMQ_URL: vhost.url, DATABASE_URL: db.url, ASSIST_BASE_URL: server.url, METRICS_PORT: "0", LOG_LEVEL: "debug" }); // debug: one "task done" line per task

beforeAll(async () => {
  [vhost, db] = await Promise.all([createVhost("scrape_e2e"), createTestDatabase({ migrated: true })]);
  sql = testPool(db.url, 2);
  server = await startFeedServer({ [`/data/schedule/${KEY}.json`]: sample("schedule"), [`/data/standings/${KEY}.json`]: sample("standings") });
  worker = spawnCli(["worker"], env());
  await worker.waitForLog((l) => l.msg === "worker consuming");
});

afterAll(async () => {
  worker?.kill("SIGTERM");
  await worker?.exited;
  await server?.close();
  await sql?.end();
  await Promise.all([vhost?.drop(), db?.drop()]);
});

/** Outcomes of the worker's "task done" lines from `from` on, once `n` have arrived. */
async function outcomes(from: number, n: number): Promise<Map<string, string>> {
  const done = () => worker.logs.filter((l) => l.msg === "task done" || l.msg === "task dead-lettered").slice(from);
  await until(() => done().length >= n, 60_000, `${n} settled tasks`);
  return new Map(done().map((l) => [String(l.externalMatchId), String(l.outcome)]));
}
const settledSoFar = () => worker.logs.filter((l) => l.msg === "task done" || l.msg === "task dead-lettered").length;

async function stored(): Promise<Record<string, unknown>[]> {
  const r = await sql.query(
    `SELECT m.external_match_id, ht.name AS home_team, at.name AS away_team, l.name AS league, d.name AS division, ag.name AS age_group,
            s.name AS season, mt.name AS match_type, m.match_date::text AS match_date, m.match_time, m.scheduled_kickoff,
            m.home_score, m.away_score, m.home_penalty_score, m.away_penalty_score, m.match_status, m.location, m.source
       FROM matches m JOIN teams ht ON ht.id = m.home_team_id JOIN teams at ON at.id = m.away_team_id JOIN leagues l ON l.id = m.league_id
       LEFT JOIN divisions d ON d.id = m.division_id JOIN age_groups ag ON ag.id = m.age_group_id JOIN seasons s ON s.id = m.season_id
       JOIN match_types mt ON mt.id = m.match_type_id ORDER BY m.external_match_id`,
  );
  return r.rows.map((row: Record<string, unknown>) => ({ ...row, scheduled_kickoff: (row.scheduled_kickoff as Date | null)?.toISOString() ?? null }));
}

function expectedRow(m: MatchDataInput): Record<string, unknown> {
  return {
    external_match_id: m.external_match_id,
    home_team: m.home_team,
    away_team: m.away_team,
    league: m.league,
    division: m.division ?? null,
    age_group: m.age_group,
    season: m.season,
    match_type: m.match_type,
    match_date: m.match_date,
    match_time: m.match_time,
    scheduled_kickoff: m.scheduled_kickoff,
    home_score: m.home_score ?? null,
    away_score: m.away_score ?? null,
    home_penalty_score: m.home_penalty_score ?? null,
    away_penalty_score: m.away_penalty_score ?? null,
    match_status: m.match_status,
    location: m.location ?? null,
    source: "mlsnext-assist",
  };
}

describe("scrape -> RabbitMQ -> worker -> PostgreSQL", () => {
  let expected: MatchDataInput[] = [];

  it("stores every scraped match with the right teams, divisions, age groups, season, kickoff, scores and status", async () => {
    const dry = await runCli(["scrape", "--season", "2026", "--no-submit", "--format", "json"], env());
    expect(dry.code).toBe(0);
    expected = (JSON.parse(dry.stdout) as { matches: MatchDataInput[] }).matches;
    expect(expected.length).toBeGreaterThan(60);

    const run = await runCli(["scrape", "--season", "2026"], env());
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`${expected.length} found, ${expected.length} submitted, 0 invalid, 0 failed`);
    const first = await outcomes(0, expected.length);
    expect([...new Set(first.values())]).toEqual(["created"]);

    const rows = await stored();
    const byId = (a: { external_match_id?: unknown }, b: { external_match_id?: unknown }) => String(a.external_match_id).localeCompare(String(b.external_match_id));
    expect(rows).toEqual(expected.map(expectedRow).sort(byId));
    // Spot checks against the feed itself: a shootout after a level score, a local date and a kickoff instant.
    expect(rows.find((r) => r.external_match_id === "26514")).toMatchObject({ home_team: "Oakwood SC", away_team: "IFA", division: "Northeast", age_group: "U14", home_score: 2, away_score: 2, home_penalty_score: 4, away_penalty_score: 3, match_status: "completed", match_date: "2026-09-19", match_time: "11:00", scheduled_kickoff: "2026-09-19T15:00:00.000Z", season: "2026-27" });
    expect(rows.filter((r) => r.match_status === "postponed").length).toBe(30);
  });

  it("a second scrape of the same data changes nothing", async () => {
    const before = settledSoFar();
    const run = await runCli(["scrape", "--season", "2026"], env());
    expect(run.code).toBe(0);
    const second = await outcomes(before, expected.length);
    expect([...new Set(second.values())]).toEqual(["unchanged"]);
  });

  it("a later feed with new results updates exactly those matches", async () => {
    const schedule = sample("schedule") as { synced_at: string; events: Record<string, unknown>[] };
    const pending = expected.filter((m) => m.match_status === "tbd").slice(0, 2).map((m) => m.external_match_id);
    expect(pending).toHaveLength(2);
    schedule.synced_at = "2026-11-28T06:00:00Z";
    for (const e of schedule.events) {
      if (pending.includes(String(e.game_key))) Object.assign(e, { completed: true, home_score: 2, away_score: 1, home_penalty_shootout_score: 0, away_penalty_shootout_score: 0 });
    }
    server.set(`/data/schedule/${KEY}.json`, schedule);
    const before = settledSoFar();
    const run = await runCli(["scrape", "--season", "2026"], env());
    expect(run.code).toBe(0);
    const third = await outcomes(before, expected.length);
    const updated = [...third].filter(([, o]) => o === "updated").map(([id]) => id);
    expect(updated.sort()).toEqual([...pending].sort());
    expect([...third].filter(([, o]) => o !== "updated" && o !== "unchanged")).toEqual([]);
    const rows = await stored();
    for (const id of pending) expect(rows.find((r) => r.external_match_id === id)).toMatchObject({ home_score: 2, away_score: 1, home_penalty_score: null, match_status: "completed" });
  });
});
