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
 * Requeueing: dead-letter-requeue.ts; purging: dead-letter-purge.ts.
 */
import type { Channel, Message } from "amqplib";
import type { TopologyNames } from "../broker/topology-names.js";
import { closeQuietly, confirmAcks, isNotFound, queueExists, quietChannel, type ChannelSource } from "./broker-session.js";
import { withDeadLetterLock, type DeadLetterLockOptions } from "./dead-letter-lock.js";
import { deadLetterCode, deadLetterKeyOf, describeDeadLetter, summariseDeadLetter, type DeadLetterDetail, type DeadLetterSummary } from "./dead-letter-message.js";
import { streamDeadLetters } from "./dead-letter-stream.js";
import { codesByFrequency, countCode, type CodeCount, type ErrorCodeFilter } from "./error-code-filter.js";

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
  /** With `--code`: every error code of the dead letters read, most frequent first (what `--code` could have named). */
  codesPresent?: CodeCount[];
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
  // A loop, not Math.max(...spread): a listing of 125,000+ letters overflowed the call stack.
  let highest = 0;
  for (const d of items) highest = Math.max(highest, d.deliveryCount ?? 0);
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
  const present = new Map<string, number>();
  const result = await peekLocked(source, names.deadLetterQueue, codes ? Number.POSITIVE_INFINITY : limit, options.lock, (msg) => {
    if (!codes) return summariseDeadLetter(msg, maxBytes);
    const code = deadLetterCode(msg);
    countCode(present, code);
    if (!codes.matches(code)) return undefined;
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
    ...(codes ? { codesPresent: codesByFrequency(present) } : {}),
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
