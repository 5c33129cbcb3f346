/**
 * Whether the worker's database answers: what /readyz's `database` check and the
 * `matchflow_database_up` gauge say, and the wait for the database to come back.
 *
 * Batches are the worker's only other database traffic, so an idle worker pings by itself:
 * without it, a worker with nothing to do kept answering /readyz 200 and `matchflow_database_up
 * 1` through a whole outage (MatchflowDatabaseDown never fired). A busy worker hears from the
 * database more often than the check interval and never pings.
 */
import { MatchflowError } from "../errors.js";
import type { BatchLogFields } from "./batch-log.js";
import type { Logger } from "../log.js";
import type { WorkerMetrics } from "./metrics.js";
import type { MatchStore } from "./store.js";

/**
 * How many pings in a row may fail on a lost connection before the database counts as down.
 * An administrator (or a failover) ending every session leaves each pooled connection dead until
 * used: pg notices an idle one's end only when its socket says so, which can come after the ping
 * took it. Each failed one leaves the pool, so there are at most pool-size of them; a database
 * that is really gone fails the next fresh connection instead (database_unreachable), which ends
 * this at once. Bounded for a server that ends each new session as well.
 */
const LOST_CONNECTION_RETRIES = 32;

/**
 * How long a ping may go unanswered before it counts as failed. Across a silent partition (a
 * socket open, nothing coming back) a ping otherwise waited for pg's read timeout (the statement
 * timeout + 5 s: 65 s by default), then a fresh connection's connect timeout: a minute and a half
 * of /readyz 200 and `matchflow_database_up 1` with the database gone. `SELECT 1` of a database
 * that works answers in milliseconds; one slow answer alone still is no outage (the second chance).
 */
export const PING_TIMEOUT_MS = 5_000;

/** How often an idle worker checks a database it has not heard from since (the readiness probe runs every 5 s). */
export const IDLE_DATABASE_CHECK_MS = 10_000;

/** The pause after the n-th (0-based) failed ping or refused batch: 250 ms doubling to 10 s. */
const pauseMs = (attempt: number) => Math.min(250 * 2 ** Math.min(attempt, 16), 10_000);
/** Unref'd: the broker connection keeps a waiting worker alive; a stopped one must not wait out the pause. */
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());
/** While the database keeps refusing batches, it is said again this often. */
const REFUSAL_LOG_INTERVAL_MS = 60_000;

export class DatabaseHealth {
  private answeredAt = 0;
  private up = false;
  private idleCheck: Promise<void> | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  /** Since when the database has refused batches for reasons of its own (undefined: it takes them). */
  private refusedSince: number | undefined;
  private refusalLoggedAt = 0;

  constructor(
    private readonly store: Pick<MatchStore, "ping">,
    private readonly options: { log: Logger; metrics: WorkerMetrics; now: () => number; pingTimeoutMs?: number },
  ) {}

  /** The store's ping, failed after PING_TIMEOUT_MS without an answer (left to end by itself: pg's read timeout frees its connection). */
  private async ping(): Promise<void> {
    const ms = this.options.pingTimeoutMs ?? PING_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const unanswered = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`the database did not answer a ping within ${ms} ms`)), ms);
    });
    try {
      await Promise.race([this.store.ping(), unanswered]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Reachable and taking writes: what /readyz and `matchflow_database_up` say. */
  get isUp(): boolean {
    return this.up && this.refusedSince === undefined;
  }

  /** The database just committed a batch: it answers and takes writes. */
  answered(): void {
    if (this.refusedSince !== undefined) {
      this.options.log.info({ heldForMs: this.options.now() - this.refusedSince }, "database takes writes again");
      this.refusedSince = undefined;
    }
    this.heard();
  }

  /** The database answered (a ping or a commit); a ping says nothing about whether it takes writes. */
  private heard(): void {
    this.answeredAt = this.options.now();
    this.up = true;
    this.options.metrics.databaseUp.set(this.isUp ? 1 : 0);
  }

  /**
   * The database failed a whole batch for a reason of its own, whatever the data (db/errors.ts
   * DATABASE_REFUSALS): not ready, and the caller tries the batch again after this wait (the
   * outage's schedule, `attempt` 0-based). No ping decides when: a read-only
   * or full database answers one; only a write can tell that it takes writes again.
   */
  async holdRefusedBatch(err: MatchflowError, attempt: number, batch: BatchLogFields, giveUp: () => boolean): Promise<void> {
    const now = this.options.now();
    if (this.refusedSince === undefined) {
      this.refusedSince = now;
      this.refusalLoggedAt = now;
      // A warning: one session ended by an administrator is over in 250 ms; one that lasts is an error a minute later.
      this.options.log.warn({ code: err.code, err: err.message, ...batch }, "database failed a batch whatever its data: holding it unacked and trying it again until the database takes it (no retry spent)");
    } else if (now - this.refusalLoggedAt >= REFUSAL_LOG_INTERVAL_MS) {
      this.refusalLoggedAt = now;
      this.options.log.error({ code: err.code, err: err.message, heldForMs: now - this.refusedSince }, "database still failing batches");
    }
    this.options.metrics.databaseUp.set(0);
    if (giveUp()) return;
    await pause(pauseMs(attempt));
  }

  /**
   * Pings with capped exponential backoff until the database answers, or `giveUp` says to stop
   * waiting (an abandoned worker; a stopping one, for the idle check: its store is about to close).
   */
  async waitUntilUp(giveUp: () => boolean): Promise<void> {
    let failures = 0;
    // A connection an administrator (or a failover) terminated fails one ping and leaves the pool:
    // asked again at once, a fresh connection answers. Only a second failure is an outage, or
    // for lost connections one beyond the pool's worth of them.
    let secondChance = this.up;
    let lostConnections = this.up ? LOST_CONNECTION_RETRIES : 0;
    for (;;) {
      if (giveUp()) return;
      try {
        await this.ping();
        if (!this.up) this.options.log.info("database reachable");
        this.heard();
        return;
      } catch (err) {
        if (giveUp()) return; // the store closed under a ping of a stopping worker: not an outage
        if (err instanceof MatchflowError && err.code === "db_connection" && lostConnections-- > 0) continue;
        if (secondChance) {
          secondChance = false;
          continue;
        }
        if (this.up) this.options.log.error({ err: String(err) }, "database unreachable");
        this.up = false;
        this.options.metrics.databaseUp.set(0);
        await pause(pauseMs(failures++));
      }
    }
  }

  /** Every `checkMs`: when the database has been quiet that long and nobody waits for it already, ping. */
  startIdleCheck(checkMs: number, stopping: () => boolean): void {
    this.idleTimer = setInterval(() => {
      if (stopping() || !this.up || this.idleCheck || this.options.now() - this.answeredAt < checkMs) return;
      this.idleCheck = this.waitUntilUp(stopping).finally(() => (this.idleCheck = undefined));
    }, checkMs);
    this.idleTimer.unref();
  }

  stopIdleCheck(): void {
    clearInterval(this.idleTimer);
  }
}
