#!/usr/bin/env node
/**
 * The `matchflow` command line. Commands parse flags, build config, call an app and map errors
 * to exit codes (`exit-codes.ts`); a failure prints one clear line, not a stack trace
 * (set LOG_LEVEL=debug to see the stack).
 */
import { Command, CommanderError } from "commander";
import { errorMessage } from "../errors.js";
import { printable } from "../terminal-text.js";
import { MATCHFLOW_VERSION } from "../version.js";
import { COMMANDS } from "./commands/index.js";
import { EXIT, exitCodeFor } from "./exit-codes.js";
import { outputFailure, quietWhenReaderGoes } from "./output-stream.js";

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

/**
 * `help <command> [<subcommand>...]` (also `dlq help list`) as `<command> <subcommand> --help`:
 * commander's own help command looks at one word only, so `help dlq list` showed dlq's help, and
 * `help nosuch` printed the whole help, exit 2, without saying why. A name no command has becomes
 * that command line itself, which commander refuses as it refuses `matchflow nosuch`: "unknown
 * command 'nosuch'", with its "Did you mean ...?" (exit 2). Any other command line is left as is.
 */
export function helpArgv(program: Command, argv: string[]): string[] {
  const words = argv.slice(2);
  let cmd = program;
  let at = 0;
  // The command path before "help" (none for `matchflow help ...`).
  for (; at < words.length; at++) {
    const sub = subcommand(cmd, words[at] ?? "");
    if (sub === undefined) break;
    cmd = sub;
  }
  // `help` alone, or a word that is no help command: commander's as before.
  if (words[at] !== "help" || cmd.commands.length === 0 || at === words.length - 1) return argv;
  const path = words.slice(0, at);
  for (const word of words.slice(at + 1)) {
    if (cmd.commands.length === 0) break; // a command without subcommands: its help, whatever follows
    path.push(word);
    const sub = subcommand(cmd, word);
    if (sub === undefined) return [...argv.slice(0, 2), ...path];
    cmd = sub;
  }
  return [...argv.slice(0, 2), ...path, "--help"];
}

function subcommand(cmd: Command, name: string): Command | undefined {
  return cmd.commands.find((c) => c.name() === name || c.aliases().includes(name));
}

/**
 * A failure's text for the terminal: messages quote what feeds, producers and brokers sent ("did
 * not answer JSON (it starts ...)"), whose ESC sequences retitled and recoloured the operator's
 * terminal when written raw. Escaped line by line: a configuration error lists its problems one
 * a line.
 */
function printableLines(text: string): string {
  return text.split("\n").map(printable).join("\n");
}

async function runCommand(argv: string[]): Promise<{ code: number; said?: unknown }> {
  const program = await buildProgram(argv);
  program.commands.forEach(function override(cmd: Command): void {
    cmd.exitOverride();
    cmd.commands.forEach(override);
  });
  try {
    await program.parseAsync(helpArgv(program, argv));
    return { code: typeof process.exitCode === "number" ? process.exitCode : EXIT.ok };
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help, `help` and --version succeed (commander says exit code 0); help shown because a
      // command is missing, and every parse error, is a usage error.
      if (err.exitCode === 0) return { code: EXIT.ok };
      return { code: EXIT.usage };
    }
    process.stderr.write(`matchflow: ${printableLines(errorMessage(err))}\n`);
    if (/^(debug|trace)$/i.test(process.env.LOG_LEVEL ?? "") && err instanceof Error && err.stack) process.stderr.write(`${printableLines(err.stack)}\n`);
    return { code: exitCodeFor(err), said: err };
  }
}

export async function main(argv: string[]): Promise<number> {
  const { code, said } = await runCommand(argv);
  // stdout could not be written (a full disk): said once, on one line; a command that failed
  // otherwise keeps its own exit code, one that did its work exits 74 (cli/output-stream.ts).
  const failure = await outputFailure(process.stdout);
  if (failure === undefined) return code;
  if (failure !== said) process.stderr.write(`matchflow: ${failure.message}\n`);
  return code === EXIT.ok ? EXIT.output : code;
}

// Run when executed directly (bin or `tsx src/cli/main.ts`), not when imported by tests.
const invokedPath = process.argv[1] ?? "";
if (/cli[\\/]main\.(ts|js)$/.test(invokedPath) || /matchflow$/.test(invokedPath)) {
  quietWhenReaderGoes(process.stdout);
  quietWhenReaderGoes(process.stderr);
  const code = await main(process.argv);
  process.exitCode = code;
}
