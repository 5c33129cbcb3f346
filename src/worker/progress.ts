/**
 * What the worker's periodic "batches committed" line reports: the batches committed since the
 * previous line, summed (BatchProgress, pure), and the line itself every WORKER_LOG_INTERVAL
 * (ProgressLog).
 *
 * Why not a line per batch: under light load every message is its own batch, so a line per
 * batch is a line per task (1,000 a second at 1,000 tasks/s), and each sync write to stdout cost
 * the worker ~35 us of CPU there, 8% of its share (docs/performance-rounds.md). Per-batch lines remain
 * at `debug`, or at `info` with `WORKER_LOG_INTERVAL=0`.
 */
import type { Logger } from "../log.js";

export interface BatchCounts {
  batch: number;
  created: number;
  updated: number;
  unchanged: number;
  failed: number;
  rejected: number;
  durationMs: number;
}

export interface ProgressSummary {
  batches: number;
  tasks: number;
  created: number;
  updated: number;
  unchanged: number;
  failed: number;
  rejected: number;
  largestBatch: number;
  /** The longest delivery -> commit of a batch's first message. */
  slowestBatchMs: number;
}

export class BatchProgress {
  private sum: ProgressSummary = BatchProgress.empty();

  private static empty(): ProgressSummary {
    return { batches: 0, tasks: 0, created: 0, updated: 0, unchanged: 0, failed: 0, rejected: 0, largestBatch: 0, slowestBatchMs: 0 };
  }

  add(b: BatchCounts): void {
    const s = this.sum;
    s.batches++;
    s.tasks += b.batch;
    s.created += b.created;
    s.updated += b.updated;
    s.unchanged += b.unchanged;
    s.failed += b.failed;
    s.rejected += b.rejected;
    if (b.batch > s.largestBatch) s.largestBatch = b.batch;
    if (b.durationMs > s.slowestBatchMs) s.slowestBatchMs = b.durationMs;
  }

  /** The summary since the last call, or undefined when no batch committed since (an idle worker stays quiet). */
  take(): ProgressSummary | undefined {
    if (this.sum.batches === 0) return undefined;
    const s = this.sum;
    this.sum = BatchProgress.empty();
    return s;
  }
}

/**
 * Logs a committed batch: at info every batch with WORKER_LOG_INTERVAL=0 ("batch committed");
 * otherwise at debug, summed into one info line ("batches committed") every interval, nothing
 * while idle, and a last line on stop.
 */
export class ProgressLog {
  private readonly progress = new BatchProgress();
  private timer: NodeJS.Timeout | undefined;
  private since = 0;

  constructor(
    private readonly log: Logger,
    private readonly everyMs: number,
    private readonly now: () => number,
  ) {}

  start(): void {
    if (this.everyMs <= 0) return;
    this.since = this.now();
    this.timer = setInterval(() => this.line(), this.everyMs);
    this.timer.unref();
  }

  committed(batch: BatchCounts): void {
    if (this.everyMs === 0) return this.log.info(batch, "batch committed");
    this.log.debug(batch, "batch committed");
    this.progress.add(batch);
  }

  /** No more periodic lines; one for what committed since the previous. */
  stop(): void {
    clearInterval(this.timer);
    this.line();
  }

  private line(): void {
    const summary = this.progress.take();
    const now = this.now();
    if (summary) this.log.info({ ...summary, sinceMs: now - this.since }, "batches committed");
    this.since = now;
  }
}
