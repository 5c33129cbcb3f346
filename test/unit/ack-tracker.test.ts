import { describe, expect, it } from "vitest";
import { AckTracker } from "../../src/broker/ack-tracker.js";

describe("AckTracker", () => {
  it("acks up to the highest contiguous processed tag in one multiple-ack", () => {
    const t = new AckTracker();
    t.ack(1);
    t.ack(2);
    t.ack(3);
    expect(t.take()).toBe(3);
    expect(t.take()).toBeUndefined();
  });

  it("holds processed tags behind an unfinished lower one (batches finish out of order)", () => {
    const t = new AckTracker();
    t.ack(2);
    t.ack(3);
    expect(t.take()).toBeUndefined();
    expect(t.pending).toBe(2);
    t.ack(1);
    expect(t.take()).toBe(3);
    expect(t.pending).toBe(0);
  });

  it("never targets a requeued tag, but moves past it", () => {
    const t = new AckTracker();
    t.ack(1);
    t.settledOtherwise(2);
    expect(t.take()).toBe(1);
    t.settledOtherwise(3);
    expect(t.take()).toBeUndefined(); // nothing to ack: tag 3 was nacked
    t.ack(4);
    expect(t.take()).toBe(4);
  });

  it("ignores tags it already moved past", () => {
    const t = new AckTracker();
    t.ack(1);
    expect(t.take()).toBe(1);
    t.ack(1);
    expect(t.take()).toBeUndefined();
  });

  it("ackAlone: a tag behind an unsettled lower one is acked on its own at once and never targeted; otherwise it joins the next multiple-ack", () => {
    const t = new AckTracker();
    t.ack(2);
    expect(t.ackAlone(3)).toBe(true); // tag 1 is still open: the caller acks 3 alone
    expect(t.take()).toBeUndefined();
    t.ack(1);
    expect(t.take()).toBe(2); // covers 1 and 2, moves past 3 without targeting it
    t.ack(4);
    expect(t.ackAlone(5)).toBe(false); // everything below is settled: the next take covers it
    expect(t.take()).toBe(5);
    expect(t.ackAlone(5)).toBe(false); // already moved past
    expect(t.take()).toBeUndefined();
    // Alone acks next to requeued tags.
    t.settledOtherwise(6);
    expect(t.ackAlone(8)).toBe(true);
    t.ack(7);
    expect(t.take()).toBe(7);
    t.ack(9);
    expect(t.take()).toBe(9);
  });

  it("releaseStuck: the tags processed behind an unsettled lower one, once; a later multiple-ack moves past them without targeting them", () => {
    const t = new AckTracker();
    expect(t.blocker).toBeUndefined();
    t.ack(2);
    t.ack(3);
    t.ack(5);
    expect(t.take()).toBeUndefined();
    expect(t.blocker).toBe(1);
    expect(t.releaseStuck().sort()).toEqual([2, 3, 5]);
    expect(t.blocker).toBeUndefined();
    expect(t.pending).toBe(0);
    expect(t.releaseStuck()).toEqual([]);
    t.ack(1);
    expect(t.take()).toBe(1); // not 3: 2 and 3 were acked one by one already
    t.ack(4);
    expect(t.take()).toBe(4); // moves past 5 without targeting it
    t.ack(6);
    expect(t.take()).toBe(6);
  });

  it("holds only what is unacked on the wire: 200,000 deliveries acked one by one behind one that stays open leave that one held (every settled tag was kept)", () => {
    const t = new AckTracker();
    let alone = 0;
    let taken = 0;
    for (let tag = 2; tag <= 200_001; tag++) {
      if (tag % 2 === 0) t.ack(tag);
      else if (t.ackAlone(tag)) alone++; // copies confirmed: acked alone behind tag 1
      if (tag % 1000 === 0) {
        if (t.take() !== undefined) taken++;
        t.releaseStuck();
      }
    }
    t.releaseStuck();
    expect([alone, taken]).toEqual([100_000, 0]);
    expect(t.held).toBe(1); // tag 1, still open
    t.ack(1);
    expect(t.take()).toBe(1);
    t.ack(200_002);
    expect(t.take()).toBe(200_002);
    expect(t.held).toBe(0);
  });

  it("matches a reference model of the wire on random interleavings: every multiple-ack targets a processed, unsent tag with no open delivery below it", () => {
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let round = 0; round < 200; round++) {
      const t = new AckTracker();
      const n = 1 + Math.floor(random() * 60);
      const order = Array.from({ length: n }, (_, i) => i + 1).sort(() => random() - 0.5);
      // The broker's view: outstanding tags; a tag leaves it once acked or nacked.
      const outstanding = new Set(order);
      for (const tag of order) {
        const r = random();
        if (r < 0.6) t.ack(tag);
        else if (r < 0.8) {
          // Sent alone by the caller, or left to the next multiple-ack.
          if (t.ackAlone(tag)) expect(outstanding.delete(tag)).toBe(true);
        } else {
          t.settledOtherwise(tag);
          outstanding.delete(tag);
        }
        if (random() < 0.5) {
          const target = t.take();
          if (target !== undefined) {
            expect(outstanding.has(target)).toBe(true);
            for (const o of outstanding) if (o <= target) outstanding.delete(o);
          }
        }
      }
      const last = t.take();
      if (last !== undefined) for (const o of outstanding) if (o <= last) outstanding.delete(o);
      for (const tag of t.releaseStuck()) outstanding.delete(tag);
      // Everything processed left the broker; nothing was acked that was not processed.
      expect([...outstanding]).toEqual([]);
      expect(t.held).toBe(0);
    }
  });
});
