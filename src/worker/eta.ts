/**
 * Celery's `eta` (and `countdown`, which a Celery producer turns into an eta): a task is not run
 * before it. Holding such a task unacked until it is due, as Celery does, runs into RabbitMQ's
 * consumer_timeout (30 min by default) and holds up the worker's cumulative acks, so a task that
 * is not due yet goes back through the durable retry delay queues instead (its copy published
 * unchanged, not counted as a retry) and is looked at again when it comes back. Pure.
 */
import { nominalRetryDelayMs } from "../broker/topology-names.js";
import type { RetrySettings } from "./policy.js";

/** Remainders this short are held in memory: a round trip through a delay queue is not worth it. */
export const ETA_HOLD_MAX_MS = 1000;
/** Without delay queues a task is held and looked at again this often (a timer cannot span weeks). */
const HOLD_RECHECK_MS = 60_000;

export type EtaDecision =
  | { action: "process" }
  /** Keep the delivery unacked and look again in `ms` (short remainders; no delay queue at all). */
  | { action: "hold"; ms: number }
  /**
   * Publish the copy to the delay queue of retry `attempt` (nominal delay `tierMs`) with a
   * per-message TTL of `expirationMs`, then ack the original.
   */
  | { action: "delay"; attempt: number; tierMs: number; expirationMs: number };

/** Python's `isoformat()` of a naive datetime has no zone: Celery reads it in its timezone, UTC by default. */
const HAS_ZONE = /(?:[zZ]|[+-]\d{2}:?\d{2})$/;

/** Milliseconds since the epoch, or undefined when `eta` is not an ISO-8601 date and time. */
export function parseEta(eta: string): number | undefined {
  const text = eta.trim();
  const ms = Date.parse(text.includes("T") && !HAS_ZONE.test(text) ? `${text}Z` : text);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * What to do with a task due at `dueAt`. The delay queues are the retry schedule's (d_1 < d_2
 * < ... , RETRY_BASE_DELAY doubling up to RETRY_MAX_DELAY):
 * - the longest d_n not above the remaining time, with a TTL of d_n: the copy comes back
 *   exactly d_n later (every message ahead of it in that queue expires no later), never early;
 * - a remainder shorter than d_1 (and longer than ETA_HOLD_MAX_MS): the first queue with a TTL
 *   of the remainder; it comes back no earlier, and later only if an older message with a
 *   longer TTL is ahead of it (at most d_1 after it was published);
 * - RETRY_MAX=0 leaves no delay queue: held in memory as Celery does (a far eta then meets the
 *   consumer_timeout, which closes the channel and redelivers it; nothing is lost).
 */
export function decideEta(dueAt: number, now: number, retry: RetrySettings): EtaDecision {
  const remaining = dueAt - now;
  if (remaining <= 0) return { action: "process" };
  if (remaining <= ETA_HOLD_MAX_MS || retry.max < 1) return { action: "hold", ms: Math.min(remaining, HOLD_RECHECK_MS) };
  let chosen: { attempt: number; tierMs: number } | undefined;
  for (let attempt = 1; attempt <= retry.max; attempt++) {
    const tierMs = nominalRetryDelayMs(retry, attempt);
    if (tierMs > remaining) break;
    chosen = { attempt, tierMs };
  }
  if (chosen) return { action: "delay", ...chosen, expirationMs: chosen.tierMs };
  return { action: "delay", attempt: 1, tierMs: nominalRetryDelayMs(retry, 1), expirationMs: remaining };
}
