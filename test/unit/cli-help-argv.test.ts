/** `matchflow help <command> [<subcommand>]`: the command line main() parses instead (cli/main.ts helpArgv). */
import { describe, expect, it } from "vitest";
import { buildProgram, helpArgv } from "../../src/cli/main.js";

async function rewritten(...words: string[]): Promise<string[]> {
  const argv = ["node", "matchflow", ...words];
  return helpArgv(await buildProgram(argv), argv).slice(2);
}

describe("helpArgv", () => {
  it("shows a subcommand's help, not its group's (`help dlq list` showed dlq's)", async () => {
    expect(await rewritten("help", "dlq", "list")).toEqual(["dlq", "list", "--help"]);
    expect(await rewritten("dlq", "help", "list")).toEqual(["dlq", "list", "--help"]);
    expect(await rewritten("help", "worker")).toEqual(["worker", "--help"]);
    expect(await rewritten("help", "contract", "schema")).toEqual(["contract", "schema", "--help"]);
    // A command without subcommands: its help, whatever follows.
    expect(await rewritten("help", "scrape", "extra")).toEqual(["scrape", "--help"]);
  });

  it("turns a name no command has into that command line, which commander refuses as unknown (it printed the whole help)", async () => {
    expect(await rewritten("help", "nosuch")).toEqual(["nosuch"]);
    expect(await rewritten("help", "dlq", "lst")).toEqual(["dlq", "lst"]);
    expect(await rewritten("dlq", "help", "nosuch")).toEqual(["dlq", "nosuch"]);
  });

  it("leaves every other command line as it is", async () => {
    for (const words of [["help"], ["dlq", "help"], ["dlq", "list", "--json"], ["--help"], [], ["nosuch", "help"], ["scrape", "help"]]) {
      expect(await rewritten(...words)).toEqual(words);
    }
  });
});
