/** ops/broker-session.ts: what a dlq command says when its connection was lost. */
import { describe, expect, it } from "vitest";
import { withRerunAdvice } from "../../src/ops/broker-session.js";

describe("withRerunAdvice", () => {
  it("advises running the command again, once", () => {
    const lost = "requeue stopped after 0 message(s): Channel closed (the connection to RabbitMQ at h:5672 vhost / was lost: closed)";
    expect(withRerunAdvice(lost)).toBe(`${lost}; run the command again`);
    // A loss seen by both connections of `dlq requeue` (one withBroker in another): said once, not twice.
    expect(withRerunAdvice(withRerunAdvice(lost))).toBe(`${lost}; run the command again`);
  });

  it("adds nothing to a message that already says how to run it again (confirmAcks)", () => {
    const unconfirmed = "3 dead letter(s) were requeued, but the broker did not confirm it took their acks (Channel closed): some may still be in q as well; list it before running the command again";
    expect(withRerunAdvice(unconfirmed)).toBe(unconfirmed);
  });
});
