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

/** How many of the dead letters read had an error code. */
export interface CodeCount {
  code: string;
  count: number;
}

/** Counts `code` (a letter without one is not counted) in `counts`, as letters are read. */
export function countCode(counts: Map<string, number>, code: string | null): void {
  if (code !== null) counts.set(code, (counts.get(code) ?? 0) + 1);
}

/** The codes counted, most frequent first (equally frequent ones by name). */
export function codesByFrequency(counts: ReadonlyMap<string, number>): CodeCount[] {
  return [...counts].map(([code, count]) => ({ code, count })).sort((a, b) => b.count - a.count || (a.code < b.code ? -1 : a.code > b.code ? 1 : 0));
}

/** The most codes `noMatchHint` names. */
export const CODES_NAMED = 10;

/**
 * Why `--code` took none of the dead letters read (`present`: their codes, most frequent first),
 * said after "none of the N dead letters ... has code X": a pattern that differs only in case from
 * a code present (codes are case-sensitive), then the codes present. Before, a typo or
 * `--code DB_LOCK_TIMEOUT` said "none ... has code" and nothing to go on.
 */
export function noMatchHint(patterns: readonly string[], present: readonly CodeCount[]): string {
  const parts: string[] = [];
  for (const pattern of patterns) {
    const meant = sameButCase(pattern, present);
    if (meant !== undefined) parts.push(`${pattern} differs only in case from ${meant} (codes are case-sensitive)`);
  }
  if (present.length === 0) {
    parts.push("none of them has an error code");
  } else {
    const named = present.slice(0, CODES_NAMED).map((c) => `${c.code} (${c.count})`);
    const others = present.length - named.length;
    parts.push(`codes present: ${named.join(", ")}${others > 0 ? `, and ${others} other code${others === 1 ? "" : "s"}` : ""}`);
  }
  return parts.join("; ");
}

/** The code (or, for a prefix, the prefix) present that `pattern` spells in another case. */
function sameButCase(pattern: string, present: readonly CodeCount[]): string | undefined {
  const lower = pattern.toLowerCase();
  if (!pattern.endsWith("*")) return present.find((c) => c.code !== pattern && c.code.toLowerCase() === lower)?.code;
  const prefix = pattern.slice(0, -1);
  const hit = present.find((c) => !c.code.startsWith(prefix) && c.code.toLowerCase().startsWith(prefix.toLowerCase()));
  return hit === undefined ? undefined : `${hit.code.slice(0, prefix.length)}*`;
}
