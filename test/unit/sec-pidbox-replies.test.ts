/**
 * Replies to a remote-control broadcast (the worker's mingle at start-up, `matchflow workers` and
 * `revoke`) are gathered for a fixed time from whoever answers: any client of the vhost sees the
 * request on the celery.pidbox fanout and can answer with its ticket. Each reply was bounded
 * (4 MiB), their number and total were not: a flood of replies was held whole until the time ran
 * out, bounded by nothing but a starting worker's 96 MB heap.
 * Past a total of replies and bytes, further replies are left out.
 */
import type { Channel, ConsumeMessage } from "amqplib";
import { describe, expect, it } from "vitest";
import { broadcastAndGather, MAX_GATHERED_REPLY_BYTES, MAX_GATHERED_REPLIES } from "../../src/broker/pidbox-broadcast.js";

/** A channel on which, once the request is published, `replies(ticket)` arrive at the reply queue. */
function floodedChannel(replies: (ticket: string) => Buffer[]): Channel {
  let onMessage: ((msg: ConsumeMessage | null) => void) | undefined;
  const fake = {
    assertExchange: () => Promise.resolve({}),
    assertQueue: () => Promise.resolve({ queue: "amq.gen-reply" }),
    bindQueue: () => Promise.resolve({}),
    consume: (_q: string, cb: (msg: ConsumeMessage | null) => void) => {
      onMessage = cb;
      return Promise.resolve({ consumerTag: "c" });
    },
    publish: (_exchange: string, _key: string, content: Buffer) => {
      const { ticket } = JSON.parse(content.toString("utf8")) as { ticket: string };
      for (const body of replies(ticket)) onMessage?.({ content: body, properties: { headers: { ticket } } } as unknown as ConsumeMessage);
      return true;
    },
    deleteQueue: () => Promise.resolve({ messageCount: 0 }),
  };
  return fake as unknown as Channel;
}

describe("replies gathered from a broadcast", () => {
  it("are at most MAX_GATHERED_REPLIES nodes, whatever number answers", async () => {
    const channel = floodedChannel(() => Array.from({ length: MAX_GATHERED_REPLIES + 500 }, (_, i) => Buffer.from(JSON.stringify({ [`node${i}@host`]: { ok: "pong" } }))));
    const replies = await broadcastAndGather(channel, "ping", {}, { timeoutMs: 10 });
    expect(replies.size).toBe(MAX_GATHERED_REPLIES);
    expect(replies.has("node0@host")).toBe(true);
  });

  it("hold at most MAX_GATHERED_REPLY_BYTES of replies: large ones past it are left out", async () => {
    const big = (i: number) => Buffer.from(JSON.stringify({ [`node${i}@host`]: { revoked: "x".repeat(3 * 1024 * 1024) } }));
    const count = Math.ceil(MAX_GATHERED_REPLY_BYTES / (3 * 1024 * 1024)) + 20;
    const channel = floodedChannel(() => Array.from({ length: count }, (_, i) => big(i)));
    const replies = await broadcastAndGather(channel, "hello", {}, { timeoutMs: 10 });
    expect(replies.size).toBeGreaterThan(0);
    expect(replies.size * 3 * 1024 * 1024).toBeLessThanOrEqual(MAX_GATHERED_REPLY_BYTES);
  });

  it("a reply naming many nodes counts each of them", async () => {
    const many = Object.fromEntries(Array.from({ length: MAX_GATHERED_REPLIES * 3 }, (_, i) => [`n${i}`, { ok: "pong" }]));
    const channel = floodedChannel(() => [Buffer.from(JSON.stringify(many))]);
    const replies = await broadcastAndGather(channel, "ping", {}, { timeoutMs: 10 });
    expect(replies.size).toBe(MAX_GATHERED_REPLIES);
  });
});
