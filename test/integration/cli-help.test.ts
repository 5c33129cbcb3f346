/**
 * `matchflow help <command> [<subcommand>]`: `help dlq list` showed dlq's help instead of list's,
 * and `help nosuch` printed the whole help, exit 2, without saying why (while `dlq lst` says
 * "unknown command" and "Did you mean list?").
 */
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";

describe("matchflow help", { concurrent: true, timeout: 60_000 }, () => {
  it.each([[["help", "dlq", "list"]], [["dlq", "help", "list"]]])("%j shows the subcommand's help, exit 0", async (args) => {
    const run = await runCli(args, {});
    expect(run.stdout).toMatch(/^Usage: matchflow dlq list \[options\]\n/);
    expect(run.stdout).toContain("--code <codes>");
    expect(run).toMatchObject({ code: 0, stderr: "" });
  });

  it("help nosuch says the command is unknown, exit 2, without the whole help", async () => {
    const run = await runCli(["help", "nosuch"], {});
    expect(run).toEqual({ code: 2, stdout: "", stderr: "error: unknown command 'nosuch'\n(run with --help for usage)\n" });
  });

  it("with commander's suggestion when it has one, at any level", async () => {
    expect(await runCli(["help", "conifg"], {})).toEqual({ code: 2, stdout: "", stderr: "error: unknown command 'conifg'\n(Did you mean config?)\n(run with --help for usage)\n" });
    expect(await runCli(["help", "dlq", "lst"], {})).toEqual({ code: 2, stdout: "", stderr: "error: unknown command 'lst'\n(Did you mean list?)\n(run with --help for usage)\n" });
  });

  it("help and help <command> are as before", async () => {
    const all = await runCli(["help"], {});
    expect(all.stdout).toMatch(/^Usage: matchflow \[options\] \[command\]/);
    expect(all.code).toBe(0);
    const dlq = await runCli(["help", "dlq"], {});
    expect(dlq.stdout).toMatch(/^Usage: matchflow dlq \[options\] \[command\]/);
    expect(dlq.code).toBe(0);
  });
});
