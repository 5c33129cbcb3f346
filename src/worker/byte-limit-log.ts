/**
 * What the worker says when WORKER_BATCH_BYTES cuts a batch short (batch-bytes.ts): a count per
 * batch, and a log line at most once a minute, since large messages come in runs.
 */
import type { Logger } from "../log.js";
import type { WorkerMetrics } from "./metrics.js";

const LOG_EVERY_MS = 60_000;

export class ByteLimitLog {
  private cutSinceLog = 0;
  private loggedAt: number | undefined;

  constructor(private readonly options: { batchBytes: number; metrics: WorkerMetrics; log: Logger; now: () => number }) {}

  /** A batch was cut; `buffered` deliveries are still waiting for one. */
  cut(buffered: number): void {
    this.options.metrics.byteLimitedBatches.inc();
    this.cutSinceLog++;
    const now = this.options.now();
    if (this.loggedAt !== undefined && now - this.loggedAt < LOG_EVERY_MS) return;
    this.options.log.info(
      { batches: this.cutSinceLog, batchBytes: this.options.batchBytes, buffered },
      "large messages: batches cut at WORKER_BATCH_BYTES so that what is decoded at once fits in the heap (smaller transactions, nothing skipped)",
    );
    this.loggedAt = now;
    this.cutSinceLog = 0;
  }
}
