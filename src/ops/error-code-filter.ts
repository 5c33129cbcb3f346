/**
 * `dlq list|requeue|purge --code`: dead letters chosen by why they died. After an incident the
 * queue holds the outage's letters (`db_lock_timeout`, `database_unavailable`, ...) beside poison
 * that would only come back (`contract_violation`); requeueing them by task id meant listing
 * thousands of ids, and purging the poison alone was not possible. Pure.
 *
 * A pattern is an error code as `dlq list` shows it, or a prefix ending in `*` (`db_*`,
 * `broker_*`); a comma list takes any of them.
 */
import { PermanentError } from "../errors.js";

/** Codes are snake_case words (errors.ts, broker-death.ts): letters, digits, `_`, `-`, `.`. */
const PATTERN = /^(?:[A-Za-z0-9_.-]+\*?|\*)$/;

export interface ErrorCodeFilter {
  /** The patterns as given, for messages. */
  readonly patterns: readonly string[];
  matches(code: string | null): boolean;
}

/** Parses `--code`'s value; a usage error (exit 2) names the pattern it cannot take. */
export function parseErrorCodeFilter(text: string): ErrorCodeFilter {
  const patterns = text
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "");
  if (patterns.length === 0) throw new PermanentError("usage", "--code needs an error code, e.g. --code db_lock_timeout or --code 'db_*'");
  for (const p of patterns) {
    if (!PATTERN.test(p)) throw new PermanentError("usage", `--code ${JSON.stringify(p)} is not an error code or a prefix ending in * (e.g. db_lock_timeout, 'db_*')`);
  }
  const exact = new Set(patterns.filter((p) => !p.endsWith("*")));
  const prefixes = patterns.filter((p) => p.endsWith("*")).map((p) => p.slice(0, -1));
  return {
    patterns,
    matches: (code) => code !== null && (exact.has(code) || prefixes.some((prefix) => code.startsWith(prefix))),
  };
}
