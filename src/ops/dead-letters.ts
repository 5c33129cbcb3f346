/**
 * The dead-letter queue over AMQP.
 *
 * Reading never removes anything: messages are consumed and left unacked, then the channel is
 * closed, which hands every one of them back to the queue in its original position (a consumer,
 * not one basic.get round trip per message: dead-letter-stream.ts). Every scan is bounded by the
 * queue's length when it started, so a message that comes back while we work (a requeued poison
 * message dead-lettered again) is not seen twice. Messages held that way are invisible to anyone
 * else, so every command holds the queue's lock (`dead-letter-lock.ts`) from before its first
 * read until its channels are closed.
 *
 * Requeueing publishes each chosen message to the work exchange on a confirm channel and acks
 * the dead letter only after the broker confirmed the copy and did not return it as
 * unroutable: a crash half way leaves at worst a duplicate, which the upsert makes harmless.
 */
import type { Channel, ConfirmChannel, Message } from "amqplib";
import { blockedTooLongError, watchBlocked, type BrokerConnection } from "../broker/connection.js";
import type { TopologyNames } from "../broker/topology-names.js";
import { PermanentError, TransientError, errorMessage } from "../errors.js";
import { closeQuietly, confirmAcks, frameMaxOf, isNotFound, queueExists, quietChannel, type ChannelSource } from "./broker-session.js";
import { withDeadLetterLock, type DeadLetterLockOptions } from "./dead-letter-lock.js";
import { streamDeadLetters } from "./dead-letter-stream.js";
import { RequeueWindow } from "./requeue-window.js";
import type { ErrorCodeFilter } from "./error-code-filter.js";
import {
  buildRequeueMessage,
  deadLetterCode,
  deadLetterKey,
  deadLetterKeyOf,
  describeDeadLetter,
  summariseDeadLetter,
  type DeadLetterDetail,
  type DeadLetterSummary,
  type RequeueMessage,
} from "./dead-letter-message.js";

export interface DeadLetterListing {
  queue: string;
  exists: boolean;
  /** The work queue; whether it exists is checked only when the dead-letter queue does not (else null). */
  workQueue: string;
  workQueueExists: boolean | null;
  /** Messages ready in the queue when the listing started. */
  total: number;
  /** With `--code`: its patterns, and how many of the dead letters read have a matching code (items holds the first `limit`). */
  codes: readonly string[] | null;
  matching: number | null;
  items: DeadLetterSummary[];
  /**
   * The queue gave fewer messages than it reported ready (up to the limit): another client (not
   * a matchflow dlq command, they take turns) removed some or holds them unacked meanwhile.
   */
  cutShort: boolean;
  /**
   * Consumers of the dead-letter queue other than this command (never a matchflow dlq command:
   * they take turns) when it started: the letters they hold unacked are not counted nor read.
   */
  otherConsumers: number;
  warnings: string[];
}

/**
 * A quorum queue counts a peek (get, then return on channel close) as a delivery, and before
 * RabbitMQ 4.3 its delivery limit (default 20 since 4.0) then drops the message. Warn early.
 */
export const DELIVERY_COUNT_WARNING_AT = 10;

export function peekWarnings(queue: string, items: readonly DeadLetterSummary[]): string[] {
  const highest = Math.max(0, ...items.map((d) => d.deliveryCount ?? 0));
  if (highest < DELIVERY_COUNT_WARNING_AT) return [];
  return [
    `dead letters in ${queue} have been delivered up to ${highest} times (each listing counts on a quorum queue); with a delivery limit the broker drops them: set a policy with delivery-limit -1 on ${queue}, or requeue/purge them`,
  ];
}

/** Letters another consumer holds unacked are invisible to every dlq command: said, not left silent. */
export function otherConsumersNote(queue: string, consumers: number): string {
  return `${consumers} other consumer${consumers === 1 ? "" : "s"} (not a matchflow dlq command) read${consumers === 1 ? "s" : ""} ${queue}: the dead letters ${consumers === 1 ? "it holds" : "they hold"} unacked are not seen until ${consumers === 1 ? "it stops" : "they stop"}`;
}

interface Peeked<T> {
  total: number;
  found: T[];
  /** Fewer messages came than `min(total, limit)`: someone else took or holds the rest. */
  cutShort: boolean;
  otherConsumers: number;
}

