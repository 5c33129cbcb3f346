/**
 * What `matchflow queue status` reports, the warnings it derives and how it prints them.
 * Pure: the figures are gathered in `queue-status.ts`.
 */
import type { TopologyNames } from "../broker/topology-names.js";

/** `eta`: the queues tasks wait in until their Celery eta is due (never consumed, like retry queues). */
export type QueueRole = "work" | "dead_letter" | "retry" | "eta";

export interface QueueRef {
  name: string;
  role: QueueRole;
  /** Retry and eta queues: their delay (x-message-ttl). */
  delayMs?: number;
  /** A retry queue of an earlier RETRY_* schedule: the current settings no longer use it. */
  unused?: boolean;
}

export interface QueueRow extends QueueRef {
  exists: boolean;
  /**
   * Messages waiting to be delivered. Over AMQP: exact, at the time of asking. From the
   * management API: the broker's last sample (every few seconds), unknown (null) before the first.
   */
  ready: number | null;
  /** Delivered, not yet acknowledged. Unknown (null) over AMQP, and before the API's first sample. */
  unacked: number | null;
  consumers: number | null;
  /** Messages per second; only from the management API, unknown (null) until it has sampled them. */
  publishRate: number | null;
  deliverRate: number | null;
}

export interface QueueStatusReport {
  /**
   * Where the figures came from. "management": the broker's statistics samples, taken every few
   * seconds (`collect_statistics_interval`) and each piece on its own timer, so they can trail
   * the queue and each other by that much. "amqp": passive declares, exact when asked.
   */
  source: "management" | "amqp";
  /** `host:port vhost v`: never credentials. */
  broker: string;
  queues: QueueRow[];
  warnings: string[];
  /** e.g. why the management API was not used. */
  notes: string[];
}

/** The queues `queue status` looks at, in the order it prints them. */
export function queuesToReport(names: TopologyNames): QueueRef[] {
  return [
    { name: names.queue, role: "work" },
    { name: names.deadLetterQueue, role: "dead_letter" },
    ...names.delayQueues.map((d) => ({ name: d.name, role: "retry" as const, delayMs: d.delayMs })),
    // Their tiers are fixed (not settings), so unlike retry queues none is left by an earlier schedule.
    ...names.etaDelayQueues.map((d) => ({ name: d.name, role: "eta" as const, delayMs: d.delayMs })),
  ];
}

/**
 * Retry queues of this work queue that the current schedule does not name (`<queue>.retry.<ms>ms`
 * left by earlier RETRY_* settings), from the vhost's queue names: the messages in them still
 * return to the work queue when their delay runs out, but were invisible in the report.
 */
export function unusedRetryQueues(names: TopologyNames, vhostQueues: readonly string[]): QueueRef[] {
  const current = new Set(names.delayQueues.map((d) => d.name));
  const prefix = `${names.queue}.retry.`;
  const refs: QueueRef[] = [];
  for (const name of vhostQueues) {
    if (!name.startsWith(prefix) || current.has(name)) continue;
    const delay = /^(\d+)ms$/.exec(name.slice(prefix.length));
    if (delay) refs.push({ name, role: "retry", delayMs: Number(delay[1]), unused: true });
  }
  return refs.sort((a, b) => (a.delayMs ?? 0) - (b.delayMs ?? 0));
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/**
 * A note naming the existing queues the management API has not sampled yet (just declared, or a
 * broker that just started): their figures are unknown, not zero. Undefined when there are none.
 */
export function unsampledNote(rows: readonly QueueRow[]): string | undefined {
  const unsampled = rows.filter((r) => r.exists && (r.ready === null || r.unacked === null || r.consumers === null)).map((r) => r.name);
  if (unsampled.length === 0) return undefined;
  const what = unsampled.length === 1 ? `queue ${unsampled[0]}` : `queues ${unsampled.join(", ")}`;
  return `the management API has not sampled ${what} yet (it does every few seconds): unknown figures show as ?; run again shortly, or without RABBITMQ_MANAGEMENT_URL for exact ready and consumer counts over AMQP`;
}

/**
 * Operator-facing warnings. Retry and eta queues never have consumers (the broker moves their
 * messages back by TTL; tasks waiting for their eta are no backlog) and the dead-letter queue is
 * not consumed either, so only the work queue can be "stranded" -- the original's 1,900
 * messages waiting for a worker that listened elsewhere.
 */
export function statusWarnings(rows: readonly QueueRow[]): string[] {
  const warnings: string[] = [];
  const missing = rows.filter((r) => !r.exists).map((r) => r.name);
  if (missing.length > 0) {
    const what = missing.length === 1 ? `queue ${missing[0]} does not exist` : `queues ${missing.join(", ")} do not exist`;
    warnings.push(`${what} (workers and publishers declare the topology when they start; check MATCHES_QUEUE and the vhost)`);
  }
  for (const row of rows) {
    if (!row.exists) continue;
    if (row.role === "work" && (row.ready ?? 0) > 0 && row.consumers === 0) {
      warnings.push(`${plural(row.ready ?? 0, "message")} wait in ${row.name} with no consumer: start a worker (matchflow worker) on this queue`);
    }
    const held = (row.ready ?? 0) + (row.unacked ?? 0);
    if (row.unused && held > 0) {
      warnings.push(`${plural(held, "message")} in ${row.name}, a retry queue of an earlier RETRY_* schedule: they return to the work queue when their delay runs out; delete the queue once it is empty`);
    }
    if (row.role === "dead_letter" && held > 0) {
      warnings.push(`dead-letter queue ${row.name} holds ${plural(held, "message")}: see matchflow dlq list`);
    }
  }
  return warnings;
}

function cell(value: number | null, exists: boolean): string {
  if (!exists) return "-";
  return value === null ? "?" : String(value);
}

function rate(value: number | null, exists: boolean): string {
  if (!exists || value === null) return "-";
  return `${Math.round(value * 10) / 10}/s`;
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** Human output: a table, then notes and warnings ("warning: ..."), one per line. */
export function formatQueueStatus(report: QueueStatusReport): string {
  const withRates = report.source === "management";
  const header = ["queue", "role", "ready", "unacked", "consumers", ...(withRates ? ["publish", "deliver"] : [])];
  const rows = report.queues.map((q) => [
    q.name,
    (q.role === "retry" || q.role === "eta") && q.delayMs !== undefined ? `${q.role} ${q.delayMs}ms${q.unused ? " (unused)" : ""}` : q.role.replace("_", "-"),
    q.exists ? cell(q.ready, true) : "missing",
    cell(q.unacked, q.exists),
    cell(q.consumers, q.exists),
    ...(withRates ? [rate(q.publishRate, q.exists), rate(q.deliverRate, q.exists)] : []),
  ]);
  const from = report.source === "management" ? "the management API, sampled every few seconds: they can trail the queues by that much" : "AMQP; unacked unknown";
  const lines = [`broker ${report.broker} (figures from ${from})`, ...table(header, rows)];
  for (const note of report.notes) lines.push(`note: ${note}`);
  for (const warning of report.warnings) lines.push(`warning: ${warning}`);
  return `${lines.join("\n")}\n`;
}
