/**
 * A worker's retry, eta or dead-letter copy that the broker returned as unroutable: its queue is gone
 * (deleted by an operator, or by an `x-expires` / max-length policy) after the worker declared
 * the topology. The worker keeps the original unacked, re-declares, and publishes the copy
 * again on this schedule. Pure.
 */
import { isMatchflowError } from "../errors.js";
import { isMissingExchange } from "./exchange-check.js";

/** Longest pause between two attempts: far below RabbitMQ's consumer_timeout (30 min by default). */
export const UNROUTABLE_MAX_PAUSE_MS = 30_000;

export function isUnroutable(err: unknown): boolean {
  return isMatchflowError(err) && err.code === "unroutable";
}

/**
 * The pause before publishing the copy again, for the `round`-th return in a row (1-based).
 * Right after a successful re-declaration the first try is immediate (the queue is back);
 * otherwise 1 s, 2 s, 4 s, ... up to 30 s, so a queue that cannot come back (no permission to
 * declare it, a policy that deletes it at once) never makes a hot loop.
 */
export function unroutablePauseMs(round: number, declared: boolean): number {
  if (round <= 1 && declared) return 0;
  const exponent = Math.min(Math.max(round - 2, 0), 15);
  return Math.min(1000 * 2 ** exponent, UNROUTABLE_MAX_PAUSE_MS);
}

/** Where a copy goes: a queue through the default exchange or by binding, or a named exchange's bindings (queue undefined). */
interface Route {
  exchange: string;
  routingKey: string;
  queue: string | undefined;
}

/** The log fields naming where a copy goes: its queue, or the exchange and routing key. */
export function routeFields(target: Route): { queue: string } | { exchange: string; routingKey: string } {
  return target.queue !== undefined ? { queue: target.queue } : { exchange: target.exchange, routingKey: target.routingKey };
}

/** Why a follow-up through a named exchange did not arrive: the exchange is missing, or no queue is bound for its key. */
export function missingRoute(target: Route, err: unknown): string {
  return isMissingExchange(err) ? err.message : `no queue is bound to exchange "${target.exchange}" with routing key "${target.routingKey}"`;
}
