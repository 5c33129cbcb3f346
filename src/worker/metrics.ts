/**
 * The worker's Prometheus metrics. One registry per worker instance (tests run several in one
 * process); `collectDefaultMetrics` adds the process metrics (CPU, RSS, event loop lag...).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { LabelValues } from "./label-values.js";

export const TASK_OUTCOMES = ["created", "updated", "unchanged", "retried", "deferred", "dead_lettered"] as const;
export type TaskOutcome = (typeof TASK_OUTCOMES)[number];

export interface WorkerMetrics {
  registry: Registry;
  tasks: Counter<"outcome">;
  deadLetters: Counter<"code">;
  duration: Histogram;
  batchSize: Histogram;
  inFlight: Gauge;
  brokerUp: Gauge;
  /**
   * Makes `matchflow_broker_up` read `isUp` at every scrape: what /readyz's broker check reads
   * (both connections and the consumer channel). Set from the connection's events alone, it said
   * 1 while the consumer channel was gone and could not be opened again (a permission taken away,
   * the queue deleted): /readyz 503, MatchflowBrokerDown silent.
   */
  watchBroker(isUp: () => boolean): void;
  brokerBlocked: Gauge;
  databaseUp: Gauge;
  /** Label values producers choose: bounded (label-values.ts). */
  unknownFields: BoundedCounter<"field">;
  unroutableCopies: BoundedCounter<"queue">;
  workflowIgnored: Counter<"part">;
  followUps: Counter<"role">;
  byteLimitedBatches: Counter;
  headersDropped: Counter<"copy">;
  celeryEvents: Counter<"outcome">;
}

/** A counter whose one label a producer chooses: its first `max` distinct values, then `other`. */
export interface BoundedCounter<L extends string> {
  inc(labels: Record<L, string>): void;
}

function bounded<L extends string>(counter: Counter<L>, label: L, max: number): BoundedCounter<L> {
  const values = new LabelValues(max);
  return { inc: (labels) => counter.inc({ [label]: values.of(labels[label]) } as Record<L, string>) };
}

export function createWorkerMetrics(options: { defaultMetrics?: boolean } = {}): WorkerMetrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: "matchflow_" });
  const tasks = new Counter({
    name: "matchflow_tasks_total",
    help: "Tasks settled, by outcome (created, updated, unchanged, retried, deferred (eta not due yet), dead_lettered).",
    labelNames: ["outcome"] as const,
    registers: [registry],
  });
  for (const outcome of TASK_OUTCOMES) tasks.inc({ outcome }, 0);
  let brokerIsUp: (() => boolean) | undefined;
  return {
    registry,
    tasks,
    deadLetters: new Counter({
      name: "matchflow_dead_letters_total",
      help: "Tasks sent to the dead-letter queue, by error code.",
      labelNames: ["code"] as const,
      registers: [registry],
    }),
    duration: new Histogram({
      name: "matchflow_task_duration_seconds",
      help: "From delivery to settlement (ack, retry or dead letter), per task.",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    batchSize: new Histogram({
      name: "matchflow_batch_size",
      help: "Tasks written per database transaction.",
      buckets: [1, 2, 5, 10, 25, 50, 100, 200, 500, 1000],
      registers: [registry],
    }),
    inFlight: new Gauge({ name: "matchflow_tasks_in_flight", help: "Tasks delivered and not yet settled.", registers: [registry] }),
    brokerUp: new Gauge({
      name: "matchflow_broker_up",
      help: "1 when the broker connection is up and the worker consumes (what /readyz's broker check says).",
      registers: [registry],
      collect() {
        if (brokerIsUp) this.set(brokerIsUp() ? 1 : 0);
      },
    }),
    watchBroker: (isUp) => {
      brokerIsUp = isUp;
    },
    brokerBlocked: new Gauge({
      name: "matchflow_broker_blocked",
      help: "1 while the broker blocks the worker's publishing (a memory or disk alarm): retry, eta and dead-letter copies wait, their originals stay unacked.",
      registers: [registry],
    }),
    databaseUp: new Gauge({ name: "matchflow_database_up", help: "1 when the last database round trip succeeded.", registers: [registry] }),
    unknownFields: bounded(new Counter({
      name: "matchflow_contract_unknown_fields_total",
      help: "Fields outside MatchData v1 seen in received matches (kept in matches.raw), by field name: the first 100 names seen, later ones as `other`.",
      labelNames: ["field"] as const,
      registers: [registry],
    }), "field", 100),
    unroutableCopies: bounded(new Counter({
      name: "matchflow_unroutable_copies_total",
      help: "Retry/eta/dead-letter copies (re-declared and published again) and Celery follow-ups (published again once a Celery worker declares the queue) the broker returned because their queue was missing, by queue (`exchange <name>` for a follow-up sent to an exchange its signature names; the first 50 seen, later ones as `other`).",
      labelNames: ["queue"] as const,
      registers: [registry],
    }), "queue", 50),
    workflowIgnored: new Counter({
      name: "matchflow_celery_workflow_ignored_total",
      help: "Celery canvas parts of settled tasks that were not run (a chord, a malformed signature), by part.",
      labelNames: ["part"] as const,
      registers: [registry],
    }),
    followUps: new Counter({
      name: "matchflow_celery_follow_ups_total",
      help: "Celery tasks sent on a finished task's behalf (link callbacks, a chain's next step, errbacks), confirmed, by role.",
      labelNames: ["role"] as const,
      registers: [registry],
    }),
    byteLimitedBatches: new Counter({
      name: "matchflow_batches_byte_limited_total",
      help: "Batches cut short by WORKER_BATCH_BYTES (large messages: fewer per transaction so that a batch's decoded messages fit in the heap).",
      registers: [registry],
    }),
    headersDropped: new Counter({
      name: "matchflow_copy_headers_dropped_total",
      help: "Headers left out of retry/eta/dead-letter copies so that they fit the broker's frame_max, or of received tasks (copy=\"received\") whose decoded headers would take too much heap; named in x-matchflow-dropped-headers. By copy.",
      labelNames: ["copy"] as const,
      registers: [registry],
    }),
    celeryEvents: new Counter({
      name: "matchflow_celery_events_total",
      help: "Celery monitoring events (CELERY_EVENTS), by outcome: sent, or dropped (no channel, or its buffer full: events never hold a task up).",
      labelNames: ["outcome"] as const,
      registers: [registry],
    }),
  };
}
