/** The feed fetcher and scrape() against a real local HTTP server (fetch is never mocked). */
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { brotliCompressSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateSeasonFeed } from "../../bench/feeds/generate.js";
import { silentLogger } from "../../src/log.js";
import { scrape, type ScrapeOptions } from "../../src/scraper/scrape.js";
import { readSchedule, readStandings } from "../../src/sources/assist/parse.js";
import { createFeedFetcher } from "../../src/sources/http.js";
import { closedPort, startFeedServer, type FeedServer } from "../fixtures/feed-server.js";

const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(`../fixtures/mlsnext-assist/${name}`, import.meta.url), "utf8"));
const SCHEDULE = "/data/schedule/mls-next-league-26-27.json";
const STANDINGS = "/data/standings/mls-next-league-26-27.json";
const fast = () => createFeedFetcher({ timeoutMs: 2000, baseDelayMs: 5, log: silentLogger });
/** The schedule reader, its events as a plain list (for comparisons). */
const readScheduleList = async (chunks: AsyncIterable<string>, what: string) => {
  const doc = await readSchedule(chunks, what);
  return { ...doc, events: [...doc.events] };
};
const caught = (p: Promise<unknown>) => p.then(() => undefined, (err: unknown) => err as Error & { code?: string; kind?: string });

let server: FeedServer;
beforeAll(async () => {
  server = await startFeedServer({ [SCHEDULE]: fixture("schedule-league-26-27.json"), [STANDINGS]: fixture("standings-league-26-27.json") });
});
afterAll(async () => {
  await server.close();
});

describe("feed fetching over HTTP", () => {
  it("retries 5xx answers with backoff and then succeeds", async () => {
    const path = "/data/schedule/retry-then-ok.json";
    server.set(path, { events: [] });
    server.failNext(path, [503, 502]);
    const fetcher = fast();
    expect(await fetcher.read(`${server.url}${path}`, "schedule retry-then-ok", readScheduleList)).toEqual({ syncedAt: undefined, events: [], malformed: 0, problems: [] });
    expect(server.hits.get(path)).toBe(3);
  });

  it("waits as long as a 429's Retry-After asks (up to a minute) before trying again", async () => {
    let hits = 0;
    const limited = createServer((_req, res) => {
      hits += 1;
      if (hits === 1) {
        res.writeHead(429, { "retry-after": "7" }).end();
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ events: [] }));
    });
    await new Promise<void>((done) => limited.listen(0, "127.0.0.1", done));
    const slept: number[] = [];
    try {
      const fetcher = createFeedFetcher({ timeoutMs: 2000, baseDelayMs: 5, log: silentLogger, sleep: (ms) => (slept.push(ms), Promise.resolve()) });
      const url = `http://127.0.0.1:${(limited.address() as AddressInfo).port}/data/schedule/limited.json`;
      expect((await fetcher.read(url, "schedule limited", readScheduleList)).events).toEqual([]);
      expect(hits).toBe(2);
      expect(slept).toEqual([7000]);
    } finally {
      await new Promise<void>((done) => limited.close(() => done()));
    }
  });

  it("downloads again a JSON body without a length that the connection cut mid-document (not called an HTML page)", async () => {
    let hits = 0;
    const full = JSON.stringify({ events: [], synced_at: "2026-08-24T11:50:08Z", padding: "x".repeat(2000) });
    const cutting = createServer((_req, res) => {
      hits += 1;
      // No content-length: the body ends where the connection does.
      res.writeHead(200, { "content-type": "application/json" });
      if (hits === 1) res.end(full.slice(0, 600));
      else res.end(full);
    });
    await new Promise<void>((done) => cutting.listen(0, "127.0.0.1", done));
    try {
      const url = `http://127.0.0.1:${(cutting.address() as AddressInfo).port}/data/schedule/cut.json`;
      expect((await fast().read(url, "schedule cut", readScheduleList)).syncedAt).toBe("2026-08-24T11:50:08Z");
      expect(hits).toBe(2);
    } finally {
      await new Promise<void>((done) => cutting.close(() => done()));
    }
  });

  it("retries a dropped connection (a network error) and then succeeds", async () => {
    const path = "/data/standings/dropped-then-ok.json";
    server.set(path, { competition_season: { competition_brackets: [] } });
    server.failNext(path, [0]);
    expect(await fast().read(`${server.url}${path}`, "standings dropped-then-ok", readStandings)).toEqual({ brackets: [], problems: [] });
    expect(server.hits.get(path)).toBe(2);
  });

  it("gives up after 3 attempts with source_unreachable naming the host", async () => {
    const path = "/data/schedule/always-503.json";
    server.failNext(path, [503, 503, 503, 503]);
    const err = await caught(fast().read(`${server.url}${path}`, "schedule always-503", readSchedule));
    expect(err).toMatchObject({ code: "source_unreachable", kind: "transient" });
    expect(err!.message).toContain(new URL(server.url).host);
    expect(err!.message).toContain("HTTP 503");
    expect(server.hits.get(path)).toBe(3);
  });

  it("the HTML shell for an unknown key is a loud, non-retried source_unreadable naming the key", async () => {
    const path = "/data/schedule/mls-next-league-30-31.json";
    const err = await caught(fast().read(`${server.url}${path}`, "schedule mls-next-league-30-31", readSchedule));
    expect(err).toMatchObject({ code: "source_unreadable", kind: "permanent" });
    expect(err!.message).toMatch(/schedule mls-next-league-30-31: .* did not answer JSON \(it starts "<!doctype html>/);
    expect(server.hits.get(path)).toBe(1);
  });

  it("a 404 is not retried", async () => {
    server.failNext("/gone.json", [404]);
    const err = await caught(fast().read(`${server.url}/gone.json`, "gone", readSchedule));
    expect(err).toMatchObject({ code: "source_unreadable" });
    expect(server.hits.get("/gone.json")).toBe(1);
  });

  it("an unreachable port is source_unreachable with a one-line message", async () => {
    const port = await closedPort();
    const err = await caught(fast().read(`http://127.0.0.1:${port}/data/schedule/x.json`, "schedule x", readSchedule));
    expect(err).toMatchObject({ code: "source_unreachable", kind: "transient" });
    expect(err!.message).toBe(`cannot reach 127.0.0.1:${port} for schedule x: ECONNREFUSED (3 attempts)`);
  });

  it("a server that never answers times out (HTTP_TIMEOUT) and counts as unreachable", async () => {
    server.hang("/slow.json");
    const fetcher = createFeedFetcher({ timeoutMs: 150, baseDelayMs: 5, log: silentLogger });
    const err = await caught(fetcher.read(`${server.url}/slow.json`, "slow", readSchedule));
    expect(err).toMatchObject({ code: "source_unreachable" });
    expect(err!.message).toContain("timed out");
    expect(server.hits.get("/slow.json")).toBe(3);
  });
});

