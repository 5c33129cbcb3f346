/**
 * What to do with a failed task: pure functions, no I/O, so the schedule is testable to the
 * millisecond. Permanent failures go straight to the dead-letter queue; transient ones are
 * retried through the durable delay queues with exponential backoff and jitter, then
 * dead-lettered with the last error once RETRY_MAX is used up.
 */
import { jitteredRetryDelayMs, nominalRetryDelayMs } from "../broker/topology-names.js";
import { isMatchflowError, type MatchflowError, TransientError } from "../errors.js";

export interface RetrySettings {
  max: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export type FailureDecision =
  | { action: "retry"; attempt: number; delayMs: number; nominalDelayMs: number }
  | { action: "dead_letter"; reason: "permanent" | "retries_exhausted" };

/**
 * `retriesSoFar` is the Celery `retries` count of the failed message (0 on first delivery).
 */
export function decideOnFailure(err: MatchflowError, retriesSoFar: number, retry: RetrySettings, random: () => number = Math.random): FailureDecision {
  if (err.kind === "permanent") return { action: "dead_letter", reason: "permanent" };
  const attempt = retriesSoFar + 1;
  if (attempt > retry.max) return { action: "dead_letter", reason: "retries_exhausted" };
  // The schedule (nominal delays, jitter within [0.75, 1] x nominal) is owned by the topology,
  // because each delay is also a delay queue's TTL.
  return { action: "retry", attempt, delayMs: jitteredRetryDelayMs(retry, attempt, random), nominalDelayMs: nominalRetryDelayMs(retry, attempt) };
}

/** Anything thrown that is not already classified is treated as transient: bounded retries are safer than loss. */
export function asMatchflowError(err: unknown): MatchflowError {
  if (isMatchflowError(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new TransientError("internal_error", message, { cause: err });
}
