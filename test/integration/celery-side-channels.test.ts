/**
 * The worker's Celery side channels on a real broker. Events: `celeryev` declared as Celery does
 * (so a Celery monitor's own declaration agrees), events sent there, dropped while the connection
 * is lost instead of waited for, sent again on a new channel once the connection is back. Control:
 * the mailbox answers a ping, and again after a reconnect (its auto-delete queue declared anew).
 */
import { connect, type Channel, type ChannelModel, type ConsumeMessage } from "amqplib";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BrokerConnection } from "../../src/broker/connection.js";
import { CeleryControlChannel } from "../../src/broker/control-channel.js";
import { CeleryEventChannel } from "../../src/broker/event-channel.js";
import { CONTROL_EXCHANGE, CONTROL_REPLY_EXCHANGE, type WorkerFacts } from "../../src/celery/control.js";
import { CeleryEventBuilder, CELERY_EVENT_EXCHANGE } from "../../src/celery/events.js";
import { silentLogger } from "../../src/log.js";
import { until } from "../helpers/cli.js";
import { createVhost, type TestVhost } from "../helpers/rabbit.js";
import { proxyFor, viaProxy, type TcpProxy } from "../helpers/tcp-proxy.js";

let vhost: TestVhost;
let amqp: ChannelModel;
let watcher: Channel;
let proxy: TcpProxy;
const received: ConsumeMessage[] = [];
const builder = new CeleryEventBuilder({ hostname: "matchflow.1@test", pid: 1, now: Date.now, utcoffset: () => 0 }, { ident: "matchflow", version: "0.1.0", system: "Linux" });
const heartbeat = () => builder.worker("worker-heartbeat", { active: 0, processed: 0, loadavg: [0, 0, 0] });

beforeAll(async () => {
  vhost = await createVhost("evchan");
  amqp = await connect(vhost.url);
  proxy = await proxyFor(vhost.url);
});

afterAll(async () => {
  await proxy?.close();
  await amqp?.close();
  await vhost?.drop();
});

/** A monitor's queue, bound as Celery's Receiver binds it: declared after the channel declared the exchange. */
async function watch(): Promise<void> {
  watcher = await amqp.createChannel();
  // Celery's own declaration of the exchange: it fails (406) unless ours declared the same.
  await watcher.assertExchange(CELERY_EVENT_EXCHANGE, "topic", { durable: true, autoDelete: false });
  const { queue } = await watcher.assertQueue("", { exclusive: true });
  await watcher.bindQueue(queue, CELERY_EVENT_EXCHANGE, "#");
  await watcher.consume(queue, (m) => m && received.push(m), { noAck: true });
}

