/**
 * Celery's `eta` (and `countdown`, which a Celery producer turns into an eta): a task is not run
 * before it. Holding such a task unacked until it is due, as Celery does, runs into RabbitMQ's
 * consumer_timeout (30 min by default) and holds up the worker's cumulative acks (a far eta
 * would stop the worker once its prefetch is full), so a task that is not due yet waits in an
 * eta delay queue instead (its copy published unchanged, not counted as a retry) and is looked
 * at again when it comes back. Pure.
 */
import { ETA_DELAY_TIERS_MS } from "../broker/topology-names.js";

/**
 * Remainders this short are held in memory: a round trip through a delay queue is not worth it.
 * Equal to the shortest eta tier, so every longer remainder has a tier not above it.
 */
export const ETA_HOLD_MAX_MS = 1000;

export type EtaDecision =
  | { action: "process" }
  /** Keep the delivery unacked and look again in `ms` (a second at most). */
  | { action: "hold"; ms: number }
  /** Publish the copy to the eta delay queue of the tier `tierMs` (its queue TTL), then ack the original. */
  | { action: "delay"; tierMs: number };

/**
 * What to do with a task due at `dueAt`: a remainder of a second or less is held in memory;
 * a longer one goes to the longest eta tier not above it (ETA_DELAY_TIERS_MS: 1 s, 4 s, 16 s,
 * ... ~3 days). Each tier queue has one TTL for all its messages (no per-message expiration),
 * so its order of arrival is its order of expiry: the copy comes back exactly `tierMs` later
 * (plus the broker's expiry latency), never early and never behind another message. Back in the
 * work queue it is looked at again and descends the tiers; past the longest tier it goes round
 * that one again.
 */
export function decideEta(dueAt: number, now: number): EtaDecision {
  const remaining = dueAt - now;
  if (remaining <= 0) return { action: "process" };
  if (remaining <= ETA_HOLD_MAX_MS) return { action: "hold", ms: remaining };
  let tierMs: number | undefined;
  for (const tier of ETA_DELAY_TIERS_MS) {
    if (tier > remaining) break;
    tierMs = tier;
  }
  // Unreachable while the shortest tier is ETA_HOLD_MAX_MS; holding is the safe answer anyway.
  if (tierMs === undefined) return { action: "hold", ms: remaining };
  return { action: "delay", tierMs };
}
