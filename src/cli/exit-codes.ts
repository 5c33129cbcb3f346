/**
 * Exit codes, in one place. Scripts and CronJobs rely on them:
 * 0 everything done; 1 some items invalid or failed; 2 usage or configuration error;
 * 3 source unreachable or unreadable; 4 broker unreachable or lost during the command, or it
 * did not take some valid matches (scrape, publish); 5 database unreachable or refusing writes (read-only, disk full,
 * permission, schema missing);
 * 70 internal error (a bug); 74 the output could not be written (stdout: a full disk, an I/O
 * error; sysexits' EX_IOERR); 130 stopped by a second signal (the shell's 128 + SIGINT).
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
  output: 74,
  secondSignal: 130,
} as const;

const BY_CODE: Record<string, number> = {
  config_invalid: EXIT.usage,
  usage: EXIT.usage,
  input_invalid: EXIT.usage,
  source_unreachable: EXIT.source,
  source_unreadable: EXIT.source,
  broker_unreachable: EXIT.broker,
  broker_blocked: EXIT.broker,
  broker_unconfirmed: EXIT.broker,
  broker_connection_lost: EXIT.broker,
  database_unreachable: EXIT.database,
  database_in_use: EXIT.database,
  db_connection: EXIT.database,
  // db/errors.ts DATABASE_REFUSALS: the database's own state, not the input's.
  db_read_only: EXIT.database,
  db_disk_full: EXIT.database,
  db_permission: EXIT.database,
  db_schema: EXIT.database,
  db_admin_shutdown: EXIT.database,
  // cli/output-stream.ts: stdout failed (not its reader going away, which ends it quietly).
  output_failed: EXIT.output,
};

export function exitCodeFor(err: unknown): number {
  if (isMatchflowError(err)) return BY_CODE[err.code] ?? (err.kind === "transient" ? EXIT.partial : EXIT.usage);
  return EXIT.internal;
}

/**
 * `scrape` and `publish`: 4 when the broker did not take some valid matches (nacked, returned,
 * connection lost: another run can fix that, and the scraper CronJob retries it), else 1 when
 * some matches were refused (another run would refuse them again: the CronJob fails at once),
 * else 0.
 */
export function publishExitCode(refused: number, failed: number): number {
  if (failed > 0) return EXIT.broker;
  return refused > 0 ? EXIT.partial : EXIT.ok;
}
