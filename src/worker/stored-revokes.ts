/**
 * The revokes a worker with CELERY_CONTROL=control obeys, written to `celery_revoked`
 * (db/revoked.ts) so that they outlive every worker's restart, read back at start-up, and read
 * again every REVOKED_READ_EVERY_MS for those this worker was not told of.
 *
 * One write at a time, taking in all that came meanwhile: a burst of revokes costs the worker's
 * pool one connection, not one each. A failed write is kept and tried again every
 * REVOKE_WRITE_RETRY_MS (a database blip must not drop a revoke: the next worker to start would
 * run the task), bounded as a Celery worker bounds its revoked set. Never fatal: the revoke still
 * holds in memory and is passed on by mingle, as in a Celery worker.
 */
import { REVOKE_EXPIRES_MS, REVOKES_MAX } from "../celery/revoked.js";
import type { Queryable } from "../db/database.js";
import { isDataError } from "../db/errors.js";
import { loadRevoked, storeRevoked, storeRevokedAt, type StoredRevoke } from "../db/revoked.js";
import { errorMessage } from "../errors.js";
import type { Logger } from "../log.js";

export const REVOKE_WRITE_RETRY_MS = 5_000;
/**
 * How often a running worker reads the revokes written since its last read: those it was not told
 * of (`matchflow revoke` while RabbitMQ was unreachable, a broadcast while this worker's control
 * connection was down), which a Celery worker would never learn. One indexed query.
 */
export const REVOKED_READ_EVERY_MS = 10_000;
/** Read a minute further back than the last read: a row's time is its transaction's start, which precedes its commit. */
const READ_OVERLAP_MS = 60_000;

export class StoredRevokes {
  /** Revoked here: stored at the database's now. */
  private ids: string[] = [];
  /** Taken over from other workers: stored at the times they flagged them. */
  private entries: StoredRevoke[] = [];
  private writing: Promise<void> | undefined;
  private retry: NodeJS.Timeout | undefined;
  private closing = false;
  /** This host's clock when the last successful read began (0: none yet). */
  private lastReadAt = 0;
  private readFailing = false;
  private nextRead: NodeJS.Timeout | undefined;
  private reading: Promise<void> | undefined;

  constructor(
    private readonly database: Queryable,
    private readonly log: Logger,
    private readonly retryMs = REVOKE_WRITE_RETRY_MS,
  ) {}

  store(ids: readonly string[]): void {
    for (const id of ids) this.ids.push(id);
    this.startWriting();
  }

  storeAt(entries: readonly StoredRevoke[]): void {
    for (const entry of entries) this.entries.push(entry);
    this.startWriting();
  }

  async load(): Promise<StoredRevoke[]> {
    try {
      const startedAt = Date.now();
      const entries = await loadRevoked(this.database, REVOKE_EXPIRES_MS, REVOKES_MAX);
      this.lastReadAt = startedAt;
      if (entries.length > 0) this.log.info({ revoked: entries.length }, "revoked tasks read from the database");
      return entries;
    } catch (err) {
      this.log.error({ code: "revoke_not_loaded", err: errorMessage(err) }, "could not read the revoked tasks from the database: only those the other workers hold (mingle) are known until the next read");
      return [];
    }
  }

  /**
   * Every `everyMs`, the revokes written since the last read (and a minute more) go to `onRead`:
   * the ones this worker already holds too, so `onRead` merges. A failed read is tried at the next
   * turn, reaching back to the last one that worked.
   */
  watch(onRead: (entries: StoredRevoke[]) => void, everyMs = REVOKED_READ_EVERY_MS): void {
    const turn = async () => {
      const startedAt = Date.now();
      const lookbackMs = this.lastReadAt === 0 ? REVOKE_EXPIRES_MS : Math.min(REVOKE_EXPIRES_MS, startedAt - this.lastReadAt + READ_OVERLAP_MS);
      try {
        const entries = await loadRevoked(this.database, lookbackMs, REVOKES_MAX);
        this.lastReadAt = startedAt;
        this.readFailing = false;
        onRead(entries);
      } catch (err) {
        if (!this.readFailing) this.log.warn({ code: "revoke_not_loaded", err: errorMessage(err), retryInMs: everyMs }, "could not read new revoked tasks from the database: trying again");
        this.readFailing = true;
      }
    };
    const schedule = () => {
      this.nextRead = setTimeout(() => {
        this.reading = turn().finally(() => {
          this.reading = undefined;
          if (!this.closing) schedule();
        });
      }, everyMs);
      this.nextRead.unref();
    };
    schedule();
  }

  /** At the stop: no more reads; what is pending gets one last try (a revoke obeyed just before it, or waiting for a retry). */
  async settled(): Promise<void> {
    this.closing = true;
    clearTimeout(this.nextRead);
    clearTimeout(this.retry);
    this.retry = undefined;
    this.startWriting();
    await Promise.all([this.writing, this.reading]);
  }

  private startWriting(): void {
    if (this.writing || this.retry || (this.ids.length === 0 && this.entries.length === 0)) return;
    this.writing = this.writeAll().finally(() => {
      this.writing = undefined;
      this.startWriting(); // what came in as the last write ended
    });
  }

  private async writeAll(): Promise<void> {
    while (this.ids.length > 0 || this.entries.length > 0) {
      const { ids, entries } = this;
      this.ids = [];
      this.entries = [];
      try {
        await storeRevoked(this.database, ids, REVOKE_EXPIRES_MS);
        await storeRevokedAt(this.database, entries, REVOKE_EXPIRES_MS);
      } catch (err) {
        const shown = [...ids, ...entries.map((e) => e[0])].slice(0, 20);
        // Data the database refuses (no id passes isTaskId and fails its check) would fail again.
        const again = !this.closing && !isDataError(err);
        this.log.error(
          { code: "revoke_not_stored", err: errorMessage(err), ids: shown, retryInMs: again ? this.retryMs : undefined },
          again ? "revoked tasks not written to the database yet: trying again" : "revoked tasks not written to the database: a worker starting after every other one stopped will not know them",
        );
        if (!again) continue;
        this.ids = [...ids, ...this.ids].slice(-REVOKES_MAX);
        this.entries = [...entries, ...this.entries].slice(-REVOKES_MAX);
        this.retry = setTimeout(() => {
          this.retry = undefined;
          this.startWriting();
        }, this.retryMs);
        this.retry.unref();
        return;
      }
    }
  }
}
