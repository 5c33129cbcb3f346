/**
 * A dlq command whose connection is cut while it reads the dead-letter queue (a broker restart, a
 * load balancer dropping its state): it failed with amqplib's bare "Channel closed", exit 70 (a
 * bug, by our exit codes). Now: `broker_connection_lost`, exit 4, naming the broker and the reason,
 * and every dead letter it held unacked is back in the queue. The cut is made through a TCP proxy,
 * at the 100th delivery the command receives, so it always falls in the middle of the scan.
 */
import { once } from "node:events";
import { connect, type Channel, type ChannelModel } from "amqplib";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BrokerConnection } from "../../src/broker/connection.js";
import { declareTopology, topologyNames } from "../../src/broker/topology.js";
import { encodeTaskV2 } from "../../src/celery/codec.js";
import { EXIT, exitCodeFor } from "../../src/cli/exit-codes.js";
import { loadConfig } from "../../src/config.js";
import { TransientError } from "../../src/errors.js";
import { silentLogger } from "../../src/log.js";
import { confirmAcks, withBroker, type ChannelSource } from "../../src/ops/broker-session.js";
import { listDeadLetters, showDeadLetter } from "../../src/ops/dead-letters.js";
import { requeueDeadLetters } from "../../src/ops/dead-letter-requeue.js";
import { until } from "../helpers/cli.js";
import { publishDeadLetter } from "../helpers/dead-letters.js";
import { makeMatch } from "../helpers/matches.js";
import { createVhost, messageCount, type TestVhost } from "../helpers/rabbit.js";
import { proxyFor, viaProxy, type TcpProxy } from "../helpers/tcp-proxy.js";

const config = loadConfig({});
const names = topologyNames(config.topology, config.retry);
const MAX = config.maxMessageBytes;
const N = 1000;
let vhost: TestVhost;
let amqp: ChannelModel;
let proxy: TcpProxy;

beforeAll(async () => {
  vhost = await createVhost("opslost");
  amqp = await connect(vhost.url);
  await declareTopology(amqp, names, { queueType: "classic", log: silentLogger });
  const ch = await amqp.createConfirmChannel();
  const outage = new TransientError("db_lock_timeout", "canceling statement due to lock timeout");
  for (let i = 0; i < N; i++) {
    publishDeadLetter(ch, names, encodeTaskV2({ taskName: config.topology.taskName, taskId: `lost-${i}`, args: [makeMatch("lost", i)] }), outage);
  }
  await ch.waitForConfirms();
  await ch.close();
  proxy = await proxyFor(vhost.url);
});

afterAll(async () => {
  await proxy?.close();
  await amqp?.close();
  await vhost?.drop();
});

const ready = (queue: string): Promise<number> => messageCount(amqp, queue);

/** `conn`, whose channels cut the network (every connection through the proxy) at their `at`th delivery. */
function severedAt(conn: BrokerConnection, at: number): ChannelSource {
  let delivered = 0;
  const cutting = (ch: Channel): Channel => {
    const consume = ch.consume.bind(ch);
    ch.consume = (queue, onMessage, options) =>
      consume(
        queue,
        (msg) => {
          if (msg !== null && ++delivered === at) proxy.sever();
          onMessage(msg);
        },
        options,
      );
    return ch;
  };
  return {
    createChannel: async () => cutting(await conn.createChannel()),
    createConfirmChannel: () => conn.createConfirmChannel(),
    frameMax: conn.frameMax,
  };
}

