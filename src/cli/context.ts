/** What every command receives: validated config and a logger, made once per process. */
import { pino } from "pino";
import { loadConfig, type Config } from "../config.js";
import { misspeltSettings } from "../config-typos.js";
import { seedOnlySettings } from "../config-seed-names.js";
import { createLogger, logProcessWarnings, type Logger } from "../log.js";

export interface CliContext {
  config: Config;
  log: Logger;
}

let cached: CliContext | undefined;

/**
 * Loads config lazily, so `--help` works even when the environment is wrong.
 * Log lines go to stdout for the services (`worker`, `schedule`: a container's log stream), and
 * to stderr for every other command, whose stdout is its result (`dlq show` prints JSON: a
 * "broker connection lost" line in the middle of it broke any script reading it).
 */
export function cliContext(options: { service?: boolean } = {}): CliContext {
  if (!cached) {
    const config = loadConfig();
    const destination = pino.destination({ fd: options.service ? 1 : 2, sync: !options.service });
    cached = { config, log: createLogger({ level: config.logLevel, name: "matchflow", destination }) };
    logProcessWarnings(cached.log);
    // A misspelt name is ignored, leaving the default: said, so that it is not a silent surprise.
    for (const warning of misspeltSettings(process.env)) cached.log.warn(warning);
    // The seed's SUPABASE_URL / SUPABASE_KEY: matchflow reads DATABASE_URL instead.
    for (const warning of seedOnlySettings(process.env)) cached.log.warn(warning);
  }
  return cached;
}