describe("CeleryEventChannel", () => {
  it("declares celeryev as Celery does and sends events with their routing key; drops while the connection is lost; sends again after the reconnect", async () => {
    const conn = await BrokerConnection.open({ url: viaProxy(vhost.url, proxy), log: silentLogger, reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
    const warnings: string[] = [];
    const events = new CeleryEventChannel(conn, pino({ level: "warn" }, { write: (line: string) => void warnings.push((JSON.parse(line) as { msg: string }).msg) }));
    try {
      await events.open();
      await watch();
      expect(events.send(heartbeat())).toBe(true);
      await until(() => received.length === 1, 5000, "the first event");
      expect(received[0]?.fields.routingKey).toBe("worker.heartbeat");
      expect(received[0]?.properties).toMatchObject({ contentType: "application/json", deliveryMode: 1, headers: { hostname: "matchflow.1@test" } });

      const lost = new Promise((resolve) => conn.once("disconnected", resolve));
      const back = new Promise((resolve) => conn.once("ready", resolve));
      proxy.sever();
      await lost;
      expect(events.send(heartbeat())).toBe(false);
      await back;
      await until(() => events.send(heartbeat()), 5000, "the channel open again");
      await until(() => received.length === 2, 5000, "an event after the reconnect");
      expect(JSON.parse(received[1]?.content.toString() ?? "{}")).toMatchObject({ type: "worker-heartbeat", hostname: "matchflow.1@test" });
      // The lost connection closed the channel, not the broker: the reconnect opened it again, and
      // nothing said "closed by the broker: opening it again" (it was said at every reconnect).
      expect(warnings).toEqual([]);
    } finally {
      await events.close();
      await conn.close();
    }
  });
});

/** A ping as kombu's Mailbox sends it; the replies that came to its reply queue within `ms`. */
async function ping(ms: number): Promise<unknown[]> {
  return (await pings(ms, [{ ticket: "t", expires: 0 }])).map((r) => r.body);
}

/** Pings sent in order (kombu's `expires` header: epoch seconds, 0 for none); the replies until the last one's, or `ms`. */
async function pings(ms: number, requests: { ticket: string; expires: number }[]): Promise<{ ticket: unknown; body: unknown }[]> {
  const ch = await amqp.createChannel();
  try {
    await ch.assertExchange(CONTROL_EXCHANGE, "fanout", { durable: false, autoDelete: false });
    await ch.assertExchange(CONTROL_REPLY_EXCHANGE, "direct", { durable: false, autoDelete: false });
    const { queue } = await ch.assertQueue("", { exclusive: true });
    await ch.bindQueue(queue, CONTROL_REPLY_EXCHANGE, "oid-test");
    const replies: { ticket: unknown; body: unknown }[] = [];
    await ch.consume(queue, (m) => m && replies.push({ ticket: m.properties.headers?.ticket, body: JSON.parse(m.content.toString()) }), { noAck: true });
    for (const { ticket, expires } of requests) {
      const request = { method: "ping", arguments: {}, destination: null, pattern: null, matcher: null, ticket, reply_to: { exchange: CONTROL_REPLY_EXCHANGE, routing_key: "oid-test" } };
      ch.publish(CONTROL_EXCHANGE, "", Buffer.from(JSON.stringify(request)), { contentType: "application/json", headers: { clock: 1, expires } });
    }
    const last = requests.at(-1)?.ticket;
    await until(() => replies.some((r) => r.ticket === last), ms, "a reply").catch(() => undefined);
    return replies;
  } finally {
    await ch.close();
  }
}

describe("CeleryControlChannel", () => {
  it("answers a ping on its mailbox, and again after the connection came back", async () => {
    const conn = await BrokerConnection.open({ url: viaProxy(vhost.url, proxy), log: silentLogger, reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
    const control = new CeleryControlChannel(conn, "matchflow.1@test", (clock) => ({ clock }) as WorkerFacts, silentLogger);
    try {
      await control.open();
      expect(await ping(5000)).toEqual([{ "matchflow.1@test": { ok: "pong" } }]);
      const back = new Promise((resolve) => conn.once("ready", resolve));
      proxy.sever();
      await back;
      await until(async () => (await ping(500)).length === 1, 10_000, "an answer after the reconnect");
    } finally {
      await control.close();
      await conn.close();
    }
  });

  it("drops a request whose kombu `expires` has passed, as a Celery worker does (the mailbox answers in order, so the late one's reply would come first)", async () => {
    const conn = await BrokerConnection.open({ url: vhost.url, log: silentLogger });
    const control = new CeleryControlChannel(conn, "matchflow.2@test", (clock) => ({ clock }) as WorkerFacts, silentLogger);
    try {
      await control.open();
      const now = Date.now() / 1000;
      const replies = await pings(5000, [{ ticket: "late", expires: now - 1 }, { ticket: "none", expires: 0 }, { ticket: "fresh", expires: now + 60 }]);
      expect(replies).toEqual([
        { ticket: "none", body: { "matchflow.2@test": { ok: "pong" } } },
        { ticket: "fresh", body: { "matchflow.2@test": { ok: "pong" } } },
      ]);
    } finally {
      await control.close();
      await conn.close();
    }
  });
});
