import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import {
  delayQueueArguments,
  etaDelayQueueFor,
  jitteredRetryDelayMs,
  nominalRetryDelayMs,
  retryDelayQueueName,
  topologyNames,
  workQueueArguments,
  deadLetterQueueArguments,
} from "../../src/broker/topology.js";

const config = loadConfig({});

describe("topologyNames", () => {
  it("derives every default name from config", () => {
    const n = topologyNames(config.topology, config.retry);
    expect(n).toMatchObject({
      exchange: "matches",
      queue: "matches",
      routingKey: "matches.process",
      taskName: "celery_tasks.match_tasks.process_match_data",
      deadLetterExchange: "matches.dlx",
      deadLetterQueue: "matches.dead_letter",
      fanoutExchange: undefined,
    });
    expect(n.delayQueues).toEqual([
      { attempt: 1, name: "matches.retry.60000ms", delayMs: 60_000 },
      { attempt: 2, name: "matches.retry.120000ms", delayMs: 120_000 },
      { attempt: 3, name: "matches.retry.240000ms", delayMs: 240_000 },
    ]);
  });

  it("follows renamed exchange/queue and the fanout setting", () => {
    const c = loadConfig({ MATCHES_EXCHANGE: "x", MATCHES_QUEUE: "q", FANOUT_EXCHANGE: "matches-fanout", RETRY_MAX: "0" });
    const n = topologyNames(c.topology, c.retry);
    expect(n).toMatchObject({ exchange: "x", queue: "q", deadLetterExchange: "q.dlx", deadLetterQueue: "q.dead_letter", fanoutExchange: "matches-fanout", delayQueues: [] });
    expect(() => retryDelayQueueName(n, 1)).toThrow(/RETRY_MAX/);
  });

  it("binds the dead-letter queue with the work queue's name, not the work routing key", () => {
    const c = loadConfig({ MATCHES_QUEUE: "q", MATCHES_ROUTING_KEY: "q.custom" });
    const n = topologyNames(c.topology, c.retry);
    expect(n.routingKey).toBe("q.custom");
    expect(n.deadLetterRoutingKey).toBe("q");
    expect(topologyNames(config.topology, config.retry).deadLetterRoutingKey).toBe("matches");
  });

  it("names one eta delay queue per tier, whatever RETRY_MAX is", () => {
    const none = loadConfig({ MATCHES_QUEUE: "q", RETRY_MAX: "0" });
    for (const n of [topologyNames(config.topology, config.retry), topologyNames(none.topology, none.retry)]) {
      expect(n.etaDelayQueues.map((q) => q.delayMs)).toEqual([1, 4, 16, 64, 256, 1024, 4096, 16_384, 65_536, 262_144].map((s) => s * 1000));
      for (const q of n.etaDelayQueues) expect(q.name).toBe(`${n.queue}.eta.${q.delayMs}ms`);
    }
    const n = topologyNames(config.topology, config.retry);
    expect(etaDelayQueueFor(n, 4000)).toBe("matches.eta.4000ms");
    expect(() => etaDelayQueueFor(n, 5000)).toThrow(/no eta delay queue of 5000 ms/);
  });
});

describe("retry delays", () => {
  const retry = { max: 6, baseDelayMs: 1000, maxDelayMs: 10_000 };

  it("doubles from the base and caps at the maximum", () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => nominalRetryDelayMs(retry, n))).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000]);
    expect(() => nominalRetryDelayMs(retry, 0)).toThrow();
  });

  it("shares a queue between attempts with the same capped delay, and clamps past the last", () => {
    const n = topologyNames(config.topology, retry);
    expect(retryDelayQueueName(n, 1)).toBe("matches.retry.1000ms");
    expect(retryDelayQueueName(n, 5)).toBe("matches.retry.10000ms");
    expect(retryDelayQueueName(n, 6)).toBe("matches.retry.10000ms");
    expect(retryDelayQueueName(n, 60)).toBe("matches.retry.10000ms");
  });

  it("refuses an attempt that is not a whole number >= 1", () => {
    expect(() => nominalRetryDelayMs(retry, 1.5)).toThrow(RangeError);
    expect(() => nominalRetryDelayMs(retry, Number.NaN)).toThrow(RangeError);
  });

  it("sends an attempt below 1 to the first delay queue", () => {
    const n = topologyNames(config.topology, retry);
    expect(retryDelayQueueName(n, 0)).toBe("matches.retry.1000ms");
    expect(retryDelayQueueName(n, -3)).toBe("matches.retry.1000ms");
  });

  it("jitters an attempt past RETRY_MAX on the last queue's delay, and one with RETRY_MAX=0 on the base delay", () => {
    const three = { max: 3, baseDelayMs: 1000, maxDelayMs: 100_000 };
    expect(jitteredRetryDelayMs(three, 5, () => 0.999999)).toBe(4000);
    expect(jitteredRetryDelayMs(three, 5, () => 0)).toBe(3000);
    expect(jitteredRetryDelayMs({ ...three, max: 0 }, 1, () => 0)).toBe(750);
  });

  it("never jitters below 0.75 d: the low end is rounded up", () => {
    const odd = { max: 1, baseDelayMs: 1001, maxDelayMs: 10_000 };
    expect(jitteredRetryDelayMs(odd, 1, () => 0)).toBe(751);
    expect(jitteredRetryDelayMs(odd, 1, () => 0.999999)).toBe(1001);
  });

  it("jitters within [0.75 d, d], never above the queue TTL", () => {
    expect(jitteredRetryDelayMs(retry, 2, () => 0)).toBe(1500);
    expect(jitteredRetryDelayMs(retry, 2, () => 0.999999)).toBe(2000);
    for (let i = 0; i < 200; i++) {
      const d = jitteredRetryDelayMs(retry, 3);
      expect(d).toBeGreaterThanOrEqual(3000);
      expect(d).toBeLessThanOrEqual(4000);
    }
  });
});

describe("queue arguments", () => {
  const n = topologyNames(config.topology, config.retry);
  it("declares the classic work queue with no arguments at all (identical to Celery's)", () => {
    expect(workQueueArguments("classic")).toEqual({});
    expect(deadLetterQueueArguments("classic")).toEqual({});
  });
  it("marks every queue quorum in quorum mode", () => {
    expect(workQueueArguments("quorum")).toEqual({ "x-queue-type": "quorum" });
    expect(deadLetterQueueArguments("quorum")).toEqual({ "x-queue-type": "quorum" });
    expect(delayQueueArguments(n, n.delayQueues[0]!, "quorum")["x-queue-type"]).toBe("quorum");
    expect(delayQueueArguments(n, n.etaDelayQueues[0]!, "quorum")["x-queue-type"]).toBe("quorum");
  });
  it("gives eta delay queues their tier as queue TTL, dead-lettering back like the retry queues", () => {
    expect(delayQueueArguments(n, n.etaDelayQueues[2]!, "classic")).toEqual({
      "x-message-ttl": 16_000,
      "x-dead-letter-exchange": "matches",
      "x-dead-letter-routing-key": "matches.process",
    });
  });
  it("dead-letters delay queues back to the work exchange with the work routing key", () => {
    expect(delayQueueArguments(n, n.delayQueues[1]!, "classic")).toEqual({
      "x-message-ttl": 120_000,
      "x-dead-letter-exchange": "matches",
      "x-dead-letter-routing-key": "matches.process",
    });
  });
});
