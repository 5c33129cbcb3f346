/**
 * A deterministic (seeded) generator of realistic full-season assist feeds, for tests and
 * benchmarks: hundreds of brackets (conference x age group), squads of one club across age
 * groups, "Pro Player Pathway" overlay brackets whose squads also sit in a regional one,
 * venue time zones (a few missing or unknown), results before `playedBefore` (draws, shootouts,
 * the feed's 0-0 "no shootout" penalties), a placeholder date holding the postponed fixtures,
 * unknown extra fields, and optionally malformed events.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { League } from "../../src/contract/index.js";
import { feedKey } from "../../src/sources/assist/keys.js";

export interface FeedGenOptions {
  /** @default 1 */
  seed?: number;
  /** @default "Homegrown" */
  league?: League;
  /** @default 2026 */
  seasonFirstYear?: number;
  /** Regular fixtures (the postponed ones come on top). @default 10_000 */
  events?: number;
  /** @default 8 */
  teamsPerBracket?: number;
  /** @default ["U13","U14","U15","U16","U17","U19"] */
  ageGroups?: string[];
  /** Kickoffs before this instant have results (most of them). @default 2026-12-15T00:00:00Z */
  playedBefore?: Date;
  /** Fixtures parked on the placeholder date (`{second year}-06-08`). @default 2% of events */
  postponed?: number;
  /** Every n-th event is malformed (no away club); 0 = none. @default 0 */
  malformedEvery?: number;
  /** The first fixture's game key (external match id); feeds of several leagues in one database need distinct ranges. @default 100_000 */
  firstGameKey?: number;
}

export interface GeneratedFeed {
  key: string;
  schedule: { synced_at: string; linked_competition_seasons: { name: string; key: string }[]; events: Record<string, unknown>[] };
  standings: { competition_season: { name: string; key: string; competition_brackets: Record<string, unknown>[] } };
  /** Facts for assertions. */
  facts: { brackets: number; placeholderDate: string; postponed: number; malformed: number };
}

const REGIONS: [string, string][] = [
  ["Northeast", "America/New_York"], ["Mid-Atlantic", "America/New_York"], ["Florida", "America/New_York"], ["Southeast", "America/New_York"],
  ["Great Lakes", "America/Detroit"], ["Central", "America/Chicago"], ["Texas", "America/Chicago"], ["Frontier", "America/Chicago"],
  ["Mountain", "America/Denver"], ["Southwest", "America/Phoenix"], ["California", "America/Los_Angeles"], ["Northwest", "America/Los_Angeles"],
];
const TOWNS = ["Oakwood", "Riverside", "Lakeview", "Fairfield", "Springdale", "Hillcrest", "Brookside", "Maplewood", "Cedar Park", "Westfield", "Bayside", "Pinecrest", "Stonebridge", "Clearwater", "Ashford", "Kingsport"];
const SUFFIXES = ["SC", "FC", "United", "Academy", "Soccer Club", "Rush", "Strikers", "Alliance"];

/** mulberry32: small, fast, good enough for fixtures. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const offsetCache = new Map<string, number>();
/** Minutes to add to local wall time to get UTC, for a zone on a date (DST-correct via Intl). */
function utcOffsetMinutes(zone: string, date: string): number {
  const key = `${zone}|${date}`;
  const hit = offsetCache.get(key);
  if (hit !== undefined) return hit;
  const noon = Date.parse(`${date}T12:00:00Z`);
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-US", { timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" })
      .formatToParts(noon)
      .map((p) => [p.type, p.value]),
  );
  const asUtc = Date.parse(`${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:00Z`);
  const minutes = Math.round((noon - asUtc) / 60_000);
  offsetCache.set(key, minutes);
  return minutes;
}

function localToUtcIso(date: string, hour: number, zone: string): string {
  const wall = Date.parse(`${date}T${String(hour).padStart(2, "0")}:00:00Z`);
  return new Date(wall + utcOffsetMinutes(zone, date) * 60_000).toISOString().replace(".000Z", "Z");
}

