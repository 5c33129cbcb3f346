/**
 * Exit codes, in one place. Scripts and CronJobs rely on them:
 * 0 everything done; 1 some items invalid or failed; 2 usage or configuration error;
 * 3 source unreachable or unreadable; 4 broker unreachable; 5 database unreachable;
 * 70 internal error (a bug); 130 stopped by a second signal (the shell's 128 + SIGINT).
 */
import { isMatchflowError } from "../errors.js";

export const EXIT = {
  ok: 0,
  partial: 1,
  usage: 2,
  source: 3,
  broker: 4,
  database: 5,
  internal: 70,
  secondSignal: 130,
} as const;

const BY_CODE: Record<string, number> = {
  config_invalid: EXIT.usage,
  usage: EXIT.usage,
  input_invalid: EXIT.usage,
  source_unreachable: EXIT.source,
  source_unreadable: EXIT.source,
  broker_unreachable: EXIT.broker,
  database_unreachable: EXIT.database,
  database_in_use: EXIT.database,
};

export function exitCodeFor(err: unknown): number {
  if (isMatchflowError(err)) return BY_CODE[err.code] ?? (err.kind === "transient" ? EXIT.partial : EXIT.usage);
  return EXIT.internal;
}
