/**
 * A standings document at MAX_STANDINGS_CHARS parsed in a child node process under the
 * CronJob's own heap flags (bench/lib/deployed.ts), halved: the limit must leave room for the
 * schedule read beside it. The parse itself is unit-tested in test/unit/sources-assist-parse.test.ts.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { DEPLOYED_SCRAPER_NODE_ARGS } from "../../bench/lib/deployed.js";

describe("assist standings at the size limit", () => {
  it("a document at the limit parses under the CronJob's node flags in half its old space (the other half: the schedule read meanwhile)", async () => {
    // Measured: 8 MiB needs ~28 MiB of old space alone and 32 beside a 50,000-event schedule;
    // the old limit's 28 MiB died with "Reached heap limit" in all 64.
    const oldSpace = Number(/--max-old-space-size=(\d+)/.exec(DEPLOYED_SCRAPER_NODE_ARGS)?.[1]);
    const flags = DEPLOYED_SCRAPER_NODE_ARGS.replace(/--max-old-space-size=\d+/, `--max-old-space-size=${oldSpace / 2}`).split(" ");
    const script = fileURLToPath(new URL("../fixtures/standings-at-limit.ts", import.meta.url));
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, [...flags, "--import", "tsx", script], { timeout: 60_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr.slice(-500)}`)) : resolve(stdout))),
    );
    expect(out).toMatch(/^brackets \d{4}, \d+ characters\n$/);
  }, 60_000);
});