describe("a dlq command whose connection is lost half way", () => {
  it.each<[string, (source: ChannelSource) => Promise<unknown>]>([
    ["dlq show", (source: ChannelSource) => showDeadLetter(source, names, `lost-${N - 1}`, { maxBytes: MAX })],
    ["dlq list", (source: ChannelSource) => listDeadLetters(source, names, { limit: N, maxBytes: MAX })],
    ["dlq requeue <id>", (source: ChannelSource) => requeueDeadLetters(source, names, { taskIds: [`lost-${N - 1}`] }, { maxBytes: MAX })],
  ])("%s fails with broker_connection_lost (exit 4), naming the broker and why, and leaves every dead letter in place", async (_, command) => {
    const logs: { level: number; msg: string }[] = [];
    const log = pino({ level: "info" }, { write: (line: string) => void logs.push(JSON.parse(line) as { level: number; msg: string }) });
    const failure = await withBroker(viaProxy(vhost.url, proxy), log, (conn) => command(severedAt(conn, 100))).then(
      (result) => ({ resolved: result }),
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(TransientError);
    const err = failure as TransientError;
    expect(err.code).toBe("broker_connection_lost");
    expect(exitCodeFor(err)).toBe(EXIT.broker);
    expect(err.message).toMatch(new RegExp(`the connection to RabbitMQ at 127\\.0\\.0\\.1:${proxy.port} vhost ${vhost.name} was lost: .+; run the command again`));
    // The broker takes back what the dead connection held unacked as soon as it sees it gone.
    await until(async () => (await ready(names.deadLetterQueue)) === N, 10_000, "every dead letter back");
    expect(await ready(names.queue)).toBe(0);
    // It said the connection was lost, not that it was reconnecting: it does not.
    const said = logs.map((l) => l.msg);
    expect(said).toContain("broker connection lost");
    expect(said.filter((m) => m.includes("reconnect"))).toEqual([]);
  });
});

describe("a connection that fails on loss (onLoss: fail, as withBroker opens it)", () => {
  it("refuses every later channel at once with broker_connection_lost instead of reconnecting", async () => {
    const conn = await BrokerConnection.open({ url: viaProxy(vhost.url, proxy), log: silentLogger, onLoss: "fail" });
    try {
      await (await conn.createChannel()).close();
      const lost = new Promise((resolve) => conn.once("disconnected", resolve));
      proxy.sever();
      await lost;
      const before = proxy.connections;
      const failure = await conn.createChannel().then(
        () => "a channel",
        (err: unknown) => err,
      );
      expect(failure).toBeInstanceOf(TransientError);
      expect((failure as TransientError).code).toBe("broker_connection_lost");
      expect((failure as TransientError).message).toMatch(new RegExp(`RabbitMQ at 127\\.0\\.0\\.1:${proxy.port} vhost ${vhost.name} was lost: `));
      expect(proxy.connections).toBe(before);
    } finally {
      await conn.close();
    }
  });

  it("withBroker passes that refusal on once, with its advice", async () => {
    const failure = await withBroker(viaProxy(vhost.url, proxy), silentLogger, async (conn) => {
      await (await conn.createChannel()).close();
      const lost = new Promise((resolve) => conn.once("disconnected", resolve));
      proxy.sever();
      await lost;
      return conn.createChannel();
    }).then(
      () => "a channel",
      (err: unknown) => err,
    );
    expect((failure as TransientError).code).toBe("broker_connection_lost");
    expect((failure as TransientError).message).toMatch(/^the connection to RabbitMQ at [^ ]+ vhost [^ ]+ was lost: [^()]+; run the command again$/);
  });
});

describe("a loss seen by both connections of `dlq requeue` (one withBroker in another, as dlq.ts runs it)", () => {
  it.each<[string, (ch: Channel) => Promise<never>, RegExp]>([
    [
      "the acks unconfirmed (confirmAcks, which already says what to do)",
      async (ch) => {
        await confirmAcks(ch, names.deadLetterQueue, "3 dead letter(s) were requeued");
        throw new Error("confirmAcks passed on a lost connection");
      },
      /^3 dead letter\(s\) were requeued, but the broker did not confirm it took their acks \(.+\): some may still be in matches\.dead_letter as well; list it before running the command again$/,
    ],
    [
      "a read failing with amqplib's bare error",
      () => Promise.reject(new Error("Channel closed")),
      /^Channel closed \(the connection to RabbitMQ at [^ ]+ vhost [^ ]+ was lost: [^()]+\); run the command again$/,
    ],
  ])("%s: says to run the command again once (it said it two or three times)", async (_, fail, expected) => {
    const url = viaProxy(vhost.url, proxy);
    const failure = await withBroker(url, silentLogger, (read) =>
      withBroker(
        url,
        silentLogger,
        async (copies) => {
          // Both connections see the loss before the command's own error reaches them.
          const lost = Promise.all([once(read, "disconnected"), once(copies, "disconnected")]);
          const ch = await read.createChannel();
          proxy.sever();
          await lost;
          return fail(ch);
        },
        "matchflow ops copies",
      ),
    ).then(
      () => "done",
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(TransientError);
    expect((failure as TransientError).code).toBe("broker_connection_lost");
    expect((failure as TransientError).message).toMatch(expected);
  });
});
