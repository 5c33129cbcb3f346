/**
 * The requeue's copies in flight, on scripted channels: the broker's answers in any order and
 * combination (confirm, nack, return then confirm, a blocked connection), which a real broker
 * gives only when it likes. Against RabbitMQ: test/integration/ops-dlq*.test.ts.
 */
import { EventEmitter } from "node:events";
import type { Channel, ConfirmChannel, Message } from "amqplib";
import { describe, expect, it } from "vitest";
import { topologyNames } from "../../src/broker/topology-names.js";
import { loadConfig } from "../../src/config.js";
import type { RequeueMessage } from "../../src/ops/dead-letter-message.js";
import { RequeueWindow } from "../../src/ops/requeue-window.js";

const config = loadConfig({});
const names = topologyNames(config.topology, config.retry);

function copy(id: string, body = id): RequeueMessage {
  return { taskId: id, content: Buffer.from(body), options: { correlationId: id }, reencoded: true, droppedHeaders: [] };
}

function letter(tag: number): Message {
  return { content: Buffer.from(String(tag)), fields: { deliveryTag: tag }, properties: { headers: {} } } as unknown as Message;
}

/** A confirm channel whose confirms the test gives, and a channel that records acks. */
function scripted() {
  /** Per correlation id, the callbacks of its copies not answered yet (identical copies share one). */
  const callbacks = new Map<string, ((err: unknown) => void)[]>();
  const answer = (id: string, err: unknown) => {
    const waiting = callbacks.get(id) ?? [];
    callbacks.delete(id);
    for (const cb of waiting) cb(err);
  };
  const pub = Object.assign(new EventEmitter(), {
    publish: (_exchange: string, _key: string, content: Buffer, options: { correlationId?: string }, cb: (err: unknown) => void) => {
      const id = options.correlationId ?? content.toString();
      callbacks.set(id, [...(callbacks.get(id) ?? []), cb]);
      return true;
    },
  });
  const acked: number[] = [];
  let ackFails = false;
  const get = {
    ack: (m: Message) => {
      if (ackFails) throw new Error("Channel closed");
      acked.push(m.fields.deliveryTag);
    },
  };
  return {
    pub: pub as unknown as ConfirmChannel,
    get: get as unknown as Channel,
    acked,
    confirm: (id: string) => answer(id, null),
    nack: (id: string) => answer(id, new Error("message nacked")),
    fail: (id: string, reason: string) => answer(id, new Error(reason)),
    returnIt: (id: string) => pub.emit("return", { content: Buffer.from(id), properties: { correlationId: id } }),
    closeWithError: (reason: string) => pub.emit("error", new Error(reason)),
    failAcks: () => (ackFails = true),
  };
}

