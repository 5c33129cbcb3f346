/**
 * Declaring the topology on a real RabbitMQ: in both orders with a Celery-style declare, over a
 * queue that exists with other arguments (quorum vs classic), and the delay and fanout paths.
 */
import { connect, type Channel, type ChannelModel, type GetMessage } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { declareTopology, topologyNames } from "../../src/broker/topology.js";
import { loadConfig } from "../../src/config.js";
import { silentLogger } from "../../src/log.js";
import { createVhost, type TestVhost } from "../helpers/rabbit.js";

const config = loadConfig({ RETRY_BASE_DELAY: "60s", FANOUT_EXCHANGE: "matches-fanout" });
const names = topologyNames(config.topology, config.retry);

let vhost: TestVhost;
let model: ChannelModel;

beforeAll(async () => {
  vhost = await createVhost("topo");
  model = await connect(vhost.url);
});

afterAll(async () => {
  await model?.close().catch(() => undefined);
  await vhost?.drop();
});

/** What kombu does for `Queue("matches", Exchange("matches", "direct"), "matches.process")`. */
async function celeryStyleDeclare(ch: Channel): Promise<void> {
  await ch.assertExchange("matches", "direct", { durable: true, autoDelete: false });
  await ch.assertQueue("matches", { durable: true, exclusive: false, autoDelete: false });
  await ch.bindQueue("matches", "matches", "matches.process");
}

/** Polls basic.get until a message comes (the broker moves it asynchronously). */
async function getWithin(ch: Channel, queue: string, attempts = 200): Promise<GetMessage> {
  for (let i = 0; i < attempts; i++) {
    const msg = await ch.get(queue, { noAck: true });
    if (msg) return msg;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`no message arrived in ${queue}`);
}

