/**
 * Scraper benchmark, in process: a generated full-season feed (10,000 events by default;
 * `--events N`) read as the CLI reads it, text chunk by chunk.
 *   - the schedule's streamed read (src/sources/json-stream.ts: values found, JSON.parse per
 *     event, AssistEvents kept) next to JSON.parse of the whole text, the cost it replaces;
 *   - normalise: the compact events -> every match (readAssistFeeds + each candidate), cold
 *     (first run in the process, as a CLI run pays it) and warm (median of 5);
 *   - the whole `scrapeStream()` (filters and contract checks), median of 3, and peak memory.
 * Target: read + normalise under 200 ms for 10,000 events (warm). The publishing CLI's own peak
 * RSS and CPU: npm run bench:scrape-memory.
 *   npm run bench:scraper [-- --events 50000]
 */
import { silentLogger } from "../src/log.js";
import { scrapeStream } from "../src/scraper/scrape.js";
import { scheduleUrl, standingsUrl } from "../src/sources/assist/keys.js";
import { readSchedule, readStandings, type ScheduleDocument, type StandingsDocument } from "../src/sources/assist/parse.js";
import { readAssistFeeds } from "../src/sources/assist/read.js";
import { memoryFetcher } from "../test/fixtures/memory-fetcher.js";
import { generateSeasonFeed } from "./feeds/generate.js";

const TARGET_MS = 200;
/** What the fetcher hands a reader from a file (its read size); HTTP chunks are smaller. */
const CHUNK_CHARS = 256 * 1024;
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  return Number.isFinite(value) && value > 0 ? value : fallback;
};
const eventsWanted = arg("events", 10_000);

const feed = generateSeasonFeed({ events: eventsWanted });
const scheduleText = JSON.stringify(feed.schedule);
const standingsText = JSON.stringify(feed.standings);
const now = Date.parse("2026-12-01T00:00:00Z");
const chunks = (text: string) => Array.from({ length: Math.ceil(text.length / CHUNK_CHARS) }, (_, i) => text.slice(i * CHUNK_CHARS, (i + 1) * CHUNK_CHARS));

async function time<T>(fn: () => T | Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const value = await fn();
  return [performance.now() - t0, value];
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
async function warmMedian(runs: number, fn: () => unknown): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i += 1) times.push((await time(fn))[0]);
  return median(times);
}

const [parseColdMs] = await time(() => JSON.parse(scheduleText) as unknown);
const parseWarmMs = await warmMedian(5, () => JSON.parse(scheduleText) as unknown);
const read = () => Promise.all([readSchedule(chunks(scheduleText), feed.key), readStandings(chunks(standingsText), feed.key)]);
const [readColdMs, [schedule, standings]] = await time(read);
const readWarmMs = await warmMedian(5, read);

const normalise = (s: ScheduleDocument, t: StandingsDocument) => {
  const r = readAssistFeeds(s, t, { key: feed.key, league: "Homegrown", seasonFirstYear: 2026, now, fetchedAt: new Date(now).toISOString() });
  let n = 0;
  for (const c of r.candidates) n += c.match.external_match_id ? 1 : 0;
  return n;
};
const [normaliseColdMs] = await time(() => normalise(schedule, standings));
const normaliseWarmMs = await warmMedian(5, () => normalise(schedule, standings));

const base = "http://bench.local";
const scrapeRuns: number[] = [];
let matches = 0;
for (let i = 0; i < 3; i += 1) {
  const fetcher = memoryFetcher({ [scheduleUrl(base, feed.key)]: scheduleText, [standingsUrl(base, feed.key)]: standingsText }, { chunkChars: CHUNK_CHARS });
  const t0 = performance.now();
  const stream = await scrapeStream({ source: "assist", league: "Homegrown", seasonFirstYear: 2026, assistBaseUrl: base, modular11BaseUrl: base }, { fetcher, now: () => new Date(now), log: silentLogger });
  for (const _ of stream.matches);
  scrapeRuns.push(performance.now() - t0);
  matches = stream.summary().counts.matches;
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const ms = (x: number) => `${x.toFixed(1)} ms`;
const events = schedule.events.length + schedule.problems.length;
const warmTotal = readWarmMs + normaliseWarmMs;
const rows: [string, string][] = [
  ["events (schedule)", String(events)],
  ["brackets (standings)", String(standings.brackets.length)],
  ["feed size", `${mb(scheduleText.length)} + ${mb(standingsText.length)}`],
  ["JSON.parse of the schedule text, cold / warm", `${ms(parseColdMs)} / ${ms(parseWarmMs)} (the whole-document read it replaces)`],
  ["streamed read of both documents, cold / warm", `${ms(readColdMs)} / ${ms(readWarmMs)}`],
  ["normalise (every match), cold / warm", `${ms(normaliseColdMs)} / ${ms(normaliseWarmMs)}`],
  ["read + normalise per event (warm)", `${((warmTotal * 1000) / events).toFixed(1)} us`],
  ["scrapeStream() incl. filters + contract, median of 3", `${ms(median(scrapeRuns))} (${matches} matches)`],
  ["peak RSS (this process, documents held as test input)", mb(process.resourceUsage().maxRSS * 1024)],
  ["heap used now", mb(process.memoryUsage().heapUsed)],
  [`target: read + normalise warm < ${TARGET_MS} ms for 10,000 events`, eventsWanted === 10_000 ? (warmTotal < TARGET_MS ? "met" : "NOT met") : "n/a (other size)"],
];
const w = Math.max(...rows.map(([k]) => k.length));
console.log(`scraper benchmark (node ${process.version}, ${eventsWanted} events requested)`);
for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