describe("RequeueWindow", () => {
  it("acks each letter as its copy is confirmed, in the broker's order, and makes room as it goes", async () => {
    const s = scripted();
    const requeued: string[] = [];
    const w = new RequeueWindow(s.pub, s.get, names, (out) => requeued.push(out.taskId ?? "?"), new Promise(() => undefined), 60_000);
    w.send(letter(1), copy("a"));
    w.send(letter(2), copy("b"));
    w.send(letter(3), copy("c"));
    expect(w.size).toBe(3);
    const room = w.below(3);
    s.confirm("b");
    expect(await room).toBeUndefined();
    expect(w.size).toBe(2);
    s.confirm("a");
    s.confirm("c");
    expect(await w.below(1)).toBeUndefined();
    expect(s.acked).toEqual([2, 1, 3]);
    expect(requeued).toEqual(["b", "a", "c"]);
    expect(w.failure).toBeUndefined();
  });

  it("a nacked or returned copy leaves its letter unacked and names the first failure; the others still settle", async () => {
    const s = scripted();
    const w = new RequeueWindow(s.pub, s.get, names, () => undefined, new Promise(() => undefined), 60_000);
    for (const [tag, id] of [[1, "a"], [2, "b"], [3, "c"]] as const) w.send(letter(tag), copy(id));
    s.returnIt("a");
    s.confirm("a"); // the return came first: not routed, not acked
    s.nack("b");
    s.confirm("c");
    expect(await w.below(1)).toBeUndefined();
    expect(s.acked).toEqual([3]);
    expect(w.failure).toBe(`the work exchange ${names.exchange} did not route key ${names.routingKey} to any queue`);
  });

  it("an ack that cannot be sent is a failure, not a letter counted as requeued", async () => {
    const s = scripted();
    const requeued: string[] = [];
    const w = new RequeueWindow(s.pub, s.get, names, (out) => requeued.push(out.taskId ?? "?"), new Promise(() => undefined), 60_000);
    w.send(letter(1), copy("a"));
    s.failAcks();
    s.confirm("a");
    expect(await w.below(1)).toBeUndefined();
    expect(requeued).toEqual([]);
    expect(w.failure).toBe("the dead letter could not be acked: Channel closed");
  });

  it("waiting for room ends with the reason when the publishing connection is blocked too long", async () => {
    const s = scripted();
    let block: (reason: string) => void = () => undefined;
    const w = new RequeueWindow(s.pub, s.get, names, () => undefined, new Promise((resolve) => (block = resolve)), 60_000);
    w.send(letter(1), copy("a"));
    const room = w.below(1);
    block("low on memory");
    expect(await room).toEqual({ blocked: "low on memory" });
    expect(s.acked).toEqual([]);
    expect(w.stalled).toBe(true);
    // Nothing left to wait for: a block no longer stops anything (a run whose copies all settled is done).
    expect(w.stop()).toBe(1);
    s.confirm("a");
    expect(await w.below(1)).toBeUndefined();
  });

  it("a return counts for every identical copy (a task dead-lettered twice): none of their letters is acked, so none is lost", async () => {
    const s = scripted();
    const w = new RequeueWindow(s.pub, s.get, names, () => undefined, new Promise(() => undefined), 60_000);
    w.send(letter(1), copy("a"));
    w.send(letter(2), copy("a"));
    s.returnIt("a"); // routed or returned: which of the two cannot be told
    s.confirm("a");
    expect(await w.below(1)).toBeUndefined();
    expect(s.acked).toEqual([]);
    expect(w.failure).toMatch(/did not route/);
  });

  it("copies the broker stays silent about stop the wait after the confirm timeout; the reader is told no room is coming", async () => {
    const s = scripted();
    let now = 0;
    const w = new RequeueWindow(s.pub, s.get, names, () => undefined, new Promise(() => undefined), 50, () => false, () => now);
    w.send(letter(1), copy("a"));
    expect(w.stalled).toBe(false);
    const room = w.below(1);
    now = 60;
    expect(await room).toEqual({ silentMs: 60 });
    expect(w.stalled).toBe(true);
  });

  it("counts the copies whose fate is unknown (channel gone, ack refused), not the nacked ones", async () => {
    const s = scripted();
    const w = new RequeueWindow(s.pub, s.get, names, () => undefined, new Promise(() => undefined), 60_000);
    w.send(letter(1), copy("a"));
    w.send(letter(2), copy("b"));
    w.send(letter(3), copy("c"));
    s.nack("a");
    s.fail("b", "channel closed");
    s.failAcks();
    s.confirm("c");
    expect(await w.below(1)).toBeUndefined();
    expect(w.maybeOut).toBe(2);
  });

  it("after stop() no letter is acked: a count already said stays true; it tells how many copies were in flight", async () => {
    const s = scripted();
    const w = new RequeueWindow(s.pub, s.get, names, () => undefined, new Promise(() => undefined), 60_000);
    w.send(letter(1), copy("a"));
    w.send(letter(2), copy("b"));
    s.confirm("a");
    expect(w.stop()).toBe(1);
    s.confirm("b");
    expect(await w.below(1)).toBeUndefined();
    expect(s.acked).toEqual([1]);
  });

  it("copies failed by the broker closing the channel carry its reason, not only amqplib's bare one", async () => {
    const s = scripted();
    const w = new RequeueWindow(s.pub, s.get, names, () => undefined, new Promise(() => undefined), 60_000);
    w.send(letter(1), copy("a"));
    s.closeWithError("Channel closed by server: 404 (NOT-FOUND) with message \"NOT_FOUND - no exchange 'matches' in vhost 'v'\"");
    s.nack("a");
    expect(await w.below(1)).toBeUndefined();
    expect(w.failure).toBe("message nacked (the broker closed the channel: Channel closed by server: 404 (NOT-FOUND) with message \"NOT_FOUND - no exchange 'matches' in vhost 'v'\")");
  });

  it("silence while the publishing connection is blocked is the block's: it ends with the block's reason, not as silence", async () => {
    const s = scripted();
    let now = 0;
    let block: (reason: string) => void = () => undefined;
    const w = new RequeueWindow(s.pub, s.get, names, () => undefined, new Promise((resolve) => (block = resolve)), 50, () => true, () => now);
    w.send(letter(1), copy("a"));
    now = 60;
    expect(w.stalled).toBe(false);
    const room = w.below(1);
    block("low on memory");
    expect(await room).toEqual({ blocked: "low on memory" });
  });
});
