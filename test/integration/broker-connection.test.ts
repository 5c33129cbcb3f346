/** BrokerConnection and AmqpTaskSink on a real RabbitMQ: reconnect, unroutable, quorum declare. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BrokerConnection } from "../../src/broker/connection.js";
import { AmqpTaskSink } from "../../src/broker/task-sink.js";
import { declareTopology, topologyNames } from "../../src/broker/topology.js";
import { encodeTaskV2, type EncodedMessage } from "../../src/celery/codec.js";
import { loadConfig } from "../../src/config.js";
import { silentLogger } from "../../src/log.js";
import { createVhost, managementApi, type TestVhost } from "../helpers/rabbit.js";
import { waitFor } from "../interop/celery-process.js";

const config = loadConfig({});
const names = topologyNames(config.topology, config.retry);
let vhost: TestVhost;


async function killConnections(vhostName: string, connectionName: string): Promise<void> {
  let killed = false;
  await waitFor(`connection "${connectionName}" in the management API`, async () => {
    const res = await managementApi("GET", `/vhosts/${encodeURIComponent(vhostName)}/connections`);
    const conns = res.ok ? ((await res.json()) as { name: string; client_properties?: { connection_name?: string } }[]) : [];
    for (const c of conns.filter((c) => c.client_properties?.connection_name === connectionName)) {
      await managementApi("DELETE", `/connections/${encodeURIComponent(c.name)}`);
      killed = true;
    }
    return killed;
  });
}

beforeAll(async () => {
  vhost = await createVhost("conn");
});

afterAll(async () => {
  await vhost?.drop();
});

describe("BrokerConnection", () => {
  it("comes back after the broker closes it, emits ready again and opens channels", async () => {
    const conn = await BrokerConnection.open({ url: vhost.url, log: silentLogger, connectionName: "mf-reconnect-test", reconnect: { initialDelayMs: 50, maxDelayMs: 500 } });
    try {
      expect(conn.connectionGeneration).toBe(1);
      const disconnected = new Promise<void>((resolve) => conn.once("disconnected", () => resolve()));
      const ready = new Promise<number>((resolve) => conn.once("ready", (generation: number) => resolve(generation)));
      await killConnections(vhost.name, "mf-reconnect-test");
      await disconnected;
      expect(await ready).toBe(2);
      const ch = await conn.createChannel();
      await ch.checkExchange("amq.direct");
      await ch.close();
      expect(conn.isConnected).toBe(true);
    } finally {
      await conn.close();
      await conn.close();
    }
    expect(conn.isConnected).toBe(false);
    await expect(conn.createChannel()).rejects.toMatchObject({ code: "broker_closed" });
  });
});

describe("AmqpTaskSink", () => {
  it("fails a message that no queue takes with `unroutable` instead of losing it", async () => {
    const conn = await BrokerConnection.open({ url: vhost.url, log: silentLogger });
    const sink = new AmqpTaskSink(conn, { log: silentLogger, confirmWindow: 10 });
    try {
      await declareTopology(conn, names, { queueType: "classic", log: silentLogger });
      const msg = (id: string) => encodeTaskV2({ taskName: names.taskName, taskId: id, args: [] });
      await expect(sink.publish(names.exchange, "no.such.key", msg("lost-1"), { mandatory: true })).rejects.toMatchObject({ code: "unroutable", kind: "permanent" });
      // Without the flag the broker confirms and drops it (a reply to a client that has gone).
      await sink.publish(names.exchange, "no.such.key", msg("dropped-1"));
      await sink.publish(names.exchange, names.routingKey, msg("kept-1"), { mandatory: true });
      await waitFor("the routed message in the queue", async () => ((await vhost.queue(names.queue))?.messages ?? 0) === 1, { intervalMs: 200 });
    } finally {
      await sink.close();
      await conn.close();
    }
  });
});

describe("AmqpTaskSink returns", () => {
  it("fails the returned message itself: without a correlation id, or next to a routed one with the same id", async () => {
    const conn = await BrokerConnection.open({ url: vhost.url, log: silentLogger });
    const sink = new AmqpTaskSink(conn, { log: silentLogger, confirmWindow: 10 });
    try {
      await declareTopology(conn, names, { queueType: "classic", log: silentLogger });
      // A dead letter of a non-Celery message carries no correlation id at all.
      const anonymous = { content: Buffer.from("not a task"), properties: { contentType: "text/plain", deliveryMode: 2 } } as unknown as EncodedMessage;
      await expect(sink.publish(names.exchange, "no.such.key", anonymous, { mandatory: true })).rejects.toMatchObject({ code: "unroutable" });
      // The same task twice in flight (a redelivered duplicate), one copy unroutable.
      const same = encodeTaskV2({ taskName: names.taskName, taskId: "twice", args: [] });
      const [lost, kept] = await Promise.allSettled([
        sink.publish(names.exchange, "no.such.key", same, { mandatory: true }),
        sink.publish(names.exchange, names.routingKey, same, { mandatory: true }),
      ]);
      expect(lost).toMatchObject({ status: "rejected", reason: { code: "unroutable" } });
      expect(kept).toMatchObject({ status: "fulfilled" });
    } finally {
      await sink.close();
      await conn.close();
    }
  });
});

describe("quorum mode", () => {
  it("declares quorum work, dead-letter and delay queues in a fresh vhost", async () => {
    const fresh = await createVhost("quorum");
    const conn = await BrokerConnection.open({ url: fresh.url, log: silentLogger });
    try {
      expect((await declareTopology(conn, names, { queueType: "quorum", log: silentLogger })).warnings).toEqual([]);
      for (const queue of [names.queue, names.deadLetterQueue, names.delayQueues[0]!.name]) {
        expect((await fresh.queue(queue))?.arguments["x-queue-type"], queue).toBe("quorum");
      }
    } finally {
      await conn.close();
      await fresh.drop();
    }
  });
});
