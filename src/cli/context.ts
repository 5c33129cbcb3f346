/** What every command receives: validated config and a logger, made once per process. */
import { loadConfig, type Config } from "../config.js";
import { createLogger, type Logger } from "../log.js";

export interface CliContext {
  config: Config;
  log: Logger;
}

let cached: CliContext | undefined;

/** Loads config lazily, so `--help` works even when the environment is wrong. */
export function cliContext(): CliContext {
  if (!cached) {
    const config = loadConfig();
    cached = { config, log: createLogger({ level: config.logLevel, name: "matchflow" }) };
  }
  return cached;
}
