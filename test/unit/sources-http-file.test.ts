/** Recorded feeds through file:// URLs (`--source-dir`): same fetcher, same errors. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { scheduleUrl } from "../../src/sources/assist/keys.js";
import { readSchedule } from "../../src/sources/assist/parse.js";
import { createFeedFetcher, sourceDirUrl } from "../../src/sources/http.js";
import { MAX_PAGE_CHARS, MAX_VALUE_CHARS } from "../../src/sources/limits.js";

const fetcher = () => createFeedFetcher({ timeoutMs: 1000 });
/** Temporary directories of this file, removed after it. */
const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "feeds-"));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
/** The error a recorded feed's read fails with (fails the test when the read succeeds). */
const readError = (url: string): Promise<Error> =>
  fetcher()
    .read(url, "schedule k", readSchedule)
    .then(
      () => expect.unreachable("the read succeeded"),
      (e: unknown) => e as Error,
    );

describe("file:// feeds", () => {
  it("reads a recorded feed laid out as data/schedule/{key}.json, once per run", async () => {
    const f = fetcher();
    const url = scheduleUrl(sourceDirUrl("samples/mlsnext"), "mls-next-league-26-27");
    const doc = await f.read(url, "schedule", readSchedule);
    expect(doc.events.length).toBeGreaterThan(30);
    await f.read(url, "schedule", readSchedule);
    expect(f.stats).toEqual({ requests: 2, downloads: 1 });
  });

  it("a missing recorded feed is source_unreadable naming the key and the path", async () => {
    const dir = tempDir();
    const err = await fetcher()
      .read(scheduleUrl(sourceDirUrl(dir), "mls-next-flex-31-32"), "schedule mls-next-flex-31-32", readSchedule)
      .then(() => undefined, (e: unknown) => e as Error);
    expect(err).toMatchObject({ code: "source_unreadable", kind: "permanent" });
    expect(err!.message).toContain("schedule mls-next-flex-31-32");
    expect(err!.message).toContain(join(dir, "data", "schedule", "mls-next-flex-31-32.json"));
  });

  it("a recorded file that is not JSON is refused, saying what it starts with (no hint about HTTP)", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "shell.json"), "<!doctype html><html></html>");
    const err = await readError(`${sourceDirUrl(dir)}/shell.json`);
    expect(err).toMatchObject({ code: "source_unreadable" });
    expect(err.message).toMatch(new RegExp(`^schedule k: ${join(dir, "shell.json")} is not valid JSON \\(.*; it starts "<!doctype html><html></html>"\\): record the feed again$`));
  });

  it("an empty or truncated recorded feed says so", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "empty.json"), "\n");
    writeFileSync(join(dir, "cut.json"), '{"synced_at": "2026-08-24T11:50:08Z", "events": [{"id": 1');
    const empty = await readError(`${sourceDirUrl(dir)}/empty.json`);
    expect(empty.message).toBe(`schedule k: ${join(dir, "empty.json")} is empty: record the feed again`);
    const cut = await readError(`${sourceDirUrl(dir)}/cut.json`);
    expect(cut.message).toMatch(/^schedule k: .*cut\.json is not valid JSON \(unexpected end of the document; it starts "\{"synced_at/);
    expect(cut.message).not.toMatch(/HTML|answer/);
  });

  it("a recorded feed with a value over the limit is refused with its path, before it is held whole", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "huge.json"), `{"events":[{"id":1},{"id":2,"notes":"${"x".repeat(MAX_VALUE_CHARS + 1)}"}]}`);
    const err = await readError(`${sourceDirUrl(dir)}/huge.json`);
    expect(err).toMatchObject({ code: "source_unreadable", kind: "permanent" });
    expect(err.message).toBe(`schedule k: ${join(dir, "huge.json")}: element 1 of "events" is over 1 MiB of text, far more than any feed this scraper reads: a broken or foreign source`);
  });

  it("a Modular11 page over its limit is refused before cheerio parses it (a DOM costs tens of times the text)", async () => {
    const dir = tempDir();
    const row = '<div class="row table-content-row hidden-xs"><div>99963 MALE</div></div>';
    writeFileSync(join(dir, "page.html"), row.repeat(Math.ceil(MAX_PAGE_CHARS / row.length) + 1));
    writeFileSync(join(dir, "ok.html"), row.repeat(Math.floor(MAX_PAGE_CHARS / row.length)));
    const err = await fetcher()
      .text(`${sourceDirUrl(dir)}/page.html`, "modular11 U14 Northeast page 0")
      .then(() => expect.unreachable("the read succeeded"), (e: unknown) => e as Error);
    expect(err).toMatchObject({ code: "source_unreadable", kind: "permanent" });
    expect(err.message).toBe(`modular11 U14 Northeast page 0: ${join(dir, "page.html")}: the document is over 0.5 MiB of text, far more than any feed this scraper reads: a broken or foreign source`);
    expect(await fetcher().text(`${sourceDirUrl(dir)}/ok.html`, "page")).toHaveLength(Math.floor(MAX_PAGE_CHARS / row.length) * row.length);
  });
});
