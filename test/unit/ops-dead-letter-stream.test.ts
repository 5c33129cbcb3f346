/**
 * The stream's end-of-queue decision on a scripted channel: the moment that cannot be arranged
 * with a real broker on purpose (letters delivered while the ready-count check is in flight).
 * The stream against RabbitMQ itself: test/integration/ops-dlq*.test.ts.
 */
import type { Channel, Message } from "amqplib";
import { describe, expect, it } from "vitest";
import { streamDeadLetters } from "../../src/ops/dead-letter-stream.js";

function letter(body: string): Message {
  return { content: Buffer.from(body), fields: { deliveryTag: 1 }, properties: { headers: {} } } as unknown as Message;
}

/** A channel whose consumer the test feeds, and whose checkQueue answers when the test says. */
function scriptedChannel() {
  let deliver: ((msg: Message | null) => void) | undefined;
  let answerCheck: ((count: number) => void) | undefined;
  let checks = 0;
  const channel = {
    prefetch: () => Promise.resolve(),
    consume: (_queue: string, onMessage: (msg: Message | null) => void) => {
      deliver = onMessage;
      return Promise.resolve({ consumerTag: "c1" });
    },
    cancel: () => Promise.resolve(),
    checkQueue: () => {
      checks++;
      return new Promise<{ messageCount: number }>((resolve) => (answerCheck = (messageCount) => resolve({ messageCount })));
    },
  };
  return {
    channel: channel as unknown as Channel,
    deliver: (msg: Message) => deliver?.(msg),
    answerCheck: (count: number) => answerCheck?.(count),
    get checks() {
      return checks;
    },
  };
}

describe("streamDeadLetters", () => {
  it("a letter delivered while the ready-count check is out is read, not dropped (the check then counts it as ours: 0 ready)", async () => {
    const s = scriptedChannel();
    const stream = await streamDeadLetters(s.channel, "dl", { limit: 2, pick: (m) => m.content.toString() });
    s.deliver(letter("first"));
    expect(await stream.next()).toBe("first");
    const second = stream.next();
    await expect.poll(() => s.checks, { timeout: 5000, interval: 10 }).toBe(1); // 200 ms of silence, then the check
    s.deliver(letter("second"));
    s.answerCheck(0);
    expect(await second).toBe("second");
    expect(stream.scanned).toBe(2);
  });

  it("ends when the consumer stays silent and the queue has nothing ready", async () => {
    const s = scriptedChannel();
    const stream = await streamDeadLetters(s.channel, "dl", { limit: 5, pick: (m) => m.content.toString() });
    const end = stream.next();
    await expect.poll(() => s.checks, { timeout: 5000, interval: 10 }).toBe(1);
    s.answerCheck(0);
    expect(await end).toBe(false);
  });
});
