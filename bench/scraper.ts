/**
 * Scraper benchmark: parse + normalise of a generated full-season feed (10,000 events by
 * default; `--events N`), cold (first run in the process, as a CLI run pays it) and warm
 * (median of 5), plus the whole `scrape()` (filters and contract checks) and peak memory.
 * Target: parse + normalise under 200 ms for 10,000 events.
 *   npm run bench:scraper [-- --events 50000]
 */
import { silentLogger } from "../src/log.js";
import { scrape } from "../src/scraper/scrape.js";
import { readAssistFeeds } from "../src/sources/assist/read.js";
import type { FeedFetcher } from "../src/sources/http.js";
import { generateSeasonFeed } from "./feeds/generate.js";

const TARGET_MS = 200;
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

function time<T>(fn: () => T): [number, T] {
  const t0 = performance.now();
  const value = fn();
  return [performance.now() - t0, value];
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

// JSON decoding is timed apart: it is the fetch's cost, the same for any reader.
const [jsonMs, docs] = time(() => [JSON.parse(scheduleText) as unknown, JSON.parse(standingsText) as unknown] as const);
const read = () => readAssistFeeds(docs[0], docs[1], { key: feed.key, league: "Homegrown", seasonFirstYear: 2026, now, fetchedAt: new Date(now).toISOString() });
const [coldMs, first] = time(read);
const warm: number[] = [];
for (let i = 0; i < 5; i += 1) warm.push(time(read)[0]);

const base = "http://bench.local";
const fetcher: FeedFetcher = {
  stats: { requests: 0, downloads: 0 },
  json: (url) => Promise.resolve(JSON.parse(url.includes("/schedule/") ? scheduleText : standingsText) as unknown),
  text: () => Promise.reject(new Error("unused")),
};
const scrapeRuns: number[] = [];
let matches = 0;
for (let i = 0; i < 3; i += 1) {
  const t0 = performance.now();
  const result = await scrape({ source: "assist", league: "Homegrown", seasonFirstYear: 2026, assistBaseUrl: base, modular11BaseUrl: base }, { fetcher, now: () => new Date(now), log: silentLogger });
  scrapeRuns.push(performance.now() - t0);
  matches = result.matches.length;
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const warmMedian = median(warm);
const rows: [string, string][] = [
  ["events (schedule)", String(first.counts.events)],
  ["brackets (standings)", String(first.counts.brackets)],
  ["feed size", `${mb(scheduleText.length)} + ${mb(standingsText.length)}`],
  ["JSON.parse (both)", `${jsonMs.toFixed(1)} ms`],
  ["parse+normalise, cold (first run)", `${coldMs.toFixed(1)} ms`],
  ["parse+normalise, warm median of 5", `${warmMedian.toFixed(1)} ms`],
  ["per event (warm)", `${((warmMedian * 1000) / first.counts.events).toFixed(1)} us`],
  ["scrape() incl. filters + contract, median of 3", `${median(scrapeRuns).toFixed(1)} ms (${matches} matches)`],
  ["peak RSS", mb(process.resourceUsage().maxRSS * 1024)],
  ["heap used now", mb(process.memoryUsage().heapUsed)],
  [`target: warm < ${TARGET_MS} ms for 10,000 events`, eventsWanted === 10_000 ? (warmMedian < TARGET_MS ? "met" : "NOT met") : "n/a (other size)"],
];
const w = Math.max(...rows.map(([k]) => k.length));
console.log(`scraper benchmark (node ${process.version}, ${eventsWanted} events requested)`);
for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
