/**
 * One `dlq` command at a time per dead-letter queue, across processes and hosts.
 *
 * Listing, showing and requeueing peek with basic.get and hold what they read unacked until
 * their channel closes; a second command meanwhile cannot see those messages and would report a
 * wrong total, "not found" or "requeued 0". So every dlq command first takes a mutex that lives
 * in RabbitMQ itself: an exclusive queue `<dead-letter-queue>.lock`. Only one connection can
 * declare it (another gets 405 RESOURCE_LOCKED), and the broker deletes it when its connection
 * dies, so a killed command never leaves it behind. It is never bound: no message reaches it.
 * Its name has two dots after the work queue's, so the alert rules' `matches(\.[a-z0-9_-]+)?`
 * patterns do not take it for a work or dead-letter queue, and `queue status` never lists it.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Channel } from "amqplib";
import { accessRefusalOf, permissionRefused } from "../broker/access-refused.js";
import { TransientError } from "../errors.js";
import { closeQuietly, quietChannel, type ChannelSource } from "./broker-session.js";

export interface DeadLetterLockOptions {
  /** How long to wait for another dlq command to finish. @default 30000 */
  waitMs?: number;
  /** Pause between two attempts. @default 200 */
  retryMs?: number;
  /** Told once, when the lock is found taken (to say that we wait). */
  onWait?: (lockQueue: string) => void;
}

export const DEFAULT_LOCK_WAIT_MS = 30_000;

export function lockQueueName(deadLetterQueue: string): string {
  return `${deadLetterQueue}.lock`;
}

/** RabbitMQ refuses an exclusive queue owned by another connection with 405 RESOURCE_LOCKED. */
function isLocked(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === 405;
}

async function tryLock(source: ChannelSource, lockQueue: string): Promise<Channel | undefined> {
  const ch = await quietChannel(source);
  try {
    // Classic whatever the vhost's default queue type: exclusive queues cannot be quorum.
    await ch.assertQueue(lockQueue, { exclusive: true, autoDelete: true, durable: false, arguments: { "x-queue-type": "classic" } });
    return ch;
  } catch (err) {
    await closeQuietly(ch);
    if (isLocked(err)) return undefined;
    const refusal = accessRefusalOf(err);
    // RabbitMQ says 405 for an exclusive queue held elsewhere; a 403 "in exclusive use" means as much.
    if (refusal?.kind === "exclusive") return undefined;
    // Declaring (and deleting) the lock needs configure permission: without it every dlq command
    // ended on the raw 403 (exit 70); a user to fix is exit 2, whose line names what to grant.
    if (refusal) throw permissionRefused(refusal, `configure permission on queue ${lockQueue}`, "every dlq command declares it as its lock");
    throw err;
  }
}

/**
 * Runs `fn` holding the lock of `deadLetterQueue`. Mutual exclusion is between connections: a
 * connection that already holds the lock may take it again (one connection serves one command).
 * Fails with TransientError `dlq_busy` when another command keeps it longer than `waitMs`.
 */
export async function withDeadLetterLock<T>(source: ChannelSource, deadLetterQueue: string, options: DeadLetterLockOptions, fn: () => Promise<T>): Promise<T> {
  const lockQueue = lockQueueName(deadLetterQueue);
  const waitMs = options.waitMs ?? DEFAULT_LOCK_WAIT_MS;
  const deadline = Date.now() + waitMs;
  let ch = await tryLock(source, lockQueue);
  if (!ch) options.onWait?.(lockQueue);
  while (!ch) {
    if (Date.now() >= deadline) {
      throw new TransientError(
        "dlq_busy",
        `another dlq command has been working on ${deadLetterQueue} for more than ${waitMs / 1000} s (it holds queue ${lockQueue}); try again when it is done`,
      );
    }
    await sleep(options.retryMs ?? 200);
    ch = await tryLock(source, lockQueue);
  }
  try {
    return await fn();
  } finally {
    // Closing the connection would delete it too; deleting now frees the next command sooner.
    await ch.deleteQueue(lockQueue).catch(() => undefined);
    await closeQuietly(ch);
  }
}
