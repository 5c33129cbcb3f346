/**
 * Reading a dead-letter queue in order with a consumer instead of one `basic.get` round trip per
 * message. `dlq requeue --all` did ~380 letters a second that way on an idle broker (5,000 in
 * 13 s) and ~100 under load, and `dlq list`, `dlq show` and `dlq requeue <ids>` still did, holding
 * the queue's lock (every other dlq command waits, then gives up) all that time: `dlq show` reads
 * the whole queue. Every dlq command now reads through this stream (`npm run bench:dlq`). On a
 * quorum queue it also keeps the order: letters taken with basic.get and handed back by closing
 * the channel came back shuffled (RabbitMQ 3.10), consumed ones come back in order.
 *
 * Each delivery is looked at once, as it arrives (`pick`): what `pick` returns is queued for
 * `next()`; a delivery it returns `undefined` for is passed over at once, left unacked (it goes
 * back to the queue, in its place, when the channel closes) and not held here, so a scan of a long
 * queue keeps only what it picked in memory.
 *
 * At most `limit` deliveries are looked at: the queue's length when the command started, so a
 * message that arrives (or comes back) while we read is not seen, as with `basic.get` counted up
 * to that length. `next()` answers like `basic.get`: a picked message, or `false` when the limit
 * is reached or the queue has nothing left for us. A consumer has no "empty" answer, so when no
 * delivery arrives for a moment the queue's ready count decides (0: the rest were taken or are held
 * by someone else, or never came; more: this consumer is starved, and the rest is read with
 * basic.get).
 */
import type { Channel, Message, Replies } from "amqplib";
import { accessRefusalOf, permissionRefused } from "../broker/access-refused.js";
import { TransientError, errorMessage } from "../errors.js";

/** How long a silent consumer is waited for before the queue is asked whether anything is left. */
const IDLE_CHECK_MS = 200;

/**
 * The most deliveries a consumer can hold unacked: basic.qos's prefetch count is 16 bits, and its
 * "no bound" (0) means 2,000 on a quorum queue, where a reader holding every letter then stalled.
 */
export const MAX_PREFETCH = 65_535;

/**
 * Bytes of picked letters waiting for `next()` past which the consumer is cancelled and the rest
 * read with basic.get. A reader that holds what it passes over has room for up to MAX_PREFETCH
 * deliveries, and the broker pushes them faster than a requeue publishes and confirms its copies:
 * `dlq requeue --code` over 65,535 letters of up to MAX_MESSAGE_BYTES each kept them all (and
 * their copies) in memory. Past this, memory holds at most what was already on its way (the
 * socket's buffers) before the broker took the cancel.
 */
export const MAX_PICKED_BYTES = 16 * 1024 * 1024;

export interface DeadLetterStreamOptions<T> {
  /** Deliveries looked at, at most. */
  limit: number;
  /** What to keep of a delivery, or undefined to pass it over. Called once per delivery, in order. */
  pick: (msg: Message) => T | undefined;
  /**
   * Deliveries held unacked at once, for a reader that acks what it picks (each ack makes room).
   * Without it the reader may ack nothing (a listing, letters passed over): the consumer is given
   * room for `limit` deliveries, and past `maxPrefetch` the rest are read with basic.get.
   */
  window?: number;
  /** @default MAX_PREFETCH (smaller in tests) */
  maxPrefetch?: number;
  /** @default MAX_PICKED_BYTES (smaller in tests) */
  maxPickedBytes?: number;
  /**
   * For a reader with a `window`: whether it will ack some delivery it holds without reading
   * more (a copy awaiting its confirm). While it will, letters ready and none coming is that
   * wait, not a starved consumer.
   */
  willMakeRoom?: () => boolean;
  /**
   * The reader has given up (a requeue whose copy was refused): no delivery is looked at after
   * this says so, and `next()` ends, instead of scanning on to the next letter picked.
   */
  givenUp?: () => boolean;
}

export interface DeadLetterStream<T> {
  next(): Promise<T | false>;
  /** Deliveries looked at so far (picked or passed over). */
  readonly scanned: number;
  /** Stops the consumer; deliveries not acked go back to the queue when the channel closes. */
  stop(): Promise<void>;
}

