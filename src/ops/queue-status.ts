/**
 * Gathers `queue status` on an AMQP connection (unreachable: exit 4, as for every command that
 * uses RABBITMQ_URL): from the management API when it is configured and answers (counts,
 * unacked, consumers, rates; the broker's samples, a few seconds old at most), otherwise over
 * AMQP with passive declares (ready and consumers only, exact). A missing queue (always confirmed
 * by a passive declare) is a row with `exists: false`, never an error; a queue the API has not
 * sampled yet has unknown figures and a note.
 */
import type { Channel } from "amqplib";
import { describeBroker } from "../broker/connection.js";
import type { TopologyNames } from "../broker/topology-names.js";
import { TransientError, errorMessage, isMatchflowError } from "../errors.js";
import type { Logger } from "../log.js";
import { closeQuietly, isNotFound, quietChannel, withBroker, type ChannelSource } from "./broker-session.js";
import { fetchManagementQueue, fetchManagementQueueFigures, managementTarget } from "./management-api.js";
import { queuesToReport, statusWarnings, unsampledNote, unusedRetryQueues, type QueueRef, type QueueRow, type QueueStatusReport } from "./queue-status-report.js";
import { strandedQueueWarnings } from "./stranded-queues.js";

export interface QueueStatusOptions {
  names: TopologyNames;
  /** RABBITMQ_URL (with the vhost). */
  amqpUrl: string;
  /** RABBITMQ_MANAGEMENT_URL; when unset or unreachable the figures come over AMQP. */
  managementUrl?: string | undefined;
  log: Logger;
  /** Per-request timeout of the management API. @default 5000 */
  managementTimeoutMs?: number;
}

function missing(ref: QueueRef): QueueRow {
  return { ...ref, exists: false, ready: null, unacked: null, consumers: null, publishRate: null, deliverRate: null };
}

/**
 * Figures from the API. A queue it does not know (HTTP 404) is missing only once a passive
 * declare over AMQP says so too: a 404 also comes from an API describing another broker (a
 * RABBITMQ_MANAGEMENT_URL left on staging, with a vhost of the same name), which showed every
 * queue missing (exit 2). A queue the API lacks but AMQP finds makes the API's figures untrusted
 * as a whole: `management_unavailable`, and the caller reads everything over AMQP.
 */
export async function statusFromManagement(source: ChannelSource, managementUrl: string, amqpUrl: string, refs: QueueRef[], timeoutMs?: number): Promise<QueueRow[]> {
  const target = managementTarget(managementUrl, amqpUrl);
  const fetched = await Promise.all(refs.map((ref) => fetchManagementQueue(target, ref.name, timeoutMs)));
  const unknown = refs.filter((_, i) => fetched[i] === undefined);
  const found = unknown.length === 0 ? [] : (await statusOverAmqp(source, unknown)).filter((row) => row.exists);
  if (found.length > 0) {
    const names = found.map((row) => row.name).join(", ");
    throw new TransientError(
      "management_unavailable",
      `management API at ${target.apiBase} does not know ${names} in vhost ${JSON.stringify(target.vhost)}, which exist${found.length === 1 ? "s" : ""} over AMQP: RABBITMQ_MANAGEMENT_URL may point at another broker`,
    );
  }
  return refs.map((ref, i): QueueRow => {
    const q = fetched[i];
    return q ? { ...ref, exists: true, ...q } : missing(ref);
  });
}

/** Passive `checkQueue` per queue; a 404 closes the channel, so the next check opens another. */
export async function statusOverAmqp(source: ChannelSource, refs: QueueRef[]): Promise<QueueRow[]> {
  const rows: QueueRow[] = [];
  let ch: Channel | undefined;
  try {
    for (const ref of refs) {
      ch ??= await quietChannel(source);
      try {
        const ok = await ch.checkQueue(ref.name);
        rows.push({ ...ref, exists: true, ready: ok.messageCount, unacked: null, consumers: ok.consumerCount, publishRate: null, deliverRate: null });
      } catch (err) {
        if (!isNotFound(err)) throw err;
        ch = undefined;
        rows.push(missing(ref));
      }
    }
  } finally {
    await closeQuietly(ch);
  }
  return rows;
}

/**
 * The AMQP connection comes first, whatever the source of the figures: it is what workers and
 * publishers use, and with the management API alone a wrong RABBITMQ_URL (port, password after
 * a rotation) showed a healthy table and exit 0 where operators look for exit 4.
 */
export async function queueStatus(options: QueueStatusOptions): Promise<QueueStatusReport> {
  return withBroker(options.amqpUrl, options.log, (conn) => queueStatusOn(conn, options));
}

async function queueStatusOn(conn: ChannelSource, options: QueueStatusOptions): Promise<QueueStatusReport> {
  const refs = queuesToReport(options.names);
  const broker = describeBroker(options.amqpUrl);
  const notes: string[] = [];
  if (options.managementUrl) {
    try {
      // Only the API can list a vhost's queues, in one request: retry queues of an earlier schedule,
      // and queues of other names holding messages nobody consumes (stranded-queues.ts).
      const vhostQueues = await fetchManagementQueueFigures(managementTarget(options.managementUrl, options.amqpUrl), options.managementTimeoutMs);
      const queues = await statusFromManagement(conn, options.managementUrl, options.amqpUrl, [...refs, ...unusedRetryQueues(options.names, vhostQueues.map((q) => q.name))], options.managementTimeoutMs);
      const unsampled = unsampledNote(queues);
      if (unsampled !== undefined) notes.push(unsampled);
      return { source: "management", broker, queues, warnings: [...statusWarnings(queues), ...strandedQueueWarnings(options.names, vhostQueues)], notes };
    } catch (err) {
      if (!isMatchflowError(err) || err.code !== "management_unavailable") throw err;
      options.log.debug({ err: errorMessage(err) }, "management API not usable; reading queue status over AMQP");
      notes.push(`${errorMessage(err)}; figures read over AMQP instead (no unacked counts or rates)`);
    }
  }
  const queues = await statusOverAmqp(conn, refs);
  return { source: "amqp", broker, queues, warnings: statusWarnings(queues), notes };
}
