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

  constructor(
    private readonly pubCh: ConfirmChannel,
    private readonly getCh: Channel,
    private readonly names: TopologyNames,
    /** Called for each letter acked, in the order the broker confirmed their copies. */
    private readonly onRequeued: (out: RequeueMessage) => void,
    /** Resolves with the reason once the publishing connection has been blocked too long. */
    blocked: Promise<string>,
  ) {
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

  /** The publishing connection was blocked too long: no confirm is coming. */
  get blocked(): boolean {
    return this.blockedReason !== undefined;
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
    const settled = (failure?: string) => {
      this.firstFailure ??= failure;
      this.inFlight--;
      this.wake?.();
    };
    const confirmed = () => {
      if (this.stopped) return settled();
      if (this.wasReturned(out)) return settled(`the work exchange ${this.names.exchange} did not route key ${this.names.routingKey} to any queue`);
      try {
        this.getCh.ack(dead);
      } catch (err) {
        return settled(`the dead letter could not be acked: ${errorMessage(err)}`);
      }
      this.onRequeued(out);
      settled();
    };
    try {
      // mandatory: an unroutable copy comes back as basic.return (before its confirm) instead of vanishing.
      this.pubCh.publish(this.names.exchange, this.names.routingKey, out.content, { ...out.options, mandatory: true }, (err: unknown) => (err ? settled(errorMessage(err)) : confirmed()));
    } catch (err) {
      settled(errorMessage(err));
    }
  }

  /**
   * Resolves once fewer than `max` copies are in flight (`max` 1: all settled), or with the
   * reason the publishing connection was blocked too long, if it was.
   */
  async below(max: number): Promise<string | undefined> {
    while (this.inFlight >= Math.max(1, max) && this.blockedReason === undefined) {
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
    return this.blockedReason;
  }

  /** Matched once: a later copy with the same body and correlation id was not returned by this. */
  private wasReturned(out: RequeueMessage): boolean {
    const i = this.returned.findIndex((r) => r.content.equals(out.content) && r.correlationId === out.options.correlationId);
    if (i >= 0) this.returned.splice(i, 1);
    return i >= 0;
  }
}
