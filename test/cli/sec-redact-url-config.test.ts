/**
 * `matchflow config` as a process does not echo a password that reads as a port and a path
 * (`user:1234/pa55@host`): redactUrl's cases are unit-tested in test/unit/sec-redact-url.test.ts.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

describe("a password that reads as a port and a path", () => {
  it("nor by `matchflow config`", async () => {
    const root = fileURLToPath(new URL("../..", import.meta.url));
    const stderr = await new Promise<string>((resolve) =>
      execFile(process.execPath, ["--import", "tsx", "src/cli/main.ts", "config"], { cwd: root, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", RESULT_BACKEND: "redis://user:1234/pa55word@redis:6379/0" }, timeout: 60_000 }, (_e, _o, err) => resolve(err)),
    );
    expect(stderr).toContain("RESULT_BACKEND");
    expect(stderr).not.toContain("pa55word");
  }, 60_000);
});
