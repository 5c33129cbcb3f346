#!/usr/bin/env node
/**
 * The `matchflow` command line. Commands parse flags, build config, call an app and map errors
 * to exit codes (`exit-codes.ts`); a failure prints one clear line, not a stack trace
 * (set LOG_LEVEL=debug to see the stack).
 */
import { Command, CommanderError } from "commander";
import { errorMessage } from "../errors.js";
import { MATCHFLOW_VERSION } from "../version.js";
import { COMMANDS } from "./commands/index.js";
import { EXIT, exitCodeFor } from "./exit-codes.js";
import { quietWhenReaderGoes } from "./output-stream.js";

/**
 * The program with the command named first on the command line only, or with every command
 * when the first argument names none (`--help`, `help`, a mistyped command: their output lists
 * them all).
 */
export async function buildProgram(argv: string[]): Promise<Command> {
  const program = new Command("matchflow")
    .description("MLS NEXT fixtures and results: scrape -> RabbitMQ (Celery-compatible) -> workers -> PostgreSQL")
    .version(MATCHFLOW_VERSION)
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();
  const first = argv[2] ?? "";
  const names = Object.hasOwn(COMMANDS, first) ? [first] : Object.keys(COMMANDS);
  for (const name of names) (await COMMANDS[name]!())(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = await buildProgram(argv);
  program.commands.forEach(function override(cmd: Command): void {
    cmd.exitOverride();
    cmd.commands.forEach(override);
  });
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help, `help` and --version succeed (commander says exit code 0); help shown because a
      // command is missing, and every parse error, is a usage error.
      if (err.exitCode === 0) return EXIT.ok;
      return EXIT.usage;
    }
    process.stderr.write(`matchflow: ${errorMessage(err)}\n`);
    if (/^(debug|trace)$/i.test(process.env.LOG_LEVEL ?? "") && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    return exitCodeFor(err);
  }
}

// Run when executed directly (bin or `tsx src/cli/main.ts`), not when imported by tests.
const invokedPath = process.argv[1] ?? "";
if (/cli[\\/]main\.(ts|js)$/.test(invokedPath) || /matchflow$/.test(invokedPath)) {
  quietWhenReaderGoes(process.stdout);
  quietWhenReaderGoes(process.stderr);
  const code = await main(process.argv);
  process.exitCode = code;
}
