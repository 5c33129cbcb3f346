/**
 * Why RabbitMQ itself dead-lettered a message, from its `x-death` header: such a message reaches
 * the dead-letter queue through the work queue's dead-letter policy without any worker having
 * seen it, so it carries none of the worker's `x-matchflow-*` headers. The usual one is a Celery
 * producer's `expires=`: Celery also sets the per-message TTL, and a task still queued when it
 * runs out (a backlog, no worker running) is expired by the broker. `dlq list` showed those as
 * `?`, with no reason and no time. Pure.
 */
import { isFieldTable as isObject, plainFieldValue as plain } from "../broker/field-values.js";

export interface BrokerDeath {
  /** `broker_<reason>`: broker_expired, broker_rejected, broker_maxlen, broker_delivery_limit. */
  code: string;
  message: string;
  /**
   * Deliveries that failed: none for a message that expired or overflowed while queued; for one
   * rejected, how often the broker dead-lettered it from that queue for that reason.
   */
  attempts: number | null;
  /** ISO-8601, to the second (AMQP timestamps are seconds). */
  at: string | null;
}

function explain(reason: string, queue: string, ttl: unknown): string {
  switch (reason) {
    case "expired":
      return `expired in queue ${queue} before a worker took it (per-message TTL${typeof ttl === "string" ? ` ${ttl} ms` : ""}: a Celery producer's expires=)`;
    case "rejected":
      return `rejected (requeue=false) by a consumer of queue ${queue} that is not a matchflow worker, e.g. a Celery worker's Reject`;
    case "maxlen":
      return `dropped by queue ${queue} at its length limit (x-max-length)`;
    case "delivery_limit":
      return `delivered more often than quorum queue ${queue}'s delivery-limit`;
    default:
      return `dead-lettered by the broker from queue ${queue} (reason ${reason})`;
  }
}

/** The latest of the broker's dead-letterings (RabbitMQ puts it first in `x-death`), if any. */
export function brokerDeathOf(headers: Record<string, unknown>): BrokerDeath | undefined {
  const deaths = plain(headers["x-death"]);
  const latest = Array.isArray(deaths) ? plain(deaths[0]) : undefined;
  if (!isObject(latest)) return undefined;
  const reason = plain(latest.reason);
  if (typeof reason !== "string" || reason === "") return undefined;
  const queue = plain(latest.queue);
  const count = plain(latest.count);
  const time = plain(latest.time);
  return {
    code: `broker_${reason}`,
    message: explain(reason, typeof queue === "string" ? queue : "?", plain(latest["original-expiration"])),
    attempts: reason === "expired" || reason === "maxlen" ? 0 : typeof count === "number" && Number.isFinite(count) ? count : null,
    at: typeof time === "number" && Number.isFinite(time) ? new Date(time * 1000).toISOString() : null,
  };
}
