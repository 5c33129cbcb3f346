/**
 * How the feed fetcher classes a failed download, against a local HTTP server (no network, no
 * service): downloaded again (transient) or refused at once (permanent), and said why.
 */
import { readFileSync } from "node:fs";
import { type IncomingMessage, type ServerResponse } from "node:http";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../src/log.js";
import { readSchedule, readStandings } from "../../src/sources/assist/parse.js";
import { createFeedFetcher } from "../../src/sources/http.js";
import { useLocalServer } from "../helpers/local-http.js";

const STANDINGS = readFileSync(new URL("../fixtures/mlsnext-assist/standings-league-26-27.json", import.meta.url), "utf8");
const SCHEDULE = readFileSync(new URL("../fixtures/mlsnext-assist/schedule-league-26-27.json", import.meta.url), "utf8");

const hits = new Map<string, number>();
const routes: Record<string, (req: IncomingMessage, res: ServerResponse, hit: number) => void> = {
  // No content-length and the connection closed: the body ends where the cut is, as if complete.
  "/cut-standings": (_req, res, hit) => {
    res.writeHead(200, { "content-type": "application/json", connection: "close" });
    res.end(hit === 1 ? STANDINGS.slice(0, 600) : STANDINGS);
  },
  "/corrupt-gzip": (_req, res) => res.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip" }).end(SCHEDULE),
  "/cut-gzip": (_req, res, hit) => {
    const gz = gzipSync(SCHEDULE);
    res.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip", connection: "close" });
    res.end(hit === 1 ? gz.subarray(0, 200) : gz);
  },
  "/to-file": (_req, res) => res.writeHead(302, { location: "file:///etc/hostname" }).end(),
  "/408-then-ok": (_req, res, hit) => {
    if (hit === 1) res.writeHead(408).end();
    else res.writeHead(200, { "content-type": "application/json" }).end(SCHEDULE);
  },
};
const base = useLocalServer((req, res) => {
  const path = req.url ?? "";
  const hit = (hits.get(path) ?? 0) + 1;
  hits.set(path, hit);
  const route = routes[path];
  if (route) route(req, res, hit);
  else res.writeHead(404).end();
});

const fetcher = () => createFeedFetcher({ timeoutMs: 2000, log: silentLogger, sleep: () => Promise.resolve() });
const caught = (p: Promise<unknown>) => p.then(() => undefined, (err: unknown) => err as Error & { code?: string; kind?: string });

describe("feed downloads: retried or refused", () => {
  it("a standings body cut off mid-document (no length, connection closed) is downloaded again, as a schedule is", async () => {
    const doc = await fetcher().read(`${base()}/cut-standings`, "standings k", readStandings);
    expect(doc.brackets.map((b) => b.id)).toEqual(["69", "68", "41"]);
    expect(hits.get("/cut-standings")).toBe(2);
  });

  it("a body that is not gzip though it says so is refused at once, not called unreachable", async () => {
    const err = await caught(fetcher().read(`${base()}/corrupt-gzip`, "schedule k", readSchedule));
    expect(err).toMatchObject({ code: "source_unreadable", kind: "permanent" });
    expect(err!.message).toBe(`schedule k: ${base()}/corrupt-gzip sent a body that its content-encoding cannot decode (Z_DATA_ERROR): a broken server or proxy, which sends the same bytes again`);
    expect(hits.get("/corrupt-gzip")).toBe(1);
  });

  it("a gzip body cut off early (the connection's doing) is still downloaded again", async () => {
    const doc = await fetcher().read(`${base()}/cut-gzip`, "schedule k", readSchedule);
    expect(doc.events).toHaveLength(4);
    expect(hits.get("/cut-gzip")).toBe(2);
  });

  it("a redirect to a file: URL is refused at once, saying where it led", async () => {
    const err = await caught(fetcher().read(`${base()}/to-file`, "schedule k", readSchedule));
    expect(err).toMatchObject({ code: "source_unreadable", kind: "permanent" });
    expect(err!.message).toBe(`schedule k: ${base()}/to-file redirected to file:///etc/hostname: only http and https redirects are followed`);
    expect(hits.get("/to-file")).toBe(1);
  });

  it("HTTP 408 (the server gave up waiting for the request) is asked again", async () => {
    const doc = await fetcher().read(`${base()}/408-then-ok`, "schedule k", readSchedule);
    expect(doc.events).toHaveLength(4);
    expect(hits.get("/408-then-ok")).toBe(2);
  });
});
