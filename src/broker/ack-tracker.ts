/**
 * Coalesces acks on one channel: delivery tags are 1, 2, 3, ... per channel, and
 * `basic.ack(tag, multiple=true)` settles every outstanding delivery up to `tag` in one frame.
 * Batches finish out of order, so we may only ack up to the highest tag below which every
 * delivery is settled. Requeued (nacked) deliveries, and those acked on their own, are settled
 * on the wire already and must not be the target of a multiple-ack (RabbitMQ closes the channel
 * on an unknown tag); a multiple-ack past them is fine. Pure.
 *
 * What is held is what is still unacked on the wire (bounded by the prefetch): the deliveries
 * not settled yet, and those processed whose ack is not sent yet. The tags settled otherwise
 * were kept instead, every one above the lowest open delivery: while one delivery stayed open
 * (a copy held for a missing queue, up to RabbitMQ's 30-minute consumer timeout) that set grew
 * with every delivery acked behind it, millions at 10k tasks/s.
 */
export class AckTracker {
  /** The highest delivery tag heard of: every lower one was delivered too (tags are consecutive). */
  private highest = 0;
  /** Delivered and not settled in any way, in increasing order (a Set iterates in insertion order). */
  private readonly open = new Set<number>();
  /** Processed, their ack not sent yet. */
  private readonly processed = new Set<number>();

  /** The delivery `tag` was processed: it may be acked. */
  ack(tag: number): void {
    if (this.settle(tag)) this.processed.add(tag);
  }

  /**
   * The delivery `tag` was processed and must leave the broker now, not when every lower
   * delivery is settled: its copy (retry, eta delay, dead letter) is already confirmed, so while
   * it stays unacked a crash leaves two copies (a batch waiting on a lock, or an eta task held,
   * kept the ack of 20 dead-lettered poison messages back, and a SIGKILL dead-lettered each twice).
   * True when the caller must send `basic.ack(tag, multiple=false)` itself: then the tag counts
   * as settled on the wire (a later multiple-ack moves past it, never targets it). False when
   * every lower delivery is settled already, so the next `take()` covers it at once.
   */
  ackAlone(tag: number): boolean {
    if (!this.settle(tag)) return false;
    if (this.lowestOpen() > tag) {
      this.processed.add(tag);
      return false;
    }
    return true;
  }

  /** The delivery `tag` was settled another way (nack/requeue): never ack it. */
  settledOtherwise(tag: number): void {
    this.settle(tag);
  }

  /**
   * The tag to send with `multiple=true` now, or undefined when there is nothing contiguous to
   * ack: the highest processed tag below the lowest open delivery.
   */
  take(): number | undefined {
    const low = this.lowestOpen();
    let target: number | undefined;
    for (const tag of this.processed) {
      if (tag >= low) continue;
      this.processed.delete(tag);
      if (target === undefined || tag > target) target = tag;
    }
    return target;
  }

  /** The lowest open delivery while processed ones wait behind it, else undefined. */
  get blocker(): number | undefined {
    if (this.processed.size === 0) return undefined;
    const low = this.lowestOpen();
    return low === Infinity ? undefined : low;
  }

  /**
   * Every processed tag waiting behind an open lower one, for the caller to ack one by one
   * (`multiple=false`) now; they count as settled on the wire from then on, like `ackAlone`'s.
   * Call after `take()`.
   */
  releaseStuck(): number[] {
    const tags = [...this.processed];
    this.processed.clear();
    return tags;
  }

  /** Tags processed but stuck behind an open lower one (they are acked later). */
  get pending(): number {
    return this.processed.size;
  }

  /** Tags held in memory: never more than the deliveries unacked on the wire. */
  get held(): number {
    return this.open.size + this.processed.size;
  }

  /** `tag` leaves the open deliveries; false when it had left them already (a repeat). */
  private settle(tag: number): boolean {
    if (tag > this.highest) {
      // The tags between were delivered and are open: they are heard of only when settled.
      for (let t = this.highest + 1; t < tag; t++) this.open.add(t);
      this.highest = tag;
      return true;
    }
    return this.open.delete(tag);
  }

  private lowestOpen(): number {
    for (const tag of this.open) return tag;
    return Infinity;
  }
}
