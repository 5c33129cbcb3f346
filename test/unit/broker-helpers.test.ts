/**
 * Pure parts of the broker layer, and the task sink's window/republish logic driven by a
 * scripted stand-in channel (the real broker paths are in test/integration/broker-*.test.ts).
 */
import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { describeBroker, reconnectDelayMs, type BrokerConnection } from "../../src/broker/connection.js";
import { AmqpTaskSink } from "../../src/broker/task-sink.js";
import { UNROUTABLE_MAX_PAUSE_MS, unroutablePauseMs } from "../../src/broker/unroutable.js";
import { resumePauseMs } from "../../src/broker/work-consumer.js";
import { reopenPauseMs } from "../../src/broker/reopening-channel.js";
import { encodeTaskV2 } from "../../src/celery/codec.js";
import { silentLogger } from "../../src/log.js";

describe("describeBroker", () => {
  it("names host, port and vhost, never credentials", () => {
    expect(describeBroker("amqp://u:secret@rabbit.local:5673/prod")).toBe("rabbit.local:5673 vhost prod");
    expect(describeBroker("amqp://u:secret@rabbit.local")).toBe("rabbit.local:5672 vhost /");
    expect(describeBroker("amqps://u:secret@rabbit.local/%2Fweird")).toBe("rabbit.local:5671 vhost /weird");
  });
});

describe("reopenPauseMs", () => {
  it("a side channel closed by the broker is opened again after 1 s, 2 s, 4 s ... at most 30 s while it keeps closing", () => {
    expect([1, 2, 3, 4, 5, 6, 50].map(reopenPauseMs)).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
  });
});

describe("reconnectDelayMs", () => {
  const policy = { initialDelayMs: 100, maxDelayMs: 1000 };
  it("grows exponentially, caps, and jitters within 0.5x..1.5x", () => {
    expect(reconnectDelayMs(policy, 1, () => 0.5)).toBe(100);
    expect(reconnectDelayMs(policy, 3, () => 0.5)).toBe(400);
    expect(reconnectDelayMs(policy, 10, () => 0.5)).toBe(1000);
    expect(reconnectDelayMs(policy, 10, () => 0)).toBe(500);
    expect(reconnectDelayMs(policy, 10, () => 0.999)).toBeLessThanOrEqual(1500);
  });
});

describe("unroutablePauseMs", () => {
  it("tries at once after a successful re-declaration, then backs off to a cap", () => {
    expect(unroutablePauseMs(1, true)).toBe(0);
    expect(unroutablePauseMs(1, false)).toBe(1000);
    expect([2, 3, 4, 5].map((round) => unroutablePauseMs(round, true))).toEqual([1000, 2000, 4000, 8000]);
    expect(unroutablePauseMs(50, false)).toBe(UNROUTABLE_MAX_PAUSE_MS);
    expect(unroutablePauseMs(10_000, true)).toBe(UNROUTABLE_MAX_PAUSE_MS);
  });
});

describe("resumePauseMs", () => {
  it("backs off from 1 s to 15 s between failed tries to consume again (was: one try, then never again)", () => {
    expect([1, 2, 3, 4, 5].map(resumePauseMs)).toEqual([1000, 2000, 4000, 8000, 15_000]);
    expect(resumePauseMs(10_000)).toBe(15_000);
  });
});

type Confirm = (err: unknown) => void;

/** A confirm channel whose confirms the test gives by hand. */
class ScriptedChannel extends EventEmitter {
  readonly published: { taskId: string; confirm: Confirm }[] = [];
  publish(_exchange: string, _key: string, _content: Buffer, options: { correlationId?: string }, confirm: Confirm): boolean {
    this.published.push({ taskId: options.correlationId ?? "", confirm });
    return true;
  }
  async close(): Promise<void> {
    this.emit("close");
    return Promise.resolve();
  }
  /** What amqplib does when the channel dies: every outstanding confirm fails. */
  die(): void {
    for (const p of this.published) p.confirm(new Error("channel closed"));
    this.emit("close");
  }
}

function scriptedConnection(): { connection: BrokerConnection; channels: ScriptedChannel[] } {
  const channels: ScriptedChannel[] = [];
  const connection = {
    createConfirmChannel: () => {
      const ch = new ScriptedChannel();
      channels.push(ch);
      return Promise.resolve(ch);
    },
  } as unknown as BrokerConnection;
  return { connection, channels };
}

const msg = (id: string) => encodeTaskV2({ taskName: "t", taskId: id, args: [] });
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("AmqpTaskSink window and republish", () => {
  it("never has more than confirmWindow messages awaiting a confirm", async () => {
    const { connection, channels } = scriptedConnection();
    const sink = new AmqpTaskSink(connection, { confirmWindow: 3, log: silentLogger });
    const results = Array.from({ length: 7 }, (_, i) => sink.publish("x", "k", msg(`m${i}`)));
    await tick();
    const ch = channels[0]!;
    expect(ch.published.map((p) => p.taskId)).toEqual(["m0", "m1", "m2"]);
    ch.published[1]!.confirm(null);
    await tick();
    await tick();
    expect(ch.published).toHaveLength(4);
    expect(sink.outstanding).toBeLessThanOrEqual(3);
    for (let i = 0; i < 20 && ch.published.length < 7; i++) {
      for (const p of ch.published) p.confirm(null);
      await tick();
    }
    for (const p of ch.published) p.confirm(null);
    await Promise.all(results);
    expect(sink.outstanding).toBe(0);
    await sink.close();
  });

  it("republishes unconfirmed messages with the same task id on a new channel, then fails after maxAttempts", async () => {
    const { connection, channels } = scriptedConnection();
    const sink = new AmqpTaskSink(connection, { confirmWindow: 10, maxAttempts: 2, log: silentLogger });
    const a = sink.publish("x", "k", msg("a"));
    const b = sink.publish("x", "k", msg("b"));
    await tick();
    channels[0]!.die();
    await waitUntil(() => (channels[1]?.published.length ?? 0) === 2);
    expect(channels[1]!.published.map((p) => p.taskId).sort()).toEqual(["a", "b"]);
    channels[1]!.published.find((p) => p.taskId === "a")!.confirm(null);
    channels[1]!.published.find((p) => p.taskId === "b")!.confirm(new Error("message nacked"));
    await expect(a).resolves.toBeUndefined();
    await expect(b).rejects.toMatchObject({ code: "publish_failed", message: expect.stringMatching(/after 2 attempt/) as unknown });
    await sink.close();
    await expect(sink.publish("x", "k", msg("c"))).rejects.toMatchObject({ code: "publisher_closed" });
  });
});

async function waitUntil(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error("condition never held");
}
