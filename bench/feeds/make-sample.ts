/**
 * Builds the small recorded sample in `samples/mlsnext/` from the captured fixtures (standings
 * as captured; schedules made from their squads): played, pending, upcoming and postponed
 * fixtures of 2026-27 for the three leagues, for offline runs:
 *   matchflow scrape --source-dir samples/mlsnext --season 2026 --no-submit
 * Run: npx tsx bench/feeds/make-sample.ts [outDir]   (deterministic: same output every time)
 */
import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { feedKey } from "../../src/sources/assist/keys.js";

interface Team { squad_id: number; organisation_id?: number; name: string }
interface Bracket { id: number; name: string; age_group: { name: string }; standings: { team: Team }[] }
interface Standings { competition_season: { name: string; key?: string; competition_brackets: Bracket[] } }

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../../test/fixtures/mlsnext-assist/${name}`, import.meta.url), "utf8")) as Standings;

const ZONES: Record<string, string> = { Florida: "America/New_York", Northeast: "America/New_York", "Mid-Atlantic": "America/New_York", "New England": "America/New_York", Turnpike: "America/New_York", Pioneer: "America/Chicago" };
const zoneOf = (bracket: string) => ZONES[bracket] ?? (bracket.startsWith("Central") ? "America/Chicago" : "America/Detroit");

/** Saturdays from Sept 5, 2026; kickoffs at 13:00-19:00 UTC. */
const saturday = (week: number) => new Date(Date.UTC(2026, 8, 5 + 7 * week)).toISOString().slice(0, 10);

let gameKey = 26_500;
let eventId = 5_800_000;
function event(b: Bracket, home: Team, away: Team, start: string, zone: string | undefined, result?: [number, number, number?, number?]) {
  const e: Record<string, unknown> = {
    id: eventId++,
    game_key: String(gameKey++),
    start_time: start,
    home_squad_id: home.squad_id,
    away_squad_id: away.squad_id,
    home_squad_name: b.age_group.name,
    away_squad_name: b.age_group.name,
    competition: { id: 1605, name: "League" },
    completed: result !== undefined,
    home_organisation: { id: home.organisation_id ?? home.squad_id, name: home.name },
    away_organisation: { id: away.organisation_id ?? away.squad_id, name: away.name },
    home_score: result?.[0] ?? null,
    away_score: result?.[1] ?? null,
    home_penalty_shootout_score: result ? (result[2] ?? 0) : null,
    away_penalty_shootout_score: result ? (result[3] ?? 0) : null,
    event_location: { id: 200 + (home.squad_id % 97), name: `${home.name} - Field 1` },
    division: { id: 2, name: "MLS Next" },
    round_number: null,
  };
  if (zone !== undefined) e.local_timezone = zone;
  return e;
}

const RESULTS: [number, number, number?, number?][] = [[3, 1], [0, 0], [2, 2, 4, 3], [1, 4], [2, 0], [1, 1]];

/** Each bracket's first two squads meet home and away over the autumn (played), winter (pending/upcoming). */
function scheduleFor(standings: Standings, parkedPerBracket: number) {
  const events: Record<string, unknown>[] = [];
  standings.competition_season.competition_brackets.forEach((b, i) => {
    const [a, c] = [b.standings[0]?.team, b.standings[1]?.team];
    if (!a || !c) return;
    const zone = zoneOf(b.name);
    events.push(event(b, a, c, `${saturday(i % 6)}T${13 + (i % 5)}:00:00Z`, zone, RESULTS[i % RESULTS.length]));
    events.push(event(b, c, a, `${saturday(9 + (i % 2))}T15:00:00Z`, i % 4 === 0 ? undefined : zone)); // early November, no result yet: tbd
    events.push(event(b, a, c, `${saturday(16 + (i % 4))}T16:00:00Z`, zone)); // winter: upcoming
    events.push(event(b, c, a, `${saturday(30 + (i % 6))}T14:30:00Z`, i === 1 ? "Mars/Olympus_Mons" : zone)); // spring
    for (let p = 0; p < parkedPerBracket; p += 1) events.push(event(b, p % 2 ? a : c, p % 2 ? c : a, "2027-06-08T16:00:00Z", zone)); // parked: postponed
  });
  return events;
}

async function main(out: string): Promise<void> {
  const league = fixture("standings-league-26-27.json");
  const wide = fixture("standings-league-26-27-wide.json");
  const homegrown: Standings = { competition_season: { ...league.competition_season, competition_brackets: [...league.competition_season.competition_brackets, ...wide.competition_season.competition_brackets] } };
  const leagues: [string, Standings, number][] = [
    [feedKey("Homegrown", 2026), homegrown, 3],
    [feedKey("Academy", 2026), fixture("standings-academy-26-27.json"), 0],
    [feedKey("Flex", 2026), fixture("standings-flex-26-27.json"), 0],
  ];
  await mkdir(join(out, "data", "schedule"), { recursive: true });
  await mkdir(join(out, "data", "standings"), { recursive: true });
  for (const [key, standings, parked] of leagues) {
    const schedule = { synced_at: "2026-11-20T06:00:00Z", linked_competition_seasons: [{ name: standings.competition_season.name, key }], events: scheduleFor(standings, parked) };
    await writeFile(join(out, "data", "schedule", `${key}.json`), `${JSON.stringify(schedule, null, 1)}\n`);
    await writeFile(join(out, "data", "standings", `${key}.json`), `${JSON.stringify(standings, null, 1)}\n`);
    console.log(`${key}: ${schedule.events.length} events, ${standings.competition_season.competition_brackets.length} brackets`);
  }
}

await main(process.argv[2] ?? "samples/mlsnext");
