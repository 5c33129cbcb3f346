/**
 * `dlq requeue` of a dead letter whose headers would not fit the connection's frame_max: one left
 * by an older worker or broker setting (RabbitMQ's default frame_max is 131072; the deployment's
 * is 16384) carrying a 60 KiB foreign header. Sent as it is, the requeued message's content
 * header would exceed the frame and RabbitMQ would close the connection (501 FRAME_ERROR): the
 * dead letter could never be requeued. The command leaves the largest foreign header out, names
 * it on stderr and in `x-matchflow-dropped-headers`, and keeps the body and the task's headers.
 * The CLI negotiates the deployed frame_max through the URL (`?frameMax=`), as a connection to the
 * deployed broker would.
 */
import { connect, type ChannelModel } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MF_HEADERS } from "../../src/broker/headers.js";
import { declareTopology, topologyNames } from "../../src/broker/topology.js";
import { encodeTaskV2 } from "../../src/celery/codec.js";
import { loadConfig } from "../../src/config.js";
import { TransientError } from "../../src/errors.js";
import { silentLogger } from "../../src/log.js";
import { buildDeadLetter } from "../../src/worker/outgoing.js";
import { runCli } from "../helpers/cli.js";
import { contentHeaderFrameBytes } from "../helpers/large-headers.js";
import { makeMatch } from "../helpers/matches.js";
import { createVhost, type TestVhost } from "../helpers/rabbit.js";

const config = loadConfig({});
const names = topologyNames(config.topology, config.retry);
const DEPLOYED_FRAME_MAX = 16384;
let vhost: TestVhost;
let amqp: ChannelModel;

beforeAll(async () => {
  vhost = await createVhost("dlqbighdr");
  amqp = await connect(vhost.url);
  await declareTopology(amqp, names, { queueType: "classic", log: silentLogger });
});

afterAll(async () => {
  await amqp?.close();
  await vhost?.drop();
});

describe("dlq requeue with headers larger than the frame", () => {
  it("requeues a dead letter carrying a 60 KiB header over a connection with the deployed frame_max: the header left out and named, the task intact", async () => {
    const task = encodeTaskV2({ taskName: config.topology.taskName, taskId: "big-dl", args: [makeMatch("bigdl", 1)] });
    const withPad = { ...task, properties: { ...task.properties, headers: { ...task.properties.headers, "x-note": "kept", "x-pad": "p".repeat(60 * 1024) } } };
    const dl = buildDeadLetter(
      { content: withPad.content, properties: withPad.properties, exchange: names.exchange, routingKey: names.routingKey, redelivered: false, receivedAt: Date.now(), token: undefined },
      new TransientError("db_lock_timeout", "canceling statement due to lock timeout"),
      4,
      Date.now(),
    );
    expect(contentHeaderFrameBytes({ ...dl.properties, deliveryMode: 2 })).toBeGreaterThan(DEPLOYED_FRAME_MAX);
    const ch = await amqp.createConfirmChannel();
    ch.publish(names.deadLetterExchange, names.deadLetterRoutingKey, dl.content, { ...dl.properties, deliveryMode: 2 });
    await ch.waitForConfirms();
    await ch.close();

    const requeued = await runCli(["dlq", "requeue", "big-dl"], { RABBITMQ_URL: `${vhost.url}?frameMax=${DEPLOYED_FRAME_MAX}` });
    expect(requeued.code).toBe(0);
    expect(requeued.stdout).toBe("requeued 1 dead letter to exchange matches (routing key matches.process)\n");
    expect(requeued.stderr).toBe("big-dl: left out header(s) x-pad to fit the broker's frame_max (named in x-matchflow-dropped-headers)\n");

    const get = await amqp.createChannel();
    const work = await get.get(names.queue, { noAck: true });
    const rest = await get.checkQueue(names.deadLetterQueue);
    await get.close();
    expect(rest.messageCount).toBe(0);
    expect(work).not.toBe(false);
    if (!work) return;
    const headers = work.properties.headers as Record<string, unknown>;
    expect(headers).toMatchObject({ id: "big-dl", task: config.topology.taskName, retries: 0, "x-note": "kept", [MF_HEADERS.droppedHeaders]: "x-pad", [MF_HEADERS.requeuedFrom]: names.deadLetterQueue });
    expect(headers["x-pad"]).toBeUndefined();
    expect(headers[MF_HEADERS.errorCode]).toBeUndefined();
    expect(JSON.parse(work.content.toString("utf8"))).toEqual(JSON.parse(task.content.toString("utf8")));
    expect(contentHeaderFrameBytes({ ...work.properties, headers })).toBeLessThanOrEqual(DEPLOYED_FRAME_MAX);
  });
});
