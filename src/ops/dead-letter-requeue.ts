/**
 * `dlq requeue`: the chosen dead letters back to the work exchange, retries reset.
 *
 * Each copy is published on a confirm channel (mandatory) and its dead letter acked only once the
 * broker confirmed the copy and did not return it as unroutable (requeue-window.ts): a crash half
 * way leaves at worst a duplicate, which the upsert makes harmless. A run that cannot go on (a
 * refused copy, a failed read, a broker blocking the copies) lets the copies in flight settle,
 * confirms the acks it sent, and says how many letters it requeued.
 */
import type { ConfirmChannel, Message } from "amqplib";
import { blockedTooLongError, watchBlocked, type BrokerConnection } from "../broker/connection.js";
import type { TopologyNames } from "../broker/topology-names.js";
import { PermanentError, TransientError, errorMessage, isMatchflowError } from "../errors.js";
import { closeQuietly, confirmAcks, exchangeExists, frameMaxOf, isNotFound, queueExists, quietChannel, type ChannelSource } from "./broker-session.js";
import { withDeadLetterLock, type DeadLetterLockOptions } from "./dead-letter-lock.js";
import { buildRequeueMessage, deadLetterCode, deadLetterKey, deadLetterKeyOf, type RequeueMessage } from "./dead-letter-message.js";
import { streamDeadLetters } from "./dead-letter-stream.js";
import { codesByFrequency, countCode, type CodeCount, type ErrorCodeFilter } from "./error-code-filter.js";
import { RequeueWindow } from "./requeue-window.js";

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
  /** Stopped by RequeueOptions.signal: the letters not reached stay (and `notFound` is not known). */
  interrupted?: boolean;
  /** With codes: every error code of the letters looked at, most frequent first (said when none matched). */
  codesPresent?: CodeCount[];
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
  /** How long copies may wait for any confirm (not counting a blocked connection's wait) before the run stops. @default 60 s */
  confirmTimeoutMs?: number;
  lock?: DeadLetterLockOptions;
  /** Aborted (Ctrl-C): no further letter is read; the copies in flight settle, their letters are acked, and the report says so. */
  signal?: AbortSignal;
}

interface Chosen {
  dead: Message;
  out: RequeueMessage;
  key: string;
}


/**
 * Moves the selected dead letters back to the work exchange (see the module comment for the
 * ordering that makes it crash-safe). A returned (unroutable) or refused copy leaves its dead
 * letter in place and fails the run with `requeue_failed`.
 */
export async function requeueDeadLetters(source: ChannelSource, names: TopologyNames, selection: RequeueSelection, options: RequeueOptions): Promise<RequeueReport> {
  return withDeadLetterLock(source, names.deadLetterQueue, options.lock ?? {}, () => requeueUnderLock(source, names, selection, options));
}

/**
 * Requeue declares nothing: with a mistyped MATCHES_QUEUE, declaring would create a work queue
 * bound to the shared exchange that silently collects a copy of every task from then on.
 */
async function requireRequeueQueues(source: ChannelSource, names: TopologyNames): Promise<void> {
  const checks = [
    { what: `work exchange ${names.exchange}`, setting: "MATCHES_EXCHANGE", exists: () => exchangeExists(source, names.exchange) },
    { what: `work queue ${names.queue}`, setting: "MATCHES_QUEUE", exists: () => queueExists(source, names.queue) },
    { what: `dead-letter queue ${names.deadLetterQueue}`, setting: "MATCHES_QUEUE", exists: () => queueExists(source, names.deadLetterQueue) },
  ];
  // A missing exchange is not returned like an unroutable copy: the broker closes the channel.
  const missing: typeof checks = [];
  for (const check of checks) if (!(await check.exists())) missing.push(check);
  if (missing.length === 0) return;
  const whats = missing.map((m) => m.what);
  const listed = whats.length > 1 ? `${whats.slice(0, -1).join(", ")} and ${whats.at(-1) ?? ""}` : (whats[0] ?? "");
  const settings = [...new Set(missing.map((m) => m.setting))].join(", ");
  throw new PermanentError(
    "queue_not_found",
    `${listed} ${missing.length === 1 ? "does" : "do"} not exist; nothing was requeued (check ${settings} and the vhost; a worker declares them when it starts)`,
  );
}

const DEFAULT_CONFIRM_TIMEOUT_MS = 60_000;

