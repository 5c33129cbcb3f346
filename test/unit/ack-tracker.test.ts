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
});