/** Looks at up to `limit` messages without acking them (`visit` may); `undefined` when the queue is missing. */
async function peek<T>(ch: Channel, queue: string, limit: number, visit: (msg: Message, ch: Channel) => T | undefined): Promise<Peeked<T> | undefined> {
  let total: number;
  let otherConsumers: number;
  try {
    // Before our own consumer starts: every consumer counted is someone else's.
    ({ messageCount: total, consumerCount: otherConsumers } = await ch.checkQueue(queue));
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  const wanted = Math.min(total, limit);
  const stream = await streamDeadLetters(ch, queue, { limit: wanted, pick: (msg) => visit(msg, ch) });
  const found: T[] = [];
  for (let value = await stream.next(); value !== false; value = await stream.next()) found.push(value);
  await stream.stop();
  return { total, found, cutShort: stream.scanned < wanted, otherConsumers };
}

/** Peeks on a channel of its own, under the queue's lock; closing the channel puts back everything not acked. */
export async function peekLocked<T>(
  source: ChannelSource,
  queue: string,
  limit: number,
  lock: DeadLetterLockOptions | undefined,
  visit: (msg: Message, ch: Channel) => T | undefined,
  /** `visit` acks: what was done, said if the broker may not have taken the acks. */
  acked?: () => string,
): Promise<Peeked<T> | undefined> {
  return withDeadLetterLock(source, queue, lock ?? {}, async () => {
    const ch = await quietChannel(source);
    try {
      const peeked = await peek(ch, queue, limit, visit);
      if (peeked && acked) await confirmAcks(ch, queue, acked());
      return peeked;
    } finally {
      // Closing (not acking) is what puts every peeked message back, before the lock is released.
      await closeQuietly(ch);
    }
  });
}

export async function listDeadLetters(source: ChannelSource, names: TopologyNames, options: { limit: number; maxBytes: number; codes?: ErrorCodeFilter; lock?: DeadLetterLockOptions }): Promise<DeadLetterListing> {
  const { codes, limit, maxBytes } = options;
  // With codes every letter is read (to count the matching ones), and the first `limit` kept.
  let matching = 0;
  const result = await peekLocked(source, names.deadLetterQueue, codes ? Number.POSITIVE_INFINITY : limit, options.lock, (msg) => {
    if (!codes) return summariseDeadLetter(msg, maxBytes);
    if (!codes.matches(deadLetterCode(msg))) return undefined;
    return ++matching <= limit ? summariseDeadLetter(msg, maxBytes) : undefined;
  });
  const items = result?.found ?? [];
  return {
    queue: names.deadLetterQueue,
    exists: result !== undefined,
    workQueue: names.queue,
    // Both missing is more likely a mistyped MATCHES_QUEUE than a vhost without dead letters.
    workQueueExists: result === undefined ? await queueExists(source, names.queue) : null,
    total: result?.total ?? 0,
    codes: codes?.patterns ?? null,
    matching: codes ? matching : null,
    items,
    cutShort: result?.cutShort ?? false,
    otherConsumers: result?.otherConsumers ?? 0,
    warnings: [...peekWarnings(names.deadLetterQueue, items), ...(result?.otherConsumers ? [otherConsumersNote(names.deadLetterQueue, result.otherConsumers)] : [])],
  };
}

export interface ShownDeadLetters {
  /** Every dead letter whose task id is the one asked for (a task dead-lettered twice appears twice). */
  found: DeadLetterDetail[];
  /** Some dead letters could not be read (another client took or holds them): "none found" is not certain. */
  cutShort: boolean;
  /** The dead-letter queue does not exist; then whether the work queue does (else null), as for a listing. */
  missing: boolean;
  workQueueExists: boolean | null;
}

export async function showDeadLetter(source: ChannelSource, names: TopologyNames, taskId: string, options: { maxBytes: number; lock?: DeadLetterLockOptions }): Promise<ShownDeadLetters> {
  const result = await peekLocked(source, names.deadLetterQueue, Number.POSITIVE_INFINITY, options.lock, (msg) =>
    deadLetterKeyOf(msg, options.maxBytes) === taskId ? describeDeadLetter(msg, options.maxBytes) : undefined,
  );
  return {
    found: result?.found ?? [],
    // Letters another consumer holds were not read either: "none found" is as uncertain.
    cutShort: (result?.cutShort ?? false) || (result?.otherConsumers ?? 0) > 0,
    missing: result === undefined,
    workQueueExists: result === undefined ? await queueExists(source, names.queue) : null,
  };
}

/** Every letter; task ids (or, for dead letters without one, the body reference `dlq list` shows: `bodyRef`); or error codes. */
export type RequeueSelection = { all: true } | { taskIds: readonly string[] } | { codes: ErrorCodeFilter };

export interface RequeueReport {
  /** Messages published to the work exchange and removed from the dead-letter queue. */
  requeued: { taskId: string | null; reencoded: boolean; droppedHeaders?: string[] }[];
  /** Task ids (or body references) asked for that are not in the dead-letter queue. */
  notFound: string[];
  /**
   * Chosen letters whose copy could not be made (re-encoding failed: arguments nested too deep
   * to serialise, say). Each stays in the dead-letter queue; the others are requeued all the same.
   */
  notRequeued: { key: string; reason: string }[];
  /** Dead letters ready when the requeue started, and how many of them were looked at. */
  total: number;
  scanned: number;
  /** Fewer dead letters came than the queue reported ready: another client took or holds some. */
  cutShort: boolean;
  /** Consumers of the dead-letter queue other than this command: the letters they hold were not seen. */
  otherConsumers: number;
}

export interface RequeueOptions {
  maxBytes: number;
  /**
   * The copies go out on this connection instead of `source`: a broker that blocks publishers (a
   * memory or disk alarm) then still reads the dead letters' acks; and the requeue stops with
   * `broker_blocked` once the broker has blocked it `blockedTimeoutMs` (before, it waited as long
   * as the alarm lasted, holding the dead-letter queue's lock).
   */
  publishOn?: { connection: BrokerConnection; blockedTimeoutMs: number };
  /** Messages awaiting their confirm at once. @default 100 */
  window?: number;
  lock?: DeadLetterLockOptions;
}

interface Chosen {
  dead: Message;
  out: RequeueMessage;
  key: string;
}


/**
 * Moves the selected dead letters back to the work exchange (see the module comment for the
 * ordering that makes it crash-safe). Returned (unroutable) copies leave their dead letter in
 * place and fail the run with `requeue_unroutable`.
 */
export async function requeueDeadLetters(source: ChannelSource, names: TopologyNames, selection: RequeueSelection, options: RequeueOptions): Promise<RequeueReport> {
  return withDeadLetterLock(source, names.deadLetterQueue, options.lock ?? {}, () => requeueUnderLock(source, names, selection, options));
}

/**
 * Requeue declares nothing: with a mistyped MATCHES_QUEUE, declaring would create a work queue
 * bound to the shared exchange that silently collects a copy of every task from then on.
 */
async function requireRequeueQueues(source: ChannelSource, names: TopologyNames): Promise<void> {
  const missing: string[] = [];
  if (!(await queueExists(source, names.queue))) missing.push(`work queue ${names.queue}`);
  if (!(await queueExists(source, names.deadLetterQueue))) missing.push(`dead-letter queue ${names.deadLetterQueue}`);
  if (missing.length === 0) return;
  throw new PermanentError(
    "queue_not_found",
    `${missing.join(" and ")} ${missing.length === 1 ? "does" : "do"} not exist; nothing was requeued (check MATCHES_QUEUE and the vhost; a worker declares them when it starts)`,
  );
}

async function requeueUnderLock(source: ChannelSource, names: TopologyNames, selection: RequeueSelection, options: RequeueOptions): Promise<RequeueReport> {
  await requireRequeueQueues(source, names);
  const wanted = "taskIds" in selection ? new Set(selection.taskIds) : undefined;
  const codes = "codes" in selection ? selection.codes : undefined;
  const window = Math.max(1, options.window ?? 100);
  const report: RequeueReport = { requeued: [], notFound: [], notRequeued: [], total: 0, scanned: 0, cutShort: false, otherConsumers: 0 };
  const seen = new Set<string>();
  const getCh = await quietChannel(source);
  let pubCh: ConfirmChannel | undefined;
  let stopWatching: (() => void) | undefined;
  try {
    let total: number;
    try {
      ({ messageCount: total, consumerCount: report.otherConsumers } = await getCh.checkQueue(names.deadLetterQueue));
      report.total = total;
    } catch (err) {
      if (!isNotFound(err)) throw err;
      report.notFound = wanted ? [...wanted] : [];
      return report;
    }
    const publishOn = options.publishOn;
    pubCh = await (publishOn?.connection ?? source).createConfirmChannel();
    let blockedTooLong: (reason: string) => void = () => undefined;
    const blocked = new Promise<string>((resolve) => (blockedTooLong = resolve));
    stopWatching = publishOn && watchBlocked(publishOn.connection, publishOn.blockedTimeoutMs, blockedTooLong);
    pubCh.on("error", () => undefined);

    /** A stopped run still reports what it requeued: those acks are confirmed as a finished run's are. */
    const stopped = async (error: Error): Promise<never> => {
      if (report.requeued.length > 0) await confirmAcks(getCh, names.deadLetterQueue, `${error.message}; ${report.requeued.length} dead letter(s) were requeued`);
      throw error;
    };
    const copies = new RequeueWindow(pubCh, getCh, names, (out) => report.requeued.push({ taskId: out.taskId, reencoded: out.reencoded, ...(out.droppedHeaders.length > 0 ? { droppedHeaders: out.droppedHeaders } : {}) }), blocked);
    /** Waits until fewer than `max` copies are in flight; stops the run if the broker blocked it too long. */
    const room = async (max: number) => {
      const blockedFor = await copies.below(max);
      if (blockedFor !== undefined) {
        return stopped(blockedTooLongError(blockedFor, publishOn?.blockedTimeoutMs ?? 0, `requeue stopped after ${report.requeued.length} message(s); the rest are still in ${names.deadLetterQueue}`));
      }
    };

    const frameMax = frameMaxOf(source);
    const choose = (dead: Message): Chosen | undefined => {
      // Passed over: back on close.
      let key: string | undefined;
      if (wanted) {
        key = deadLetterKeyOf(dead, options.maxBytes);
        if (!wanted.has(key)) return undefined;
      }
      if (codes && !codes.matches(deadLetterCode(dead))) return undefined;
      let out: RequeueMessage;
      try {
        out = buildRequeueMessage(dead, { deadLetterQueue: names.deadLetterQueue, maxBytes: options.maxBytes, frameMax });
      } catch (err) {
        // One letter that cannot be copied must not stop the run half way (with copies in flight
        // and their letters unacked, each then requeued twice): it stays, and is reported.
        key ??= deadLetterKeyOf(dead, options.maxBytes);
        seen.add(key);
        report.notRequeued.push({ key, reason: errorMessage(err) });
        return undefined;
      }
      return { dead, out, key: key ?? deadLetterKey(out.taskId, dead.content) };
    };
    // Every letter: the broker pushes a window ahead, each ack (as its copy is confirmed) making
    // room for the next. Chosen ids or codes: the letters passed over stay held until the end, so
    // the stream must make room for them all.
    const every = !wanted && !codes;
    const stream = await streamDeadLetters(getCh, names.deadLetterQueue, { limit: total, pick: choose, ...(every ? { window, willMakeRoom: () => copies.size > 0 } : {}) });
    for (let chosen = await stream.next(); chosen !== false && copies.failure === undefined; chosen = await stream.next()) {
      seen.add(chosen.key);
      copies.send(chosen.dead, chosen.out);
      // With --all the consumer holds `window` letters unacked, letters that could not be copied
      // among them for good: copies in flight stay below what is left of it.
      await room(window - (every ? report.notRequeued.length : 0));
    }
    // Every copy settled (a failed run too: the others' letters are acked, none is out twice).
    await room(1);
    if (copies.failure !== undefined) {
      return await stopped(new TransientError("requeue_failed", `requeue stopped after ${report.requeued.length} message(s): ${copies.failure}; the rest are still in ${names.deadLetterQueue}`));
    }
    await stream.stop();
    report.scanned = stream.scanned;
    report.cutShort = report.scanned < total;
    if (wanted) report.notFound = [...wanted].filter((id) => !seen.has(id));
    await confirmAcks(getCh, names.deadLetterQueue, `${report.requeued.length} dead letter(s) were requeued`);
    return report;
  } finally {
    stopWatching?.();
    // A blocked connection reads nothing, so no close-ok would come; closing it resets it (connection.ts).
    if (options.publishOn?.connection.blockedReason === undefined) await closeQuietly(pubCh);
    // Everything not acked returns to the dead-letter queue.
    await closeQuietly(getCh);
  }
}
