/**
 * `matchflow schedule`: a long-lived process that runs the scrape on a cron expression (UTC),
 * for hosts without Kubernetes. Like the CronJob it replaces: runs never overlap (a tick that
 * comes while a run is still going is skipped and logged), and a stop signal waits for the
 * run in progress.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { CronExpressionParser } from "cron-parser";
import { ConfigError, errorMessage } from "../errors.js";
import type { Logger } from "../log.js";

/** Throws a ConfigError naming the expression when it is not a valid 5-field cron. */
export function validateCron(expression: string): void {
  if (expression.trim().split(/\s+/).length !== 5) throw new ConfigError(`--cron "${expression}" must have 5 fields: minute hour day-of-month month day-of-week (UTC)`);
  try {
    CronExpressionParser.parse(expression, { tz: "UTC" });
  } catch (err) {
    throw new ConfigError(`--cron "${expression}" is not a valid cron expression: ${errorMessage(err)}`);
  }
}

/** The first fire time strictly after `after`, in UTC. Pure. */
export function nextRun(expression: string, after: Date): Date {
  return CronExpressionParser.parse(expression, { tz: "UTC", currentDate: after }).next().toDate();
}

export interface ScheduleOptions {
  cron: string;
  /** One scrape; resolves with its exit code (0 ok). Must not throw for expected failures. */
  job: () => Promise<number>;
  log: Logger;
  signal: AbortSignal;
  runNow?: boolean;
  now?: () => Date;
  /** How often a wait looks at the clock again (default CLOCK_CHECK_MS). */
  clockCheckMs?: number;
}

/**
 * A wait is cut into pieces this long, the clock read after each: a clock that jumps forward (a
 * VM resumed, a clock set right) is seen within a minute. With pieces of an hour the missed tick
 * ran up to an hour late. (Timers over ~24.8 days overflow anyway.)
 */
export const CLOCK_CHECK_MS = 60_000;

/** Runs until `signal` aborts; then waits for a run in progress and resolves. */
export async function runSchedule(options: ScheduleOptions): Promise<void> {
  const { cron, log, signal } = options;
  validateCron(cron);
  const now = options.now ?? (() => new Date());
  let running: Promise<void> | undefined;
  /** The tick the loop waits for: a run that ends says when the next one is, as "waiting" would. */
  let upcoming: Date | undefined;
  const next = () => (upcoming ? { nextRun: upcoming.toISOString() } : {});

  /**
   * The last tick fired: a clock stepped back a little (NTP) must not make it due again, as
   * cron does for steps under 3 hours; after a longer one (a clock that was wrong), the clock's
   * next tick is, rather than none for as long as the clock was ahead.
   */
  let fired: Date | undefined;
  const after = (t: Date) => (fired && fired > t && fired.getTime() - t.getTime() < 3 * 3_600_000 ? fired : t);

  const fire = (scheduledFor: Date) => {
    fired = scheduledFor;
    if (running) {
      log.warn({ scheduledFor: scheduledFor.toISOString() }, "previous run still going: this run is skipped (runs never overlap)");
      return;
    }
    const started = Date.now();
    log.info({ scheduledFor: scheduledFor.toISOString() }, "scheduled run starting");
    running = options
      .job()
      .then(
        (code) => log.info({ exitCode: code, durationMs: Date.now() - started, ...next() }, code === 0 ? "scheduled run done" : "scheduled run finished with problems"),
        (err: unknown) => log.error({ err: errorMessage(err), code: (err as { code?: unknown }).code, durationMs: Date.now() - started, ...next() }, "scheduled run failed"),
      )
      .finally(() => {
        running = undefined;
      });
  };

  if (options.runNow) fire(now());
  while (!signal.aborted) {
    const at = nextRun(cron, after(now()));
    // While a run goes (e.g. `--run-now`), "waiting" would come before that run's own lines; the
    // run's last line names the next run instead. Said once a tick, not once a piece of the wait.
    if (!running && at.getTime() !== upcoming?.getTime()) log.info({ nextRun: at.toISOString(), cron }, "waiting for the next run");
    upcoming = at;
    // The timer takes its abort listener away when it fires (one added per pass and left behind piled up).
    await sleep(Math.min(Math.max(0, at.getTime() - now().getTime()), options.clockCheckMs ?? CLOCK_CHECK_MS), undefined, { signal }).catch(() => undefined);
    if (signal.aborted) break;
    if (now().getTime() >= at.getTime()) fire(at);
  }
  if (running) {
    log.info("stopping: waiting for the run in progress");
    await running;
  }
}
