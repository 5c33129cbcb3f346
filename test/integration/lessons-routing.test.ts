/**
 * Lessons, "routing": the original's 1,900 messages sat for days in a queue nobody consumed. A
 * Celery producer that sends without `queue=` publishes to `celery`, which no matchflow worker
 * reads: `queue status` (with the management API, the only way to list a vhost's queues) names
 * that queue, on the real broker, while the configured queues look healthy.
 */
import { connect, type ChannelModel } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { declareTopology, topologyNames } from "../../src/broker/topology.js";
import { encodeTaskV2 } from "../../src/celery/codec.js";
import { loadConfig } from "../../src/config.js";
import { silentLogger } from "../../src/log.js";
import { queueStatus } from "../../src/ops/queue-status.js";
import { until } from "../helpers/cli.js";
import { makeMatch } from "../helpers/matches.js";
import { createVhost, type TestVhost } from "../helpers/rabbit.js";

const config = loadConfig({});
const names = topologyNames(config.topology, config.retry);
let vhost: TestVhost;
let amqp: ChannelModel;

beforeAll(async () => {
  vhost = await createVhost("lessonsrouting");
  amqp = await connect(vhost.url);
  await declareTopology(amqp, names, { queueType: "classic", log: silentLogger });
});

afterAll(async () => {
  await amqp?.close();
  await vhost?.drop();
});

describe("lessons: routing -- messages stranded in a queue of another name", () => {
  it("queue status warns about `celery` holding tasks with no consumer, not about the delay queues", async () => {
    const ch = await amqp.createConfirmChannel();
    await ch.assertQueue("celery", { durable: true });
    for (let i = 0; i < 3; i++) {
      const m = encodeTaskV2({ taskName: config.topology.taskName, taskId: `stranded-${i}`, args: [makeMatch("stranded", i)] });
      ch.sendToQueue("celery", m.content, m.properties);
    }
    await ch.waitForConfirms();
    await ch.close();
    await until(async () => (await vhost.queue("celery"))?.messages_ready === 3, 60_000, "the management sample of the celery queue");

    const report = await queueStatus({ names, amqpUrl: vhost.url, managementUrl: vhost.managementUrl, log: silentLogger });
    expect(report.source).toBe("management");
    expect(report.queues.find((q) => q.name === names.queue)).toMatchObject({ ready: 0 });
    expect(report.warnings).toEqual([expect.stringMatching(/^3 messages wait in queue "celery" with no consumer, and no matchflow worker of this configuration reads it \(they read matches\)/)]);
  });
});