/** Weekend dates of the season, September to May. */
function weekendDates(first: number): string[] {
  const out: string[] = [];
  for (let d = new Date(Date.UTC(first, 8, 1)); d < new Date(Date.UTC(first + 1, 5, 1)); d.setUTCDate(d.getUTCDate() + 1)) {
    const day = d.getUTCDay();
    if (day === 0 || day === 6) out.push(d.toISOString().slice(0, 10));
  }
  return out;
}

interface Squad { squadId: number; orgId: number; club: string }
interface GenBracket { id: number; name: string; zone: string; age: string; ageId: number; squads: Squad[] }

export function generateSeasonFeed(options: FeedGenOptions = {}): GeneratedFeed {
  const random = rng(options.seed ?? 1);
  const league = options.league ?? "Homegrown";
  const first = options.seasonFirstYear ?? 2026;
  const total = options.events ?? 10_000;
  const perBracket = options.teamsPerBracket ?? 8;
  const ages = options.ageGroups ?? ["U13", "U14", "U15", "U16", "U17", "U19"];
  const playedBefore = (options.playedBefore ?? new Date("2026-12-15T00:00:00Z")).getTime();
  const postponedCount = options.postponed ?? Math.round(total * 0.02);
  const malformedEvery = options.malformedEvery ?? 0;
  const key = feedKey(league, first);
  const gamesPerBracket = perBracket * (perBracket - 1);
  const conferencesNeeded = Math.max(1, Math.ceil(total / gamesPerBracket / ages.length));
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;

  // Clubs per conference: one organisation, one squad per age group.
  const brackets: GenBracket[] = [];
  let bracketId = 100;
  let orgId = 5000;
  let squadId = 20_000;
  for (let c = 0; c < conferencesNeeded; c += 1) {
    const [region, zone] = REGIONS[c % REGIONS.length]!;
    const name = c < REGIONS.length ? region : `${region} ${Math.floor(c / REGIONS.length) + 1}`;
    const clubs = Array.from({ length: perBracket }, (_, i) => ({ orgId: orgId++, club: `${TOWNS[(c * 3 + i) % TOWNS.length]} ${SUFFIXES[(c + i * 5) % SUFFIXES.length]} ${name.split(" ")[0]}${i > 7 ? ` ${i}` : ""}` }));
    ages.forEach((age, a) => {
      brackets.push({ id: bracketId++, name, zone, age, ageId: 36 + a, squads: clubs.map((cl) => ({ ...cl, squadId: squadId++ })) });
    });
  }
  // Overlay brackets: the first two squads of the first regions' brackets, per age group.
  const overlays: GenBracket[] = ages.map((age, a) => {
    const members = brackets.filter((b) => b.age === age).slice(0, 4).flatMap((b) => b.squads.slice(0, 2));
    return { id: bracketId++, name: "Central (Pro Player Pathway)", zone: "America/Chicago", age, ageId: 36 + a, squads: members };
  });

  const dates = weekendDates(first);
  const events: Record<string, unknown>[] = [];
  let gameKey = options.firstGameKey ?? 100_000;
  let eventId = 9_000_000;
  const makeEvent = (b: GenBracket, home: Squad, away: Squad, date: string, hour: number, parked: boolean): Record<string, unknown> => {
    const zoneRoll = random();
    const zone = zoneRoll < 0.01 ? undefined : zoneRoll < 0.015 ? "Mars/Olympus_Mons" : b.zone;
    const start = localToUtcIso(date, hour, zone === b.zone ? b.zone : "UTC");
    const played = !parked && Date.parse(start) < playedBefore && random() < 0.92;
    const hs = played ? Math.floor(random() * 5) : null;
    const as = played ? (random() < 0.22 ? hs : Math.floor(random() * 5)) : null;
    const shootout = played && hs === as && random() < 0.5;
    const e: Record<string, unknown> = {
      id: eventId++,
      game_key: String(gameKey++),
      start_time: start,
      ...(zone === undefined ? {} : { local_timezone: zone }),
      home_squad_id: home.squadId,
      away_squad_id: away.squadId,
      home_squad_name: b.age,
      away_squad_name: b.age,
      competition: { id: 1605, name: "League" },
      competition_bracket_id: null,
      completed: played,
      home_organisation: { id: home.orgId, name: home.club, logo_full_path: `https://img.example/${home.orgId}.png` },
      away_organisation: { id: away.orgId, name: away.club, logo_full_path: `https://img.example/${away.orgId}.png` },
      home_score: hs,
      away_score: as,
      home_penalty_shootout_score: shootout ? 4 : played ? 0 : null,
      away_penalty_shootout_score: shootout ? 3 : played ? 0 : null,
      event_location: { id: 100 + (home.orgId % 500), name: `${home.club} Field ${1 + (home.squadId % 4)}` },
      division: { id: 2, name: "MLS Next" },
      round_number: null,
    };
    if (random() < 0.05) e.broadcast = { provider: "none" }; // unknown extra fields appear
    if (malformedEvery > 0 && events.length % malformedEvery === malformedEvery - 1) delete e.away_organisation;
    return e;
  };

  // Regular fixtures: double round robin per bracket, overlay brackets first (a few each).
  const all = [...overlays, ...brackets];
  outer: for (let round = 0; ; round += 1) {
    let added = false;
    for (const b of all) {
      const n = b.squads.length;
      const pairs = n * (n - 1);
      if (round >= pairs || (b.name.includes("Pathway") && round >= 4)) continue;
      const home = b.squads[round % n]!;
      const away = b.squads[(round % n + 1 + Math.floor(round / n) % (n - 1)) % n]!;
      if (home === away) continue;
      const date = dates[(round * 3 + b.id) % dates.length]!;
      events.push(makeEvent(b, home, away, date, 9 + Math.floor(random() * 8), false));
      added = true;
      if (events.length >= total) break outer;
    }
    if (!added) break;
  }
  const placeholderDate = `${first + 1}-06-08`;
  for (let i = 0; i < postponedCount; i += 1) {
    const b = pick(brackets);
    events.push(makeEvent(b, b.squads[i % b.squads.length]!, b.squads[(i + 1) % b.squads.length]!, placeholderDate, 12, true));
  }
  // Feed order is not date order.
  for (let i = events.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [events[i], events[j]] = [events[j]!, events[i]!];
  }

  const competition_brackets = all.map((b) => ({
    id: b.id,
    name: b.name,
    age_group: { id: b.ageId, name: b.age },
    gender: "male",
    competitions: [],
    tiebreakers: null,
    standings: b.squads.map((s, i) => ({ position: i + 1, team: { organisation_id: s.orgId, squad_id: s.squadId, name: s.club, logo_url: null }, tiebreaker_values: {} })),
  }));
  const seasonLabel = `${String(first % 100).padStart(2, "0")}/${String((first + 1) % 100).padStart(2, "0")}`;
  return {
    key,
    schedule: { synced_at: new Date(playedBefore).toISOString().replace(".000Z", "Z"), linked_competition_seasons: [{ name: `League ${seasonLabel}`, key }], events },
    standings: { competition_season: { name: `League ${seasonLabel}`, key, competition_brackets } },
    facts: { brackets: all.length, placeholderDate, postponed: postponedCount, malformed: malformedEvery > 0 ? events.filter((e) => !("away_organisation" in e)).length : 0 },
  };
}

/** Writes feeds as a recorded feed directory: `{dir}/data/schedule/{key}.json` + standings. */
export async function writeFeedDirectory(dir: string, feeds: GeneratedFeed[]): Promise<void> {
  await mkdir(join(dir, "data", "schedule"), { recursive: true });
  await mkdir(join(dir, "data", "standings"), { recursive: true });
  for (const f of feeds) {
    await writeFile(join(dir, "data", "schedule", `${f.key}.json`), JSON.stringify(f.schedule));
    await writeFile(join(dir, "data", "standings", `${f.key}.json`), JSON.stringify(f.standings));
  }
}
