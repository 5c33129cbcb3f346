/**
 * Every name and queue argument matchflow puts on the wire, derived from config in one place
 * (the original system stranded messages with a mistyped queue name). Pure: no I/O.
 */
import type { Config } from "../config.js";

export type QueueType = "classic" | "quorum";

export interface DelayQueue {
  /** Retry attempt this queue serves (1 = first retry). */
  attempt: number;
  name: string;
  /** Nominal delay d_n, also the queue's x-message-ttl. */
  delayMs: number;
}

/**
 * A queue a task whose Celery eta is not due yet waits in (src/worker/eta.ts). Its delay is a
 * queue-level TTL only: every message in it waits exactly `delayMs`, so the queue releases them
 * in the order they came and none waits behind another.
 */
export interface EtaDelayQueue {
  name: string;
  /** The queue's x-message-ttl. */
  delayMs: number;
}

export interface TopologyNames {
  /** Work exchange (direct). */
  exchange: string;
  queue: string;
  routingKey: string;
  taskName: string;
  deadLetterExchange: string;
  deadLetterQueue: string;
  /** Routing key for dead letters: the dead-letter queue is bound with it (the DLX is a fanout, so the key only names the route). */
  deadLetterRoutingKey: string;
  delayQueues: DelayQueue[];
  /** Eta delay queues, shortest first: declared whatever RETRY_MAX is (see ETA_DELAY_TIERS_MS). */
  etaDelayQueues: EtaDelayQueue[];
  /** Optional fanout exchange bound to the work queue (legacy producers publish there). */
  fanoutExchange: string | undefined;
}

/** d_n = min(base * 2^(n-1), max), for retry attempt n >= 1. */
export function nominalRetryDelayMs(retry: Config["retry"], attempt: number): number {
  if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError(`retry attempt must be a whole number >= 1, got ${attempt}`);
  // Cap the exponent: 2^60 ms is already centuries and keeps the arithmetic exact.
  const factor = 2 ** Math.min(attempt - 1, 60);
  return Math.min(retry.baseDelayMs * factor, retry.maxDelayMs);
}

export function delayQueueName(queue: string, delayMs: number): string {
  return `${queue}.retry.${delayMs}ms`;
}

/**
 * The eta delay tiers: powers of 4 seconds, 1 s to 4^9 s = 262,144 s (about 3 days 1 hour). A task
 * goes to the longest tier not above its remaining time and comes back to be looked at again, so
 * it passes each tier at most three times (the longest as often as it takes): 11 round trips
 * for an hour's eta, 20 for 3 days, a handful for the usual minutes. Fixed, not a setting: they do not
 * depend on anything an operator tunes, and fixed names keep the definitions and alerts simple.
 */
export const ETA_DELAY_TIERS_MS: readonly number[] = Array.from({ length: 10 }, (_, i) => 1000 * 4 ** i);

export function etaDelayQueueName(queue: string, delayMs: number): string {
  return `${queue}.eta.${delayMs}ms`;
}

export function topologyNames(t: Config["topology"], retry: Config["retry"]): TopologyNames {
  const delayQueues: DelayQueue[] = [];
  for (let attempt = 1; attempt <= retry.max; attempt++) {
    const delayMs = nominalRetryDelayMs(retry, attempt);
    delayQueues.push({ attempt, name: delayQueueName(t.queue, delayMs), delayMs });
  }
  return {
    exchange: t.exchange,
    queue: t.queue,
    routingKey: t.routingKey,
    taskName: t.taskName,
    // Named after the work queue, not the exchange: several work queues may share one exchange
    // (one queue per league, docs/performance.md "Scaling"), and a fanout DLX shared by their
    // dead-letter queues would copy every dead letter into all of them. With the default names
    // (exchange = queue = `matches`) it is `matches.dlx` either way.
    deadLetterExchange: `${t.queue}.dlx`,
    deadLetterQueue: `${t.queue}.dead_letter`,
    deadLetterRoutingKey: t.queue,
    delayQueues,
    etaDelayQueues: ETA_DELAY_TIERS_MS.map((delayMs) => ({ name: etaDelayQueueName(t.queue, delayMs), delayMs })),
    fanoutExchange: t.fanoutExchange,
  };
}

/**
 * The delay queue for retry attempt n (1-based). Attempts past the configured maximum use the
 * last queue, so a caller that retries further still gets a durable, capped delay.
 */
export function retryDelayQueueName(names: TopologyNames, attempt: number): string {
  if (names.delayQueues.length === 0) throw new RangeError("no retry delay queues: RETRY_MAX is 0");
  const index = Math.min(Math.max(attempt, 1), names.delayQueues.length) - 1;
  return (names.delayQueues[index] as DelayQueue).name;
}

/** The eta delay queue of the tier `delayMs` (one of ETA_DELAY_TIERS_MS). */
export function etaDelayQueueFor(names: TopologyNames, delayMs: number): string {
  const queue = names.etaDelayQueues.find((q) => q.delayMs === delayMs);
  if (!queue) throw new RangeError(`no eta delay queue of ${delayMs} ms (tiers: ${names.etaDelayQueues.map((q) => q.delayMs).join(", ")})`);
  return queue.name;
}

/**
 * Per-message TTL for a retry: uniform in [0.75*d_n, d_n], never above the queue TTL, so no
 * message waits longer than d_n behind another (the head of a queue expires first).
 */
export function jitteredRetryDelayMs(retry: Config["retry"], attempt: number, random: () => number = Math.random): number {
  const nominal = nominalRetryDelayMs(retry, Math.min(Math.max(attempt, 1), Math.max(retry.max, 1)));
  const low = Math.ceil(nominal * 0.75);
  return Math.min(nominal, low + Math.floor(random() * (nominal - low + 1)));
}

type QueueArgs = Record<string, unknown>;

/**
 * Work queue arguments. Classic: none at all, so the queue is identical to the one Celery
 * declares and either side may declare first. Dead-lettering is done by the worker publishing
 * to the DLX explicitly, not by a queue argument that would conflict with Celery's declare.
 */
export function workQueueArguments(queueType: QueueType): QueueArgs {
  return queueType === "quorum" ? { "x-queue-type": "quorum" } : {};
}

export function deadLetterQueueArguments(queueType: QueueType): QueueArgs {
  return queueType === "quorum" ? { "x-queue-type": "quorum" } : {};
}

/**
 * A delay queue (retry or eta) expires its messages back into the work exchange with the work
 * routing key.
 */
export function delayQueueArguments(names: TopologyNames, delay: { delayMs: number }, queueType: QueueType): QueueArgs {
  const args: QueueArgs = {
    "x-message-ttl": delay.delayMs,
    "x-dead-letter-exchange": names.exchange,
    "x-dead-letter-routing-key": names.routingKey,
  };
  if (queueType === "quorum") args["x-queue-type"] = "quorum";
  return args;
}
