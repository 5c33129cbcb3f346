/**
 * Node's process warnings reach the log as JSON lines: node-postgres warns about `sslmode=require`
 * in nine lines of free text, which a log collector reading JSON lines split into nine unparsable
 * entries. NODE_NO_WARNINGS=1 still silences them.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runIsolatedCli, SPAWN_TIMEOUT } from "../helpers/cli-isolated.js";

// Nothing listens on port 1: the warning comes when the URL is read, before any connection.
const SSL_REQUIRE_URL = "postgres://matchflow@127.0.0.1:1/matchflow?sslmode=require";

describe("process warnings", () => {
  it("are log lines, one JSON object each, with Node's text as the message", async () => {
    const { code, stderr } = await runIsolatedCli(["migrate"], { DATABASE_URL: SSL_REQUIRE_URL });
    expect(code).toBe(5);
    const lines = stderr.trimEnd().split("\n");
    // Every line is a JSON log line, but the command's one-line failure at the end.
    expect(lines.at(-1)).toMatch(/^matchflow: database unreachable/);
    const logged = lines.slice(0, -1).map((line) => JSON.parse(line) as { level: string; msg: string; warning?: string });
    const warning = logged.find((l) => l.msg.startsWith("SECURITY WARNING: The SSL modes"));
    expect(warning).toMatchObject({ level: "warn", warning: "Warning" });
    expect(warning?.msg).toContain("sslmode=verify-full");
    expect(stderr).not.toContain("(node:");
  }, SPAWN_TIMEOUT);

  it("stay in the file Node's --redirect-warnings names", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mf-warnings-"));
    try {
      const file = join(dir, "warnings.txt");
      const { code, stderr } = await runIsolatedCli(["migrate"], { DATABASE_URL: SSL_REQUIRE_URL, NODE_OPTIONS: `--redirect-warnings=${file}` });
      expect(code).toBe(5);
      expect(stderr).not.toContain("SECURITY WARNING");
      expect(readFileSync(file, "utf8")).toContain("SECURITY WARNING: The SSL modes");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, SPAWN_TIMEOUT);

  it("stay silent under NODE_NO_WARNINGS=1", async () => {
    const { code, stderr } = await runIsolatedCli(["migrate"], { DATABASE_URL: SSL_REQUIRE_URL, NODE_NO_WARNINGS: "1" });
    expect(code).toBe(5);
    expect(stderr).not.toContain("SECURITY WARNING");
  }, SPAWN_TIMEOUT);
});
