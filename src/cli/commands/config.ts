import type { Command } from "commander";
import { redactedConfig } from "../../config.js";
import { cliContext } from "../context.js";

export function registerConfig(program: Command): void {
  program
    .command("config")
    .description("print the effective configuration (from the environment), credentials redacted")
    .action(() => {
      const { config } = cliContext();
      process.stdout.write(`${JSON.stringify(redactedConfig(config), null, 2)}\n`);
    });
}