async function requeueUnderLock(source: ChannelSource, names: TopologyNames, selection: RequeueSelection, options: RequeueOptions): Promise<RequeueReport> {
  await requireRequeueQueues(source, names);
  const wanted = "taskIds" in selection ? new Set(selection.taskIds) : undefined;
  const codes = "codes" in selection ? selection.codes : undefined;
  const window = Math.max(1, options.window ?? 100);
  const report: RequeueReport = { requeued: [], notFound: [], notRequeued: [], total: 0, scanned: 0, cutShort: false, otherConsumers: 0 };
  const seen = new Set<string>();
  const present = new Map<string, number>();
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

    /** A stopped run still reports what it requeued: those acks are confirmed as a finished run's are. */
    const stopped = async (error: Error): Promise<never> => {
      if (report.requeued.length > 0) await confirmAcks(getCh, names.deadLetterQueue, `${error.message}; ${report.requeued.length} dead letter(s) were requeued`);
      throw error;
    };
    const onRequeued = (out: RequeueMessage) => report.requeued.push({ taskId: out.taskId, reencoded: out.reencoded, ...(out.droppedHeaders.length > 0 ? { droppedHeaders: out.droppedHeaders } : {}) });
    const blockedNow = () => publishOn?.connection.blockedReason !== undefined;
    const copies = new RequeueWindow(pubCh, getCh, names, onRequeued, blocked, options.confirmTimeoutMs ?? DEFAULT_CONFIRM_TIMEOUT_MS, blockedNow);
    /** Copies whose letters stay though they may be out: said, so that a duplicate is no surprise. */
    const maybeOut = (n: number) => (n > 0 ? ` (copies of up to ${n} of them may have reached the work queue as well; harmless, the upsert is idempotent)` : "");
    /** Waits until fewer than `max` copies are in flight; stops the run when no confirm is coming. */
    const room = async (max: number) => {
      const none = await copies.below(max);
      if (none === undefined) return;
      // No ack after this: the count said is final. A copy in flight may still reach the work queue.
      const unsettled = copies.stop() + copies.maybeOut;
      const stoppedAfter = `requeue stopped after ${report.requeued.length} message(s); the rest are still in ${names.deadLetterQueue}${maybeOut(unsettled)}`;
      if ("blocked" in none) return stopped(blockedTooLongError(none.blocked, publishOn?.blockedTimeoutMs ?? 0, stoppedAfter));
      return stopped(new TransientError("broker_unconfirmed", `the broker confirmed no copy for ${Math.round(none.silentMs / 1000)} s (a quorum work queue without its majority?): ${stoppedAfter}`));
    };

    const frameMax = frameMaxOf(source);
    const choose = (dead: Message): Chosen | undefined => {
      // Passed over: back on close.
      let key: string | undefined;
      if (wanted) {
        key = deadLetterKeyOf(dead, options.maxBytes);
        if (!wanted.has(key)) return undefined;
      }
      if (codes) {
        const code = deadLetterCode(dead);
        countCode(present, code);
        if (!codes.matches(code)) return undefined;
      }
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
    // A copy awaiting its confirm will make room, unless the run failed or the copies are blocked.
    const willMakeRoom = () => copies.size > 0 && copies.failure === undefined && !copies.stalled;
    const stream = await streamDeadLetters(getCh, names.deadLetterQueue, { limit: total, pick: choose, givenUp: () => copies.failure !== undefined, ...(every ? { window, willMakeRoom } : {}) });
    let readFailure: unknown;
    // A refused copy stops the reading at once: reading on would hold the lock (and count
    // deliveries on a quorum queue) for letters this run no longer sends.
    while (copies.failure === undefined && options.signal?.aborted !== true) {
      const chosen = await stream.next().catch((err: unknown) => {
        readFailure = err;
        return false as const;
      });
      if (chosen === false) break;
      seen.add(chosen.key);
      copies.send(chosen.dead, chosen.out);
      // With --all the consumer holds `window` letters unacked, letters that could not be copied
      // among them for good: copies in flight stay below what is left of it.
      await room(window - (every ? report.notRequeued.length : 0));
    }
    // Read before the copies settle: a signal after the last letter was read stops nothing.
    const aborted = options.signal?.aborted === true && copies.failure === undefined && readFailure === undefined;
    // Every copy settled (a failed run too: the others' letters are acked, none is out twice).
    await room(1);
    const failure = copies.failure ?? (readFailure === undefined ? undefined : errorMessage(readFailure));
    if (failure !== undefined) {
      // A read's own code is kept (broker_connection_lost: exit 4); a refused copy is requeue_failed.
      const code = copies.failure === undefined && isMatchflowError(readFailure) ? readFailure.code : "requeue_failed";
      return await stopped(new TransientError(code, `requeue stopped after ${report.requeued.length} message(s): ${failure}; the rest are still in ${names.deadLetterQueue}${maybeOut(copies.maybeOut)}`, { cause: readFailure }));
    }
    // Counted before the cancel: a delivery that comes while it is out is neither sent nor counted.
    report.scanned = stream.scanned;
    await stream.stop();
    if (aborted) report.interrupted = true;
    // Stopped on purpose, the letters not read were simply not reached.
    report.cutShort = !report.interrupted && report.scanned < total;
    if (wanted && !report.interrupted) report.notFound = [...wanted].filter((id) => !seen.has(id));
    if (codes) report.codesPresent = codesByFrequency(present);
    if (report.requeued.length > 0) await confirmAcks(getCh, names.deadLetterQueue, `${report.requeued.length} dead letter(s) were requeued`);
    return report;
  } finally {
    stopWatching?.();
    // A blocked connection reads nothing, so no close-ok would come; closing it resets it (connection.ts).
    if (options.publishOn?.connection.blockedReason === undefined) await closeQuietly(pubCh);
    // Everything not acked returns to the dead-letter queue.
    await closeQuietly(getCh);
  }
}
