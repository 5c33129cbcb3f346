/**
 * The copies `dlq requeue` has in flight to the work exchange. Each dead letter is acked as soon
 * as the broker confirmed its copy and did not return it as unroutable, not when a whole batch
 * is: settling batches of 100 stalled the broker's push for a confirm round trip every batch
 * (~2,100 letters/s), and settling one at a time before reading the next made it one round trip
 * per letter (~500/s). Acking from the confirm keeps the consumer's window moving on its own.
 */
import type { Channel, ConfirmChannel, Message } from "amqplib";
import type { TopologyNames } from "../broker/topology-names.js";
import { errorMessage } from "../errors.js";
import type { RequeueMessage } from "./dead-letter-message.js";

/** Why no confirm is coming: the publishing connection blocked too long (its reason), or silence. */
export type NoConfirm = { blocked: string } | { silentMs: number };

export class RequeueWindow {
  private inFlight = 0;
  private firstFailure: string | undefined;
  private wake: (() => void) | undefined;
  /** Copies the broker returned (basic.return comes before the copy's confirm). */
  private readonly returned: { content: Buffer; correlationId: unknown }[] = [];
  private blockedReason: string | undefined;
  /** Why the broker closed the confirm channel: every copy in flight then fails with a bare "channel closed". */
  private closedBecause: string | undefined;
  private stopped = false;
  /** Copies that failed in a way that does not say they were not delivered (channel gone, ack refused). */
  private unknownFate = 0;
  private lastProgressAt: number;

  constructor(
    private readonly pubCh: ConfirmChannel,
    private readonly getCh: Channel,
    private readonly names: TopologyNames,
    /** Called for each letter acked, in the order the broker confirmed their copies. */
    private readonly onRequeued: (out: RequeueMessage) => void,
    /** Resolves with the reason once the publishing connection has been blocked too long. */
    blocked: Promise<string>,
    /**
     * How long copies may wait for any confirm: a quorum work queue without its majority holds
     * them back for good, and the run held the dead-letter queue's lock as long.
     */
    private readonly confirmTimeoutMs: number,
    /** Whether the publishing connection is blocked now: silence then is the block's, timed by `blocked`. */
    private readonly blockedNow: () => boolean = () => false,
    private readonly now: () => number = Date.now,
  ) {
    this.lastProgressAt = now();
    void blocked.then((reason) => {
      this.blockedReason = reason;
      this.wake?.();
    });
    pubCh.on("return", (msg: { content: Buffer; properties: { correlationId?: unknown } }) => this.returned.push({ content: msg.content, correlationId: msg.properties.correlationId }));
    pubCh.on("error", (err: unknown) => (this.closedBecause ??= errorMessage(err)));
  }

  /** Why the first copy that failed did (nacked, returned, channel gone); the run stops then. */
  get failure(): string | undefined {
    if (this.firstFailure === undefined || this.closedBecause === undefined) return this.firstFailure;
    return `${this.firstFailure} (the broker closed the channel: ${this.closedBecause})`;
  }

  get size(): number {
    return this.inFlight;
  }

  /** No confirm is coming: the publishing connection was blocked too long, or the broker stays silent. */
  get stalled(): boolean {
    return this.inFlight > 0 && (this.blockedReason !== undefined || this.silentTooLong());
  }

  /** Copies that may have reached the work queue with their letter still in the dead-letter queue. */
  get maybeOut(): number {
    return this.unknownFate;
  }

  /**
   * Acks nothing from now on, so that a count already said stays true; returns how many copies
   * were still in flight (they may reach the work queue, their letters staying too).
   */
  stop(): number {
    this.stopped = true;
    return this.inFlight;
  }

  /** Publishes the copy (mandatory, confirmed); its letter is acked once the copy is confirmed and not returned. */
  send(dead: Message, out: RequeueMessage): void {
    this.inFlight++;
    const settled = (failure?: string, fateUnknown = false) => {
      this.firstFailure ??= failure;
      if (fateUnknown) this.unknownFate++;
      this.inFlight--;
      this.lastProgressAt = this.now();
      this.wake?.();
    };
    const confirmed = () => {
      if (this.stopped) return settled();
      if (this.wasReturned(out)) return settled(`the work exchange ${this.names.exchange} did not route key ${this.names.routingKey} to any queue`);
      try {
        this.getCh.ack(dead);
      } catch (err) {
        return settled(`the dead letter could not be acked: ${errorMessage(err)}`, true);
      }
      this.onRequeued(out);
      settled();
    };
    try {
      // mandatory: an unroutable copy comes back as basic.return (before its confirm) instead of vanishing.
      this.pubCh.publish(this.names.exchange, this.names.routingKey, out.content, { ...out.options, mandatory: true }, (err: unknown) =>
        // A nack says the broker did not take the copy; any other error (the channel closed) does not.
        err ? settled(errorMessage(err), errorMessage(err) !== "message nacked") : confirmed(),
      );
    } catch (err) {
      settled(errorMessage(err)); // thrown before anything was written
    }
  }

  /**
   * Resolves once fewer than `max` copies are in flight (`max` 1: all settled), or with why no
   * confirm is coming while it waits (blocked too long, or no confirm for confirmTimeoutMs).
   */
  async below(max: number): Promise<NoConfirm | undefined> {
    while (this.inFlight >= Math.max(1, max)) {
      if (this.blockedReason !== undefined) return { blocked: this.blockedReason };
      const silentFor = this.now() - this.lastProgressAt;
      if (this.silentTooLong()) return { silentMs: silentFor };
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        // Blocked: looked at again each second until the block ends or `blocked` says too long.
        timer = setTimeout(resolve, Math.max(this.blockedNow() ? 1000 : 0, this.confirmTimeoutMs - silentFor));
      });
      clearTimeout(timer);
      this.wake = undefined;
    }
    return undefined;
  }

  private silentTooLong(): boolean {
    return this.now() - this.lastProgressAt >= this.confirmTimeoutMs && !this.blockedNow();
  }

  /**
   * A return cannot say which of identical copies (a task dead-lettered twice) it was: it counts
   * for all of them, so none of their letters is acked on a copy that may not have been routed.
   * At worst a routed copy's letter stays too (a duplicate, harmless); the run stops anyway.
   */
  private wasReturned(out: RequeueMessage): boolean {
    return this.returned.some((r) => r.content.equals(out.content) && r.correlationId === out.options.correlationId);
  }
}
