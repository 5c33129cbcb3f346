/**
 * Header names matchflow adds on the wire (beside Celery's own task headers, see celery/codec.ts).
 * A dead letter keeps the original body and properties and carries these; a retry carries the
 * first-failure time and the last error so the eventual dead letter can report them.
 */
export const MF_HEADERS = {
  errorCode: "x-matchflow-error-code",
  errorMessage: "x-matchflow-error-message",
  attempts: "x-matchflow-attempts",
  firstFailureAt: "x-matchflow-first-failure-at",
  /**
   * When a worker first received the task: kept by its retries, eta copies, dead letters and
   * requeues, so a match without `scraped_at` counts as observed then (worker/prepare.ts).
   */
  firstDeliveredAt: "x-matchflow-first-delivered-at",
  lastFailureAt: "x-matchflow-last-failure-at",
  originalExchange: "x-matchflow-original-exchange",
  originalRoutingKey: "x-matchflow-original-routing-key",
  deadLetteredAt: "x-matchflow-dead-lettered-at",
  requeuedFrom: "x-matchflow-requeued-from-dlq",
  /**
   * How many times `dlq requeue` sent this task back from the dead-letter queue (with its retry
   * count reset each time): kept through retries and dead letters, so a task that keeps coming back
   * shows it.
   */
  requeues: "x-matchflow-requeues",
  /**
   * Names of the headers left out of a copy so that it fits the broker's frame_max (see
   * broker/fit-headers.ts), comma-separated; extended, not replaced, by a later copy.
   */
  droppedHeaders: "x-matchflow-dropped-headers",
} as const;

/** Header values are bounded: an error message is cut so a dead letter never outgrows its original much. */
export const MAX_ERROR_HEADER_CHARS = 2000;
