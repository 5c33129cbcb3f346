/**
 * Queues of the vhost other than the ones `queue status` reports that hold ready messages with
 * no consumer. The original's 1,900 messages waited for days in a queue nobody read because its
 * name was wrong; the report's own rows only cover the configured names, so a scraper left on an
 * old MATCHES_QUEUE, or a Celery producer that sends without `queue=` (to `celery`), stranded its
 * messages where `queue status` showed nothing wrong. Pure: the figures come from the
 * management API (management-api.ts, fetchManagementQueueFigures).
 */
import type { TopologyNames } from "../broker/topology-names.js";
import type { ManagementQueueFigures } from "./management-api.js";
import { queuesToReport } from "./queue-status-report.js";

/**
 * Queues that never have consumers on purpose, whatever their work queue: retry and eta delay
 * queues (the broker moves their messages back by TTL), dead-letter queues (read by `dlq`) and the
 * dlq commands' lock queue.
 */
const IDLE_BY_DESIGN = /\.(?:retry|eta)\.\d+ms$|\.dead_letter$|\.lock$/;

/** How many stranded queues are named one by one; a vhost full of them gets a count for the rest. */
const MAX_NAMED = 10;

export function strandedQueueWarnings(names: TopologyNames, figures: readonly ManagementQueueFigures[]): string[] {
  const reported = new Set(queuesToReport(names).map((q) => q.name));
  const stranded = figures
    .filter((q) => !reported.has(q.name) && !IDLE_BY_DESIGN.test(q.name) && (q.ready ?? 0) > 0 && q.consumers === 0)
    .sort((a, b) => (b.ready ?? 0) - (a.ready ?? 0) || (a.name < b.name ? -1 : 1));
  const warnings = stranded.slice(0, MAX_NAMED).map(
    (q) =>
      `${q.ready} message${q.ready === 1 ? "" : "s"} wait in queue ${JSON.stringify(q.name)} with no consumer, and no matchflow worker of this configuration reads it (they read ${names.queue}): ` +
      `a producer publishing to the wrong queue (an old MATCHES_QUEUE, a Celery producer without queue=${JSON.stringify(names.queue)})? Fix the producer, then move them to ${names.queue} (a shovel) or delete the queue`,
  );
  if (stranded.length > MAX_NAMED) warnings.push(`${stranded.length - MAX_NAMED} more queues hold messages with no consumer`);
  return warnings;
}
