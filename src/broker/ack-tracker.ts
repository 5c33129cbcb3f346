/**
 * Coalesces acks on one channel: delivery tags are 1, 2, 3, ... per channel, and
 * `basic.ack(tag, multiple=true)` settles every outstanding delivery up to `tag` in one frame.
 * Batches finish out of order, so we may only ack up to the highest tag below which every
 * delivery is settled. Requeued (nacked) deliveries are settled already and must not be the
 * target of a multiple-ack (RabbitMQ closes the channel on an unknown tag). Pure.
 */
export class AckTracker {
  private next = 1; // the lowest delivery tag not yet known to be settled
  private readonly acked = new Set<number>();
  private readonly otherwiseSettled = new Set<number>();

  /** The delivery `tag` was processed: it may be acked. */
  ack(tag: number): void {
    if (tag >= this.next) this.acked.add(tag);
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
    if (tag < this.next) return false;
    for (let t = this.next; t < tag; t++) {
      if (!this.acked.has(t) && !this.otherwiseSettled.has(t)) {
        this.otherwiseSettled.add(tag);
        return true;
      }
    }
    this.acked.add(tag);
    return false;
  }

  /** The delivery `tag` was settled another way (nack/requeue): never ack it. */
  settledOtherwise(tag: number): void {
    if (tag >= this.next) this.otherwiseSettled.add(tag);
  }

  /**
   * The tag to send with `multiple=true` now, or undefined when there is nothing contiguous to
   * ack. Advances past everything it covers.
   */
  take(): number | undefined {
    let target: number | undefined;
    for (;;) {
      if (this.acked.delete(this.next)) target = this.next;
      else if (!this.otherwiseSettled.delete(this.next)) break;
      this.next++;
    }
    return target;
  }

  /** The lowest unsettled tag while processed ones wait behind it, else undefined. */
  get blocker(): number | undefined {
    return this.acked.size > 0 ? this.next : undefined;
  }

  /**
   * Every processed tag waiting behind an unsettled lower one, for the caller to ack one by one
   * (`multiple=false`) now; they count as settled on the wire from then on, like `ackAlone`'s.
   * Call after `take()`.
   */
  releaseStuck(): number[] {
    const tags = [...this.acked];
    this.acked.clear();
    for (const t of tags) this.otherwiseSettled.add(t);
    return tags;
  }

  /** Tags processed but stuck behind an unsettled lower one (they are acked later). */
  get pending(): number {
    return this.acked.size;
  }
}
