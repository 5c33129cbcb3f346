/**
 * The acks of one consumer channel (delivery tags are per channel):
 * - coalesced per event-loop turn into one `multiple` ack up to the highest tag below which every
 *   delivery is settled (AckTracker);
 * - the original of a confirmed copy (retry, eta delay, dead letter) acked at once (`copied`);
 * - deliveries processed behind a lower one that does not settle (a copy whose confirm the broker
 *   withholds under a resource alarm, a batch waiting on a lock) acked one by one once that lower
 *   one has not moved for a while (`stuckAfterMs`): a multiple-ack cannot pass it, so they kept
 *   the prefetch full and the worker stopped draining the queue (and a crash redelivered them all).
 */
import type { Channel, ConsumeMessage } from "amqplib";
import { errorMessage } from "../errors.js";
import type { Logger } from "../log.js";
import { AckTracker } from "./ack-tracker.js";

/** How long the lowest unsettled delivery may stay put before the ones processed behind it are acked one by one. */
export const STUCK_ACK_MS = 1000;

export class ConsumerAcks {
  private readonly tracker = new AckTracker();
  private stopped = false;
  private flushScheduled = false;
  private stuckTimer: NodeJS.Timeout | undefined;
  private lastBlocker: number | undefined;

  constructor(
    private readonly channel: Channel,
    private readonly log: Logger,
    private readonly stuckAfterMs = STUCK_ACK_MS,
  ) {}

  /** Processed: acked with the next multiple-ack that reaches it. */
  ack(tag: number): void {
    if (this.stopped) return;
    this.tracker.ack(tag);
    this.scheduleFlush();
  }

  /** Its copy is confirmed: acked now, on its own when lower deliveries are still open (AckTracker.ackAlone). */
  copied(tag: number): void {
    if (this.stopped) return;
    if (this.tracker.ackAlone(tag)) this.send(tag, false);
    this.scheduleFlush();
  }

  /** Given back to the queue. */
  requeue(tag: number): void {
    if (this.stopped) return;
    this.tracker.settledOtherwise(tag);
    try {
      this.channel.nack({ fields: { deliveryTag: tag } } as ConsumeMessage, false, true);
    } catch (err) {
      // amqplib throws once the channel is closing; the broker gives the delivery back anyway.
      this.log.warn({ err: errorMessage(err) }, "requeue failed (channel closing); the broker will redeliver");
    }
    this.scheduleFlush();
  }

  /** Sends what can be acked now. */
  flush(): void {
    if (this.stopped) return;
    const upTo = this.tracker.take();
    if (upTo !== undefined) this.send(upTo, true);
    if (this.tracker.pending > 0) this.watchStuck();
  }

  /** Before the channel closes: every processed delivery is acked, one by one behind an open one. */
  finish(): void {
    this.flush();
    if (this.stopped) return;
    for (const tag of this.tracker.releaseStuck()) this.send(tag, false);
  }

  /** The channel is closed or closing: nothing more is sent on it. */
  stop(): void {
    this.stopped = true;
    clearInterval(this.stuckTimer);
    this.stuckTimer = undefined;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** While deliveries wait behind a lower one: each period, if that one has not moved, ack them one by one. */
  private watchStuck(): void {
    if (this.stuckTimer) return;
    this.lastBlocker = undefined;
    this.stuckTimer = setInterval(() => {
      const blocker = this.tracker.blocker;
      if (this.stopped || blocker === undefined) {
        clearInterval(this.stuckTimer);
        this.stuckTimer = undefined;
        return;
      }
      if (blocker !== this.lastBlocker) {
        this.lastBlocker = blocker;
        return;
      }
      const tags = this.tracker.releaseStuck();
      this.log.debug({ acked: tags.length, behind: blocker }, "acking deliveries one by one behind a delivery that does not settle");
      for (const tag of tags) this.send(tag, false);
    }, this.stuckAfterMs);
    this.stuckTimer.unref();
  }

  private send(tag: number, multiple: boolean): void {
    try {
      this.channel.ack({ fields: { deliveryTag: tag } } as ConsumeMessage, multiple);
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, "ack failed (channel closing); the broker will redeliver");
    }
  }
}
