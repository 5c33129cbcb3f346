/**
 * HTTP_TIMEOUT against a local HTTP server: a limit on silence (for the answer, then between
 * body chunks), not on the whole download, which has a far longer limit of its own.
 */
import { readFileSync } from "node:fs";
import { type ServerResponse } from "node:http";
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../src/log.js";
import { readSchedule } from "../../src/sources/assist/parse.js";
import { WHOLE_DOWNLOAD_TIMEOUTS } from "../../src/sources/deadline.js";
import { createFeedFetcher } from "../../src/sources/http.js";
import { useLocalServer } from "../helpers/local-http.js";

const SCHEDULE = readFileSync(new URL("../fixtures/mlsnext-assist/schedule-league-26-27.json", import.meta.url), "utf8");

/** Writes `pieces` one every `everyMs`, then ends (or not); stops when the client hangs up. */
function trickle(res: ServerResponse, pieces: string[], everyMs: number, end: boolean): void {
  res.writeHead(200, { "content-type": "application/json" });
  let i = 0;
  const timer = setInterval(() => {
    if (res.destroyed) return clearInterval(timer);
    if (i < pieces.length) return void res.write(pieces[i++]);
    clearInterval(timer);
    if (end) res.end();
  }, everyMs);
  res.on("close", () => clearInterval(timer));
}

const split = (text: string, n: number) => Array.from({ length: n }, (_, i) => text.slice((i * text.length) / n, ((i + 1) * text.length) / n));

const hits = new Map<string, number>();
const base = useLocalServer((req, res) => {
  const path = req.url ?? "";
  hits.set(path, (hits.get(path) ?? 0) + 1);
  // 15 pieces 60 ms apart: ~0.9 s in all, never silent for long.
  if (path === "/steady") trickle(res, split(SCHEDULE, 15), 60, true);
  // A first piece, then silence.
  else if (path === "/stall") trickle(res, [SCHEDULE.slice(0, 100)], 10, false);
  // A space every 40 ms for ever: never silent, never done.
  else if (path === "/endless") trickle(res, [SCHEDULE.slice(0, 100), ...Array.from({ length: 1000 }, () => " ")], 40, false);
  else res.writeHead(404).end();
});

const fetcher = (timeoutMs: number) => createFeedFetcher({ timeoutMs, attempts: 1, log: silentLogger, sleep: () => Promise.resolve() });
const caught = (p: Promise<unknown>) => p.then(() => undefined, (err: unknown) => err as Error & { code?: string });

describe("HTTP_TIMEOUT", () => {
  it("a steady body that takes longer in all than the timeout downloads (a deadline for the whole download failed every attempt)", async () => {
    const doc = await fetcher(300).read(`${base()}/steady`, "schedule k", readSchedule);
    expect(doc.events).toHaveLength(4);
    expect(hits.get("/steady")).toBe(1);
  });

  it("a body silent for longer than the timeout fails the attempt as timed out", async () => {
    const started = Date.now();
    const err = await caught(fetcher(300).read(`${base()}/stall`, "schedule k", readSchedule));
    expect(err).toMatchObject({ code: "source_unreachable" });
    expect(err!.message).toBe(`cannot reach ${new URL(base()).host} for schedule k: body interrupted: timed out (1 attempts)`);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it(`a body that never stops coming ends at ${WHOLE_DOWNLOAD_TIMEOUTS} timeouts in all`, async () => {
    const started = Date.now();
    const err = await caught(fetcher(100).read(`${base()}/endless`, "schedule k", readSchedule));
    const took = Date.now() - started;
    expect(err).toMatchObject({ code: "source_unreachable" });
    expect(err!.message).toBe(`cannot reach ${new URL(base()).host} for schedule k: body interrupted: timed out: still downloading after 1 s (1 attempts)`);
    expect(took).toBeGreaterThanOrEqual(100 * WHOLE_DOWNLOAD_TIMEOUTS - 50);
    expect(took).toBeLessThan(3000);
  });
});