describe("feed bodies as fetch delivered them", () => {
  // Behaviours fetch gave for free, kept by the node:http client (src/sources/http-get.ts).
  const doc = JSON.stringify({ synced_at: "2026-08-24T11:50:08Z", events: [] });
  let raw: Server;
  let base = "";
  const hits = new Map<string, number>();
  /** Endless bodies whose connection the client closed. */
  const closed = new Set<string>();
  beforeAll(async () => {
    raw = createServer((req, res) => {
      const path = req.url ?? "";
      hits.set(path, (hits.get(path) ?? 0) + 1);
      if (path === "/moved") res.writeHead(301, { location: "/found" }).end();
      else if (path === "/found") res.writeHead(302, { location: `${base}/gzip` }).end();
      else if (path === "/gzip") res.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip" }).end(gzipSync(doc));
      else if (path === "/br") res.writeHead(200, { "content-encoding": "br" }).end(brotliCompressSync(doc));
      else if (path === "/cut") {
        // Promises more than it sends, then drops the connection (the first time only).
        res.writeHead(200, { "content-length": String(doc.length + 100) });
        if (hits.get(path) === 1) res.write(doc.slice(0, 10), () => res.destroy());
        else res.end(`${doc}${" ".repeat(100)}`);
      } else if (path === "/stall") {
        res.writeHead(200, { "content-type": "application/json" });
        res.write(doc.slice(0, 10)); // ...and never the rest
      } else if (path === "/endless" || path === "/endless-page") {
        // Small events (or paragraphs) for ever, as fast as the client reads, until it hangs up.
        res.writeHead(200, { "content-type": path === "/endless" ? "application/json" : "text/html" });
        const piece = path === "/endless" ? '{"id":1},'.repeat(1000) : "<p>row</p>".repeat(1000);
        res.write(path === "/endless" ? '{"events":[' : "<div>");
        const more = () => {
          while (!res.destroyed && res.write(piece));
        };
        res.on("drain", more);
        res.on("close", () => closed.add(path));
        more();
      } else if (path === "/huge-event") {
        res.writeHead(200, { "content-type": "application/json" }).end(`{"events":[{"id":1,"notes":"${"x".repeat(2 * 1024 * 1024)}"}]}`);
      } else res.writeHead(404).end();
    });
    await new Promise<void>((done) => raw.listen(0, "127.0.0.1", done));
    base = `http://127.0.0.1:${(raw.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    raw.closeAllConnections();
    await new Promise<void>((done) => raw.close(() => done()));
  });
  const expected = { syncedAt: "2026-08-24T11:50:08Z", events: [], malformed: 0, problems: [] };

  it("follows redirects and decodes gzip and brotli bodies", async () => {
    expect(await fast().read(`${base}/moved`, "schedule moved", readScheduleList)).toEqual(expected);
    expect([hits.get("/moved"), hits.get("/found"), hits.get("/gzip")]).toEqual([1, 1, 1]);
    expect(await fast().read(`${base}/br`, "schedule br", readScheduleList)).toEqual(expected);
  });

  it("retries a body cut off mid-way, and counts one download", async () => {
    const fetcher = fast();
    expect(await fetcher.read(`${base}/cut`, "schedule cut", readScheduleList)).toEqual(expected);
    expect(hits.get("/cut")).toBe(2);
    expect(fetcher.stats).toEqual({ requests: 1, downloads: 1 });
  });

  it("an endless body, a page too long and one huge value are refused at their limit, not retried, and the download is closed", async () => {
    // The deployed scrape has a 64 MB heap: held, any of these ended it with V8's out-of-memory crash.
    const fetcher = createFeedFetcher({ timeoutMs: 10_000, baseDelayMs: 5, log: silentLogger, maxFeedChars: 512 * 1024 });
    const endless = await caught(fetcher.read(`${base}/endless`, "schedule endless", readSchedule));
    expect(endless).toMatchObject({ code: "source_unreadable", kind: "permanent" });
    expect(endless!.message).toBe(`schedule endless: ${base}/endless: the document is over 0.5 MiB of text, far more than any feed this scraper reads: a broken or foreign source`);
    const page = await caught(fast().text(`${base}/endless-page`, "modular11 page"));
    expect(page).toMatchObject({ code: "source_unreadable" });
    expect(page!.message).toContain("the document is over 0.5 MiB of text");
    const huge = await caught(fast().read(`${base}/huge-event`, "schedule huge", readSchedule));
    expect(huge).toMatchObject({ code: "source_unreadable" });
    expect(huge!.message).toContain('element 0 of "events" is over 1 MiB of text');
    expect([hits.get("/endless"), hits.get("/endless-page"), hits.get("/huge-event")]).toEqual([1, 1, 1]);
    await expect.poll(() => [...closed].sort()).toEqual(["/endless", "/endless-page"]);
  });

  it("a body that stalls mid-way times out like a silent server", async () => {
    const fetcher = createFeedFetcher({ timeoutMs: 150, baseDelayMs: 5, log: silentLogger });
    const err = await caught(fetcher.read(`${base}/stall`, "schedule stall", readSchedule));
    expect(err).toMatchObject({ code: "source_unreachable" });
    expect(err!.message).toBe(`cannot reach ${new URL(base).host} for schedule stall: body interrupted: timed out (3 attempts)`);
    expect(hits.get("/stall")).toBe(3);
  });
});

describe("scrape() over HTTP", () => {
  const options = (o: Partial<ScrapeOptions> = {}): ScrapeOptions => ({ source: "assist", league: "Homegrown", seasonFirstYear: 2026, assistBaseUrl: server.url, modular11BaseUrl: server.url, ...o });

  it("downloads each feed once per run, however many targets use it", async () => {
    const before = [server.hits.get(SCHEDULE) ?? 0, server.hits.get(STANDINGS) ?? 0];
    const fetcher = fast();
    const deps = { fetcher, now: () => new Date("2026-09-20T00:00:00Z"), log: silentLogger };
    const u13 = await scrape(options({ ageGroups: ["U13"] }), deps);
    const u14 = await scrape(options({ ageGroups: ["U14"], division: "Florida" }), deps);
    const both = await scrape(options({ ageGroups: ["U13", "U14"] }), deps);
    expect([u13.matches.length, u14.matches.length, both.matches.length]).toEqual([1, 2, 4]);
    expect([server.hits.get(SCHEDULE)! - before[0]!, server.hits.get(STANDINGS)! - before[1]!]).toEqual([1, 1]);
    expect(fetcher.stats).toEqual({ requests: 6, downloads: 2 });
  });

  it("a mirror's credentials (user:password@, a token in the query) are in neither the result's feed list nor an error message", async () => {
    const withSecret = (u: string) => {
      const url = new URL(u);
      url.username = "mirror";
      url.password = "feed-hunter2";
      return url.toString();
    };
    const deps = { fetcher: fast(), now: () => new Date("2026-09-20T00:00:00Z"), log: silentLogger };
    const result = await scrape(options({ assistBaseUrl: withSecret(server.url) }), deps);
    expect(result.matches.length).toBeGreaterThan(0);
    expect(result.metadata.feeds).toEqual([`${withSecret(server.url).replace("feed-hunter2", "***")}data/schedule/mls-next-league-26-27.json`, `${withSecret(server.url).replace("feed-hunter2", "***")}data/standings/mls-next-league-26-27.json`]);
    server.failNext("/secret/gone.json", [404]);
    const notFound = await caught(fast().read(`${withSecret(server.url)}secret/gone.json`, "schedule gone", readSchedule));
    const notJson = await caught(fast().read(`${server.url}/data/schedule/unknown-key.json?token=feed-hunter2`, "schedule unknown-key", readSchedule));
    expect(notFound!.message).toMatch(/schedule gone: http:\/\/mirror:\*\*\*@127\.0\.0\.1:\d+\/secret\/gone\.json answered HTTP 404/);
    expect(notJson!.message).toMatch(/schedule unknown-key: .*\?token=\*\*\* did not answer JSON/);
    for (const text of [JSON.stringify(result.metadata), notFound!.message, notJson!.message]) expect(text).not.toContain("hunter2");
  });

  it("reads a generated full season served over HTTP", async () => {
    const feed = generateSeasonFeed({ events: 2000, seasonFirstYear: 2027, seed: 3 });
    server.set("/data/schedule/mls-next-league-27-28.json", feed.schedule);
    server.set("/data/standings/mls-next-league-27-28.json", feed.standings);
    const result = await scrape(options({ seasonFirstYear: 2027 }), { fetcher: fast(), now: () => new Date("2028-01-01T00:00:00Z"), log: silentLogger });
    expect(result.counts.events).toBe(feed.schedule.events.length);
    expect(result.matches.length).toBe(feed.schedule.events.length);
    expect(result.counts.postponed).toBe(feed.facts.postponed);
  });
});

describe("scrape() from modular11 over HTTP", () => {
  const page0 = readFileSync(new URL("../fixtures/modular11/page-u14-northeast-0.html", import.meta.url), "utf8");
  const empty = readFileSync(new URL("../fixtures/modular11/page-empty.html", import.meta.url), "utf8");

  it("pages with open_page from 0 until `No data available.`, for each age and group asked", async () => {
    const seen: string[] = [];
    server.route("/public_schedule/league/get_matches", (url) => {
      const q = url.searchParams;
      seen.push(`${q.get("age[]")}/${q.get("groups[]")}/${q.get("open_page")}/${q.get("status")}/${q.get("start_date")}/${q.get("end_date")}`);
      // Two pages of rows (the second the first with one match changed: duplicates must not double-count), then the end.
      const page = Number(q.get("open_page"));
      return page === 0 ? page0 : page === 1 ? page0.replaceAll("99963", "99969") : empty;
    });
    const result = await scrape(
      { source: "modular11", league: "Homegrown", seasonFirstYear: 2025, ageGroups: ["U14"], division: "northeast", from: "2025-09-01", to: "2026-06-30", assistBaseUrl: server.url, modular11BaseUrl: server.url },
      { fetcher: fast(), now: () => new Date("2025-10-01T12:00:00Z"), log: silentLogger },
    );
    expect(seen).toEqual([0, 1, 2].map((p) => `22/41/${p}/all/2025-09-01 00:00:00/2026-06-30 23:59:59`));
    expect(result.matches.map((m) => [m.external_match_id, m.match_status])).toEqual([
      ["99963", "completed"],
      ["99969", "completed"],
      ["99971", "scheduled"],
      ["100412", "scheduled"],
    ]);
    expect(result.counts).toMatchObject({ duplicates: 2, malformed: 2 });
    expect(result.matches.every((m) => m.source === "mlsnext-modular11" && m.division === "Northeast" && m.season === "2025-26")).toBe(true);
  });

  it("a site that ignores open_page (the same page again) is read no further, said as a problem, instead of 400 times", async () => {
    let asked = 0;
    server.route("/public_schedule/league/get_matches", () => {
      asked += 1;
      return page0;
    });
    const result = await scrape(
      { source: "modular11", league: "Homegrown", seasonFirstYear: 2025, ageGroups: ["U14"], division: "northeast", from: "2025-09-01", to: "2026-06-30", assistBaseUrl: server.url, modular11BaseUrl: server.url },
      { fetcher: fast(), now: () => new Date("2025-10-01T12:00:00Z"), log: silentLogger },
    );
    expect(asked).toBe(2);
    expect(result.matches.map((m) => m.external_match_id)).toEqual(["99963", "99971", "100412"]);
    expect(result.problems.map((p) => [p.where, p.reason])).toContainEqual(["modular11 U14 Northeast page 1", "repeats page 0: the site did not page (open_page); read no further for U14 Northeast"]);
    expect(result.counts).toMatchObject({ malformed: 1 });
  });
});
