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
});
