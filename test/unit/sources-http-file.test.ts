/** Recorded feeds through file:// URLs (`--source-dir`): same fetcher, same errors. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { scheduleUrl } from "../../src/sources/assist/keys.js";
import { readSchedule } from "../../src/sources/assist/parse.js";
import { createFeedFetcher, sourceDirUrl } from "../../src/sources/http.js";

const fetcher = () => createFeedFetcher({ timeoutMs: 1000 });

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
    const dir = mkdtempSync(join(tmpdir(), "feeds-"));
    const err = await fetcher()
      .read(scheduleUrl(sourceDirUrl(dir), "mls-next-flex-31-32"), "schedule mls-next-flex-31-32", readSchedule)
      .then(() => undefined, (e: unknown) => e as Error);
    expect(err).toMatchObject({ code: "source_unreadable", kind: "permanent" });
    expect(err!.message).toContain("schedule mls-next-flex-31-32");
    expect(err!.message).toContain(join(dir, "data", "schedule", "mls-next-flex-31-32.json"));
  });

  it("a recorded HTML page is refused like the live shell", async () => {
    const dir = mkdtempSync(join(tmpdir(), "feeds-"));
    writeFileSync(join(dir, "shell.json"), "<!doctype html><html></html>");
    await expect(fetcher().read(`${sourceDirUrl(dir)}/shell.json`, "schedule k", readSchedule)).rejects.toThrow(/schedule k: .* did not answer JSON \(it starts "<!doctype html><html><\/html>"\)/);
  });
});