describe("declareTopology on RabbitMQ", () => {
  it("matchflow first, then a Celery-style declare: no channel error", async () => {
    const report = await declareTopology(model, names, { queueType: "classic", log: silentLogger });
    expect(report.warnings).toEqual([]);
    const ch = await model.createChannel();
    await celeryStyleDeclare(ch);
    await ch.close();
    expect((await vhost.queue("matches"))?.arguments).toEqual({});
    expect((await vhost.queue("matches.retry.60000ms"))?.arguments).toEqual({
      "x-message-ttl": 60000,
      "x-dead-letter-exchange": "matches",
      "x-dead-letter-routing-key": "matches.process",
    });
    expect(await vhost.queue("matches.dead_letter")).toBeDefined();
    // The eta delay queues: a queue TTL per tier, the same way back to the work queue.
    for (const eta of names.etaDelayQueues) {
      expect((await vhost.queue(eta.name))?.arguments, eta.name).toEqual({
        "x-message-ttl": eta.delayMs,
        "x-dead-letter-exchange": "matches",
        "x-dead-letter-routing-key": "matches.process",
      });
    }
  });

  it("declares the eta delay queues with RETRY_MAX=0 too (no retry queue)", async () => {
    const other = await createVhost("topo0");
    const m = await connect(other.url);
    try {
      const none = loadConfig({ RETRY_MAX: "0" });
      const n = topologyNames(none.topology, none.retry);
      expect((await declareTopology(m, n, { queueType: "classic", log: silentLogger })).warnings).toEqual([]);
      expect(await other.queue("matches.retry.60000ms")).toBeUndefined();
      expect(n.etaDelayQueues).toHaveLength(10);
      for (const eta of n.etaDelayQueues) expect((await other.queue(eta.name))?.arguments["x-message-ttl"], eta.name).toBe(eta.delayMs);
    } finally {
      await m.close();
      await other.drop();
    }
  });

  it("Celery first, then matchflow (twice): no warnings, idempotent", async () => {
    const other = await createVhost("topo2");
    const m = await connect(other.url);
    try {
      const ch = await m.createChannel();
      await celeryStyleDeclare(ch);
      await ch.close();
      expect((await declareTopology(m, names, { queueType: "classic", log: silentLogger })).warnings).toEqual([]);
      expect((await declareTopology(m, names, { queueType: "classic", log: silentLogger })).warnings).toEqual([]);
    } finally {
      await m.close();
      await other.drop();
    }
  });

  it("quorum over an existing classic queue warns which argument differs instead of failing", async () => {
    const warnings: string[] = [];
    const log = { ...silentLogger, warn: (_o: unknown, msg: string) => void warnings.push(msg), debug: () => undefined } as unknown as typeof silentLogger;
    const report = await declareTopology(model, names, { queueType: "quorum", log });
    expect(report.warnings.length).toBeGreaterThanOrEqual(1);
    expect(report.warnings[0]).toMatch(/queue "matches" already exists .*x-queue-type/);
    expect(warnings).toEqual(report.warnings);
    // Declared again in this process (run's worker after its publisher, a worker's reconnection):
    // the report says it again, the log does not (it said it three times a run).
    const again = await declareTopology(model, names, { queueType: "quorum", log });
    expect(again.warnings).toEqual(report.warnings);
    expect(warnings).toEqual(report.warnings);
    // The connection is still usable and the rest was declared (the binding exists: routing works).
    const ch = await model.createConfirmChannel();
    ch.publish("matches", "matches.process", Buffer.from("{}"));
    await ch.waitForConfirms();
    expect((await getWithin(ch, "matches")).content.toString()).toBe("{}");
    await ch.close();
  });

  it("a message in a delay queue comes back to the work queue when its TTL expires", async () => {
    const ch = await model.createConfirmChannel();
    ch.publish("", "matches.retry.60000ms", Buffer.from('"retry me"'), { expiration: "20", persistent: true });
    await ch.waitForConfirms();
    const back = await getWithin(ch, "matches");
    expect(back.content.toString()).toBe('"retry me"');
    expect(back.fields.routingKey).toBe("matches.process");
    await ch.close();
  });

  it("the fanout exchange (the original producer's route) delivers to the work queue", async () => {
    const ch = await model.createConfirmChannel();
    ch.publish("matches-fanout", "", Buffer.from('"via fanout"'));
    await ch.waitForConfirms();
    expect((await getWithin(ch, "matches")).content.toString()).toBe('"via fanout"');
    await ch.close();
  });

  it("the dead-letter exchange delivers whatever the routing key", async () => {
    const ch = await model.createConfirmChannel();
    ch.publish("matches.dlx", "anything", Buffer.from('"dead"'));
    await ch.waitForConfirms();
    expect((await getWithin(ch, "matches.dead_letter")).content.toString()).toBe('"dead"');
    await ch.close();
  });

  it("work queues sharing an exchange (one per league) keep their dead letters apart", async () => {
    const league = (queue: string) => topologyNames({ ...config.topology, queue, routingKey: `${queue}.process`, fanoutExchange: undefined }, config.retry);
    const [a, b] = [league("matches.homegrown"), league("matches.academy")];
    for (const n of [a, b]) expect((await declareTopology(model, n, { queueType: "classic", log: silentLogger })).warnings).toEqual([]);
    expect(a.exchange).toBe(b.exchange);
    const ch = await model.createConfirmChannel();
    ch.publish(a.exchange, a.routingKey, Buffer.from('"homegrown work"'));
    ch.publish(a.deadLetterExchange, a.deadLetterRoutingKey, Buffer.from('"homegrown dead"'));
    ch.publish(b.deadLetterExchange, b.deadLetterRoutingKey, Buffer.from('"academy dead"'));
    await ch.waitForConfirms();
    expect((await getWithin(ch, "matches.homegrown")).content.toString()).toBe('"homegrown work"');
    expect((await getWithin(ch, "matches.homegrown.dead_letter")).content.toString()).toBe('"homegrown dead"');
    expect((await getWithin(ch, "matches.academy.dead_letter")).content.toString()).toBe('"academy dead"');
    // Nothing crossed over: each queue got exactly its own one message.
    for (const q of ["matches.homegrown", "matches.academy", "matches.homegrown.dead_letter", "matches.academy.dead_letter"]) {
      expect(await ch.get(q, { noAck: true }), q).toBe(false);
    }
    await ch.close();
  });
});
