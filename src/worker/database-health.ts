/**
 * Whether the worker's database answers: what /readyz's `database` check and the
 * `matchflow_database_up` gauge say, and the wait for the database to come back.
 *
 * Batches are the worker's only other database traffic, so an idle worker pings by itself:
 * without it, a worker with nothing to do kept answering /readyz 200 and `matchflow_database_up
 * 1` through a whole outage (MatchflowDatabaseDown never fired). A busy worker hears from the
 * database more often than the check interval and never pings.
 */
import type { Logger } from "../log.js";
import type { WorkerMetrics } from "./metrics.js";
import type { MatchStore } from "./store.js";

/** How often an idle worker checks a database it has not heard from since (the readiness probe runs every 5 s). */
export const IDLE_DATABASE_CHECK_MS = 10_000;

export class DatabaseHealth {
  private answeredAt = 0;
  private up = false;
  private idleCheck: Promise<void> | undefined;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: Pick<MatchStore, "ping">,
    private readonly options: { log: Logger; metrics: WorkerMetrics; now: () => number },
  ) {}

  get isUp(): boolean {
    return this.up;
  }

  /** The database just answered (a committed batch). */
  answered(): void {
    this.answeredAt = this.options.now();
    this.up = true;
    this.options.metrics.databaseUp.set(1);
  }

  /**
   * Pings with capped exponential backoff until the database answers, or `giveUp` says to stop
   * waiting (an abandoned worker; a stopping one, for the idle check: its store is about to close).
   */
  async waitUntilUp(giveUp: () => boolean): Promise<void> {
    let delay = 250;
    // A connection an administrator (or a failover) terminated fails one ping and leaves the pool:
    // asked again at once, a fresh connection answers. Only a second failure is an outage.
    let secondChance = this.up;
    for (;;) {
      if (giveUp()) return;
      try {
        await this.store.ping();
        if (!this.up) this.options.log.info("database reachable");
        this.answered();
        return;
      } catch (err) {
        if (giveUp()) return; // the store closed under a ping of a stopping worker: not an outage
        if (secondChance) {
          secondChance = false;
          continue;
        }
        if (this.up) this.options.log.error({ err: String(err) }, "database unreachable");
        this.up = false;
        this.options.metrics.databaseUp.set(0);
        // Unref'd: the broker connection keeps a waiting worker alive; a stopped one must not wait out the pause.
        await new Promise((r) => setTimeout(r, delay).unref());
        delay = Math.min(delay * 2, 10_000);
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
