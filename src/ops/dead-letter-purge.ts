/**
 * `dlq purge` and `queue purge`: emptying the dead-letter queue (all of it, or the letters with
 * some error codes) under the queue's lock, and saying what a purge could not reach.
 */
import type { Channel } from "amqplib";
import { accessRefusalOf, permissionRefused } from "../broker/access-refused.js";
import type { TopologyNames } from "../broker/topology-names.js";
import { unlessNotFound, type ChannelSource } from "./broker-session.js";
import { withDeadLetterLock, type DeadLetterLockOptions } from "./dead-letter-lock.js";
import { deadLetterCode } from "./dead-letter-message.js";
import { peekLocked } from "./dead-letters.js";
import { codesByFrequency, countCode, type CodeCount, type ErrorCodeFilter } from "./error-code-filter.js";

export interface PurgeReport {
  removed: number;
  /** With codes: fewer letters came than the queue reported ready (another client took or holds some). */
  cutShort: boolean;
  /** Consumers of the dead-letter queue other than this command: what they hold unacked was not purged. */
  otherConsumers: number;
  /** With codes: how many dead letters were looked at, and their error codes, most frequent first (said when none matched). */
  scanned?: number;
  codesPresent?: CodeCount[];
}

/**
 * Empties the dead-letter queue under its lock (never while another dlq command reads it); with
 * `codes`, removes only the dead letters whose error code matches (each acked as it is read; the
 * others go back in their order). `undefined` when the queue does not exist.
 */
export async function purgeDeadLetters(source: ChannelSource, names: TopologyNames, options: { codes?: ErrorCodeFilter; lock?: DeadLetterLockOptions } = {}): Promise<PurgeReport | undefined> {
  const { codes } = options;
  if (!codes) {
    return withDeadLetterLock(source, names.deadLetterQueue, options.lock ?? {}, async () => {
      // queue.purge removes ready messages only: those another consumer holds unacked survive it.
      // Counted before and after, on the same channel: one that came or went meanwhile is counted too.
      return unlessNotFound(source, async (ch) => {
        const before = await ch.checkQueue(names.deadLetterQueue);
        const removed = await purged(ch, names.deadLetterQueue);
        const after = await ch.checkQueue(names.deadLetterQueue);
        return { removed, cutShort: false, otherConsumers: Math.max(before.consumerCount, after.consumerCount) };
      });
    });
  }
  let removed = 0;
  let scanned = 0;
  const present = new Map<string, number>();
  const result = await peekLocked(source, names.deadLetterQueue, Number.POSITIVE_INFINITY, options.lock, (msg, ch) => {
    const code = deadLetterCode(msg);
    scanned++;
    countCode(present, code);
    if (codes.matches(code)) {
      ch.ack(msg); // sent before the close that gives every other letter back
      removed++;
    }
    return undefined; // nothing kept in memory
  }, () => `${removed} dead letter(s) were purged`);
  return result === undefined ? undefined : { removed, cutShort: result.cutShort, otherConsumers: result.otherConsumers, scanned, codesPresent: codesByFrequency(present) };
}

/** Empties a queue; returns how many messages it held, or `undefined` when it does not exist. */
export async function purgeQueue(source: ChannelSource, queue: string): Promise<number | undefined> {
  return unlessNotFound(source, (ch) => purged(ch, queue));
}

/** queue.purge; a user without read permission on the queue is told so (exit 2), not a raw 403 (exit 70). */
async function purged(ch: Channel, queue: string): Promise<number> {
  try {
    return (await ch.purgeQueue(queue)).messageCount;
  } catch (err) {
    const refusal = accessRefusalOf(err);
    if (refusal?.kind === "permission") throw permissionRefused(refusal, `read permission on queue ${queue}`, "purging needs it");
    throw err;
  }
}
