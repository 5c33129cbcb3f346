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

/** A channel whose consumer the test feeds, whose checkQueue answers when the test says, and whose basic.get hands out `ready`. */
function scriptedChannel(ready: (Message | Error)[] = [], options: { beforeConsumeOk?: Message[] } = {}) {
  let deliver: ((msg: Message | null) => void) | undefined;
  let answerCheck: ((count: number) => void) | undefined;
  let checks = 0;
  const calls: string[] = [];
  const channel = {
    prefetch: () => Promise.resolve(),
    consume: (_queue: string, onMessage: (msg: Message | null) => void) => {
      deliver = onMessage;
      return new Promise<{ consumerTag: string }>((resolve) =>
        setTimeout(() => {
          resolve({ consumerTag: "c1" });
          // As amqplib can: deliveries from the same socket read as the consume-ok, handled before the caller hears of it.
          for (const msg of options.beforeConsumeOk ?? []) onMessage(msg);
        }, 0),
      );
    },
    cancel: (tag: string) => {
      calls.push(`cancel ${tag}`);
      return Promise.resolve();
    },
    get: () => {
      calls.push("get");
      const next = ready.shift() ?? false;
      return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
    },
    checkQueue: () => {
      checks++;
      return new Promise<{ messageCount: number }>((resolve) => (answerCheck = (messageCount) => resolve({ messageCount })));
    },
  };
  return {
    channel: channel as unknown as Channel,
    deliver: (msg: Message | null) => deliver?.(msg),
    answerCheck: (count: number) => answerCheck?.(count),
    calls,
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

  it("cancels the consumer once the picked letters waiting pass maxPickedBytes, and reads the rest with basic.get", async () => {
    const s = scriptedChannel([letter("d-40"), letter("e-50")]);
    const stream = await streamDeadLetters(s.channel, "dl", { limit: 5, maxPickedBytes: 8, pick: (m) => m.content.toString() });
    s.deliver(letter("a-10")); // 4 bytes waiting
    s.deliver(letter("b-20")); // 8: at the bound, not past it
    expect(s.calls).toEqual([]);
    s.deliver(letter("c-30")); // 12: past it, cancelled at once (not when the reader next asks)
    await expect.poll(() => s.calls, { timeout: 1000, interval: 5 }).toEqual(["cancel c1"]);
    const got: string[] = [];
    for (let v = await stream.next(); v !== false; v = await stream.next()) got.push(v);
    // What came before the cancel-ok is read, in order; the rest one basic.get at a time.
    expect(got).toEqual(["a-10", "b-20", "c-30", "d-40", "e-50"]);
    expect(s.calls).toEqual(["cancel c1", "get", "get"]);
    expect(stream.scanned).toBe(5);
  });

  it("a reader that keeps up never passes the bound: the consumer reads everything", async () => {
    const s = scriptedChannel();
    const stream = await streamDeadLetters(s.channel, "dl", { limit: 3, maxPickedBytes: 8, pick: (m) => m.content.toString() });
    const got: string[] = [];
    for (const body of ["a-10", "b-20", "c-30"]) {
      s.deliver(letter(body));
      got.push((await stream.next()) as string);
    }
    expect(got).toEqual(["a-10", "b-20", "c-30"]);
    expect(await stream.next()).toBe(false);
    expect(s.calls).toEqual([]);
  });

  it("a consumer starved by letters it passed over (held unacked) gives way to basic.get instead of waiting for ever", async () => {
    const s = scriptedChannel([letter("b"), letter("c")]);
    const stream = await streamDeadLetters(s.channel, "dl", { limit: 3, window: 1, pick: (m) => (m.content.toString() === "skip" ? undefined : m.content.toString()) });
    s.deliver(letter("skip")); // its one slot taken for good: the broker sends nothing more
    const next = stream.next();
    await expect.poll(() => s.checks, { timeout: 5000, interval: 10 }).toBe(1);
    s.answerCheck(2); // two ready, none delivered
    expect(await next).toBe("b");
    expect(await stream.next()).toBe("c");
    expect(await stream.next()).toBe(false);
    expect(s.calls).toEqual(["cancel c1", "get", "get"]);
  });

  it("overflowing before consume-ok still cancels the consumer (by its tag, once known)", async () => {
    const s = scriptedChannel([letter("c-30")], { beforeConsumeOk: [letter("a-10"), letter("b-20")] });
    const stream = await streamDeadLetters(s.channel, "dl", { limit: 3, maxPickedBytes: 4, pick: (m) => m.content.toString() });
    const got: string[] = [];
    for (let v = await stream.next(); v !== false; v = await stream.next()) got.push(v);
    expect(got).toEqual(["a-10", "b-20", "c-30"]);
    expect(s.calls).toEqual(["cancel c1", "get"]);
  });

  it("the queue deleted while reading by basic.get: what was delivered is read, then the end (no basic.get on a missing queue)", async () => {
    const s = scriptedChannel();
    const stream = await streamDeadLetters(s.channel, "dl", { limit: 5, maxPickedBytes: 4, pick: (m) => m.content.toString() });
    s.deliver(letter("a-10"));
    s.deliver(letter("b-20")); // past the bound
    s.deliver(null); // the broker cancels the consumer: the queue is gone
    expect(await stream.next()).toBe("a-10");
    expect(await stream.next()).toBe("b-20");
    expect(await stream.next()).toBe(false);
    expect(s.calls).toEqual([]);
  });

  it("the queue deleted after our own cancel: basic.get's 404 ends the read instead of failing it", async () => {
    const gone = Object.assign(new Error("Operation failed: BasicGet; 404 (NOT-FOUND)"), { code: 404 });
    const s = scriptedChannel([letter("c-30"), gone]);
    const stream = await streamDeadLetters(s.channel, "dl", { limit: 5, maxPickedBytes: 4, pick: (m) => m.content.toString() });
    s.deliver(letter("a-10"));
    s.deliver(letter("b-20"));
    const got: string[] = [];
    for (let v = await stream.next(); v !== false; v = await stream.next()) got.push(v);
    expect(got).toEqual(["a-10", "b-20", "c-30"]);
    expect(s.calls).toEqual(["cancel c1", "get", "get"]);
    expect(await stream.next()).toBe(false);
  });

  it("any other basic.get failure still fails the read", async () => {
    const s = scriptedChannel([new Error("Channel closed")]);
    const stream = await streamDeadLetters(s.channel, "dl", { limit: 5, maxPickedBytes: 4, pick: (m) => m.content.toString() });
    s.deliver(letter("a-10"));
    s.deliver(letter("b-20"));
    expect(await stream.next()).toBe("a-10");
    expect(await stream.next()).toBe("b-20");
    await expect(stream.next()).rejects.toThrow("Channel closed");
  });

  it("a reader that has given up gets nothing more: later deliveries are not looked at and next() ends", async () => {
    const s = scriptedChannel([letter("d")]);
    let givenUp = false;
    const stream = await streamDeadLetters(s.channel, "dl", { limit: 5, givenUp: () => givenUp, pick: (m) => m.content.toString() });
    s.deliver(letter("a"));
    expect(await stream.next()).toBe("a");
    givenUp = true; // e.g. a copy refused while the next letter was on its way
    s.deliver(letter("b"));
    expect(await stream.next()).toBe(false);
    expect(stream.scanned).toBe(1);
    expect(s.calls).toEqual([]);
  });
});
