/**
 * `worker -l/--loglevel`, as Celery's worker takes it (`celery worker --loglevel=info`, the
 * seed's command line): Celery's level names, in any case, or matchflow's own (LOG_LEVEL's).
 * A bad value is a usage error (exit 2) naming the flag.
 */
import { InvalidArgumentError } from "commander";
import type { Config } from "../config.js";

const LEVELS: Readonly<Record<string, Config["logLevel"]>> = {
  trace: "trace",
  debug: "debug",
  info: "info",
  warn: "warn",
  warning: "warn",
  error: "error",
  critical: "fatal",
  fatal: "fatal",
  silent: "silent",
};

export function parseLogLevelOption(value: string): Config["logLevel"] {
  const level = LEVELS[value.trim().toLowerCase()];
  if (level === undefined) throw new InvalidArgumentError("--loglevel must be debug, info, warning, error or critical (Celery's names) or trace, warn, fatal, silent");
  return level;
}
