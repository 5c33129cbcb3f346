import type { Command } from "commander";
import { redactedConfig } from "../../config.js";
import { jsonForTerminal } from "../../terminal-text.js";
import { cliContext } from "../context.js";

export function registerConfig(program: Command): void {
  program
    .command("config")
    .description("print the effective configuration (from the environment), credentials redacted")
    .action(() => {
      const { config } = cliContext();
      // Unset optional settings print as null: every setting is listed, not only the ones given.
      process.stdout.write(`${jsonForTerminal(JSON.stringify(redactedConfig(config), (_key, value: unknown) => (value === undefined ? null : value), 2))}\n`);
    });
}
