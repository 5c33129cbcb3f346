/**
 * The CLI's one-line failure (`matchflow: <message>`) quotes what a feed sent: "did not answer
 * JSON (it starts "...")". A feed (or whoever answers for it) that starts its body with ESC
 * sequences retitled, cleared and recoloured the operator's terminal through that line: it was
 * written raw. It is written with control characters escaped (terminal-text.ts), one line per line.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { useLocalServer } from "../helpers/local-http.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const HOSTILE = "\x1b]0;PWNED\x07\x1b[2J\x1b[31mred \u202eevil";

const base = useLocalServer((_req, res) => void res.writeHead(200, { "content-type": "text/plain" }).end(HOSTILE));

function runCli(args: string[], env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { cwd: root, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", LOG_LEVEL: "silent", ...env }, timeout: 60_000 }, (error, _stdout, stderr) =>
      resolve({ code: typeof error?.code === "number" ? error.code : 0, stderr }),
    );
  });
}

describe("a failure quoting a feed's text", () => {
  it("is printed with the feed's control characters and bidirectional overrides escaped", async () => {
    const { code, stderr } = await runCli(["scrape", "--no-submit", "--age-group", "U14", "--division", "Northeast", "--season", "2026"], { ASSIST_BASE_URL: base(), HTTP_TIMEOUT: "10s" });
    expect(code).toBe(3);
    expect(stderr).toContain('did not answer JSON (it starts "\\x1b]0;PWNED\\x07\\x1b[2J\\x1b[31mred \\u202eevil")');
    for (const raw of ["\x1b", "\x07", "\u202e"]) expect(stderr).not.toContain(raw);
  }, 60_000);

  it("keeps the lines of a multi-line message (every configuration problem on its own line)", async () => {
    const { code, stderr } = await runCli(["config"], { WORKER_BATCH_SIZE: "0", RETRY_MAX: "x\x1b[2J" });
    expect(code).toBe(2);
    expect(stderr).toContain('matchflow: invalid configuration:\n  - WORKER_BATCH_SIZE "0" must be');
    expect(stderr).toContain('\n  - RETRY_MAX "x\\x1b[2J" must be');
    expect(stderr).not.toContain("\x1b");
  }, 60_000);
});