export async function streamDeadLetters<T>(ch: Channel, queue: string, options: DeadLetterStreamOptions<T>): Promise<DeadLetterStream<T>> {
  const { limit, pick } = options;
  const maxPrefetch = Math.min(options.maxPrefetch ?? MAX_PREFETCH, MAX_PREFETCH);
  const prefetch = Math.max(1, Math.min(options.window ?? limit, maxPrefetch));
  // A reader that holds everything outgrows any consumer past `prefetch` deliveries.
  const getAfter = options.window === undefined && limit > prefetch ? prefetch : undefined;
  const maxPickedBytes = options.maxPickedBytes ?? MAX_PICKED_BYTES;
  const picked: { value: T; bytes: number }[] = [];
  let pickedBytes = 0;
  let scanned = 0;
  let failure: Error | undefined;
  let consuming = limit > 0; // nothing to read: no consumer at all
  let wake: (() => void) | undefined;
  let consumeOk: Promise<Replies.Consume> | undefined;
  let stopping: Promise<void> | undefined;
  /** The queue was deleted: nothing more to read (basic.get would fail with a 404). */
  let cancelledByBroker = false;
  /**
   * The rest is read with basic.get: past maxPickedBytes, or the consumer starved (the queue
   * reports letters ready and none comes: every delivery it may hold is held, unacked, by a reader
   * that passes letters over and acks the others).
   */
  let byGet = false;

  /**
   * Cancels the consumer once; deliveries that arrive before its cancel-ok are still looked at.
   * Waits for consume-ok: a delivery can come (and overflow) before the consumer's tag is known.
   */
  const stopConsuming = (): Promise<void> =>
    (stopping ??= (async () => {
      if (consumeOk) {
        const { consumerTag } = await consumeOk;
        if (consuming) await ch.cancel(consumerTag);
      }
      consuming = false;
    })());

  const look = (msg: Message): T | undefined => {
    scanned++;
    try {
      return pick(msg);
    } catch (err) {
      failure = err instanceof Error ? err : new Error(errorMessage(err));
      return undefined;
    }
  };

  if (consuming) {
    await ch.prefetch(prefetch);
    consumeOk = ch.consume(
      queue,
      (msg) => {
        // null: the broker cancelled the consumer (the queue was deleted).
        if (msg === null) {
          consuming = false;
          cancelledByBroker = true;
        }
        else if (scanned < limit && failure === undefined && !options.givenUp?.()) {
          const value = look(msg);
          if (value !== undefined) {
            picked.push({ value, bytes: msg.content.length });
            pickedBytes += msg.content.length;
            if (pickedBytes > maxPickedBytes && !byGet) {
              byGet = true;
              // next() waits for it (and sees its failure there); nothing else may reject unheard.
              stopConsuming().catch((err: unknown) => (failure ??= err instanceof Error ? err : new Error(errorMessage(err))));
            }
          }
          // Passed over: nobody needs waking, unless that was the last one it may look at.
          else if (failure === undefined && scanned < limit && scanned !== getAfter) return;
        } else return; // past the limit: left unacked, back in its place on close
        wake?.();
      },
      { noAck: false },
    );
    try {
      await consumeOk;
    } catch (err) {
      consumeOk = undefined;
      const code = (err as { code?: unknown }).code;
      // Deleted since the caller counted it: nothing to read (the 404 closed the channel).
      if (code === 404) {
        consuming = false;
        cancelledByBroker = true;
      } else {
        // 403 is either an exclusive consumer (it passes: dlq_busy) or a permission the user
        // lacks (it lasts: exit 2); only the broker's text tells them apart (access-refused.ts).
        const refusal = accessRefusalOf(err);
        if (refusal?.kind === "exclusive") {
          throw new TransientError("dlq_busy", `another client consumes ${queue} exclusively: no dlq command can read it until that client stops`, { cause: err });
        }
        if (refusal) throw permissionRefused(refusal, `read permission on queue ${queue}`, "dlq commands consume it");
        throw err;
      }
    }
  }

  /** After the consumer's share: one basic.get per delivery (the consumer holds all it may). */
  const getNext = async (): Promise<T | false> => {
    while (scanned < limit && !options.givenUp?.()) {
      let msg: Message | false;
      try {
        msg = await ch.get(queue, { noAck: false });
      } catch (err) {
        // The queue deleted after our own cancel (before, the broker's cancel said so): the end.
        // The 404 closed the channel; what was read stays read, nothing more can be acked.
        if ((err as { code?: unknown }).code !== 404) throw err;
        cancelledByBroker = true;
        return false;
      }
      if (msg === false) return false;
      const value = look(msg);
      if (failure) throw failure;
      if (value !== undefined) return value;
    }
    return false;
  };

  return {
    get scanned() {
      return scanned;
    },
    async next() {
      for (;;) {
        const first = picked.shift();
        if (first !== undefined) {
          pickedBytes -= first.bytes;
          return first.value;
        }
        if (failure) throw failure;
        if (scanned >= limit || cancelledByBroker || options.givenUp?.()) return false;
        if (byGet || (getAfter !== undefined && scanned >= getAfter)) {
          await stopConsuming(); // deliveries in flight before its cancel-ok are looked at first
          if (picked.length > 0 || failure || cancelledByBroker) continue;
          return getNext();
        }
        if (!consuming) return false;
        const before = scanned;
        let timer: NodeJS.Timeout | undefined;
        const woken = await new Promise<boolean>((resolve) => {
          wake = () => resolve(true);
          timer = setTimeout(() => resolve(false), IDLE_CHECK_MS);
        });
        clearTimeout(timer);
        wake = undefined;
        // Silent only if nothing at all arrived meanwhile (passed-over deliveries wake nobody), and
        // still nothing once the queue has answered: deliveries that came while the check was out
        // are ours, no longer counted as ready, and ending then dropped them from the read.
        const silent = () => !woken && scanned === before && picked.length === 0 && !cancelledByBroker;
        if (!silent()) continue;
        const ready = (await ch.checkQueue(queue)).messageCount;
        if (!silent()) continue;
        if (ready === 0) return false;
        if (!options.willMakeRoom?.()) byGet = true; // letters ready, none comes: starved (see byGet)
      }
    },
    stop: stopConsuming,
  };
}
